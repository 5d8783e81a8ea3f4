import { randomUUID } from 'node:crypto'
import { MemoryBlobStore } from '@mailweave/core'
import type { BlobStore } from '@mailweave/core'
import * as Y from 'yjs'
import type { OpenedDoc, PeerHost, PeerLogLevel } from './PeerHost.ts'
import type { ChangeCursor } from './PeerProtocol.ts'

/** Options of a {@link MemoryPeerHost}. */
export interface MemoryPeerHostOptions {
  nodeId: string
  slot: number
  /** Defaults to a fresh {@link MemoryBlobStore}. */
  blobs?: BlobStore
  /** Also receives every log line (they are always kept in {@link MemoryPeerHost.logs}). */
  log?: (level: PeerLogLevel, msg: string, fields?: Record<string, unknown>) => void
}

/** One line logged through a {@link MemoryPeerHost}. */
export interface LogLine {
  level: PeerLogLevel
  msg: string
  fields: Record<string, unknown> | undefined
}

/**
 * An in-memory {@link PeerHost} for tests and demos: documents live in Y.Docs that are
 * never unloaded, the change counter counts every update of every document (whatever
 * its origin), resume points and blobs live in memory. Guarantees the PeerHost counter
 * contract: `changedSince` lists every document with an update after the cursor.
 */
export class MemoryPeerHost implements PeerHost {
  readonly nodeId: string
  readonly slot: number
  readonly blobs: BlobStore
  /** Every line logged by the link layer, in order. */
  readonly logs: LogLine[] = []
  private readonly docs = new Map<string, Y.Doc>()
  private readonly changedAt = new Map<string, number>()
  private readonly listeners = new Set<(docName: string, update: Uint8Array, origin: unknown) => void>()
  private readonly resume = new Map<string, ChangeCursor>()
  private readonly forward: MemoryPeerHostOptions['log']
  private epoch = randomUUID()
  private seq = 0
  private opens = 0

  constructor(options: MemoryPeerHostOptions) {
    this.nodeId = options.nodeId
    this.slot = options.slot
    this.blobs = options.blobs ?? new MemoryBlobStore()
    this.forward = options.log
  }

  /** The document `name`, created empty when absent (synchronous, for tests). */
  doc(name: string): Y.Doc {
    let doc = this.docs.get(name)
    if (doc === undefined) {
      doc = new Y.Doc()
      this.docs.set(name, doc)
      doc.on('update', (update: Uint8Array, origin: unknown) => {
        this.changedAt.set(name, ++this.seq)
        for (const fn of [...this.listeners]) fn(name, update, origin)
      })
    }
    return doc
  }

  /** Whether `name` exists here. */
  hasDoc(name: string): boolean {
    return this.docs.has(name)
  }

  /** Documents currently opened through {@link openDoc} and not released. */
  get openCount(): number {
    return this.opens
  }

  async openDoc(name: string): Promise<OpenedDoc> {
    const doc = this.doc(name)
    this.opens++
    let released = false
    return {
      doc,
      release: () => {
        if (!released) this.opens--
        released = true
      },
    }
  }

  changeCursor(): ChangeCursor {
    return { epoch: this.epoch, seq: this.seq }
  }

  async changedSince(cursor: ChangeCursor): Promise<string[] | undefined> {
    if (cursor.epoch !== this.epoch || cursor.seq > this.seq) return undefined
    return [...this.changedAt].filter(([, seq]) => seq > cursor.seq).map(([name]) => name)
  }

  async *allDocs(): AsyncIterable<string> {
    yield* [...this.docs.keys()]
  }

  onUpdate(fn: (docName: string, update: Uint8Array, origin: unknown) => void): () => void {
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }

  async loadResume(peerId: string): Promise<ChangeCursor | undefined> {
    return this.resumeOf(peerId)
  }

  async saveResume(peerId: string, cursor: ChangeCursor): Promise<void> {
    this.resume.set(peerId, { ...cursor })
  }

  /** The saved resume point for `peerId` (synchronous, for tests). */
  resumeOf(peerId: string): ChangeCursor | undefined {
    const cursor = this.resume.get(peerId)
    return cursor === undefined ? undefined : { ...cursor }
  }

  /** Starts a new counter epoch, as after a restore from backup: every earlier cursor becomes unknown. */
  newEpoch(): void {
    this.epoch = randomUUID()
    this.seq = 0
    this.changedAt.clear()
  }

  log(level: PeerLogLevel, msg: string, fields?: Record<string, unknown>): void {
    this.logs.push({ level, msg, fields })
    this.forward?.(level, msg, fields)
  }
}
