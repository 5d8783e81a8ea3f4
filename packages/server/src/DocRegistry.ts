import { randomBytes } from 'node:crypto'
import * as Y from 'yjs'
import { nodeClientId, type UpdateStore } from '@mailweave/core'
import type { Logger } from './Logger.ts'
import { NodeError } from './NodeError.ts'

/** Transaction origin of updates replayed from disk (never persisted again). */
export const FROM_DISK = Symbol('from-disk')

/** An open document; the registry keeps it loaded until every handle is released. */
export interface DocHandle {
  readonly name: string
  readonly doc: Y.Doc
  release(): void
}

/** A position in this node's change counter (see network-peer's ChangeCursor). */
export interface ChangeCursor {
  epoch: string
  seq: number
}

interface Entry {
  name: string
  doc: Y.Doc
  refs: number
  loaded: Promise<void>
  pending: Set<Promise<void>>
  failed: unknown
  records: number
  idle: NodeJS.Timeout | undefined
  /** The newest append: the store runs a document's appends in call order, so it settles last. */
  last: Promise<void> | undefined
  /** Updates waiting for their fsync before listeners (peers, edges) may see them, in order. */
  outbox: { update: Uint8Array; origin: unknown; durable: boolean }[]
  /** Unsettled `hold`s: an update made now is durable only once they settle too. */
  holds: Set<Promise<unknown>>
  /** Updates whose append failed and is being retried: the document stays loaded meanwhile. */
  retrying: Set<Promise<void>>
  /** Encoded bytes of the document's stored records (what it was loaded from, plus updates since). */
  bytes: number
}

/** Options of {@link DocRegistry}. */
export interface DocRegistryOptions {
  log: Logger
  /** Unload a document this long after its last handle is released. */
  idleMs?: number
  /** Compact a document's log once it holds this many records. */
  compactAfter?: number
  /**
   * Budget, in estimated heap bytes ({@link docHeapEstimate}), of the loaded documents: past
   * it the least recently released ones are unloaded at once instead of after `idleMs`.
   * Documents in use are never unloaded. Default: no budget (idle unloading only).
   */
  budgetBytes?: number
}

/** Heap of a loaded document per byte of its encoded size (measured on mailbox documents). */
export const HEAP_PER_ENCODED_BYTE = 3.5
/**
 * Heap a loaded document costs whatever its size: the Y.Doc, the registry's entry and what
 * its owner builds on it (measured with bench/accounts.ts: ~4 KiB for an account document,
 * ~11 KiB for a mailbox document with one message and its core Mailbox).
 */
export const DOC_HEAP_BYTES = 8 * 1024

/**
 * The heap a loaded document of `encodedBytes` is counted at against the budget. Counting
 * encoded bytes alone let 100,000 small accounts (a few hundred bytes each, ~15 KiB of heap)
 * stay loaded under a budget meant for a fraction of them.
 */
export function docHeapEstimate(encodedBytes: number): number {
  return Math.round(encodedBytes * HEAP_PER_ENCODED_BYTE) + DOC_HEAP_BYTES
}

/**
 * Owns every Y.Doc of the node: loads lazily from the update store, persists every update
 * (registered before the first await, so none is missed) and reports it to listeners
 * only once it is durable, unloads idle documents (and, past a byte budget, the least
 * recently used ones at once) so memory follows the active mailboxes, and compacts long logs. `flush` resolves once
 * every update made so far to a document is durable (fsynced): the node calls it before
 * acknowledging an APPEND or answering an exposure.
 */
export class DocRegistry {
  private readonly docs = new Map<string, Entry>()
  private readonly known = new Set<string>()
  private readonly listeners = new Set<(name: string, update: Uint8Array, origin: unknown) => void>()
  private readonly unloadListeners = new Set<(name: string) => void>()
  private readonly changes = new Map<string, number>()
  private seq = 0
  readonly epoch = randomBytes(8).toString('hex')
  private readonly idleMs: number
  private readonly compactAfter: number
  private closed = false
  /** Loaded documents without a handle, least recently released first. */
  private readonly released = new Set<Entry>()
  /** Encoded bytes of the loaded documents. */
  private bytes = 0
  private evicted = 0

  private constructor(
    private readonly store: UpdateStore,
    private readonly options: DocRegistryOptions,
  ) {
    this.idleMs = options.idleMs ?? 60_000
    this.compactAfter = options.compactAfter ?? 1000
  }

  /** A registry over `store`, knowing the documents already stored. */
  static async create(store: UpdateStore, options: DocRegistryOptions): Promise<DocRegistry> {
    const r = new DocRegistry(store, options)
    for (const name of await store.list()) r.known.add(name)
    return r
  }

  /** Opens (loading if needed) a document. */
  async open(name: string): Promise<DocHandle> {
    if (this.closed) throw new NodeError('UNAVAILABLE', 'node is shutting down')
    let e = this.docs.get(name)
    if (e === undefined) {
      const entry: Entry = {
        name,
        doc: nodeDoc(),
        refs: 0,
        loaded: Promise.resolve(),
        pending: new Set(),
        failed: undefined,
        records: 0,
        idle: undefined,
        outbox: [],
        last: undefined,
        holds: new Set(),
        retrying: new Set(),
        bytes: 0,
      }
      e = entry
      this.docs.set(name, entry)
      this.known.add(name)
      entry.doc.on('update', (update: Uint8Array, origin: unknown) => {
        if (origin === FROM_DISK) return
        this.persist(entry, update, origin)
      })
      entry.loaded = this.load(entry).catch((err: unknown) => {
        this.docs.delete(name)
        entry.doc.destroy()
        throw err
      })
    }
    e.refs++
    this.released.delete(e)
    if (e.idle !== undefined) {
      clearTimeout(e.idle)
      e.idle = undefined
    }
    try {
      await e.loaded
    } catch (err) {
      e.refs--
      throw err
    }
    const entry = e
    let released = false
    return {
      name,
      doc: entry.doc,
      release: () => {
        if (released) return
        released = true
        if (--entry.refs === 0 && !this.closed) {
          entry.idle = setTimeout(() => void this.unload(entry), this.idleMs)
          entry.idle.unref()
          this.released.add(entry)
          this.enforceBudget()
        }
      },
    }
  }

  private async load(e: Entry): Promise<void> {
    const records = await this.store.load(e.name)
    e.records = records.length
    for (const r of records) e.bytes += r.length
    this.bytes += e.bytes
    if (records.length === 0) return
    // one transaction, record by record: measured 2-3x faster than Y.mergeUpdates + one apply
    // for a 10,000-message mailbox (a snapshot and ~700 records), and a bad record is skipped alone
    let bad = 0
    e.doc.transact(() => {
      for (const r of records) {
        try {
          Y.applyUpdate(e.doc, r, FROM_DISK)
        } catch {
          bad++
        }
      }
    }, FROM_DISK)
    if (bad > 0) this.options.log.error({ doc: e.name, bad, records: records.length }, 'skipped undecodable stored updates')
  }

  /**
   * Stores an update, and only once it is durable hands it to the listeners (peers, edge
   * sockets), in order: nothing leaves this node before it would survive a crash, so a
   * restarted node never re-allocates a UID a peer already holds.
   */
  private persist(e: Entry, update: Uint8Array, origin: unknown): void {
    const item = { update, origin, durable: false }
    e.bytes += update.length
    this.bytes += update.length
    e.outbox.push(item)
    const stored = this.store.append(e.name, update)
    const gated = e.holds.size === 0 ? stored : Promise.all([stored, Promise.allSettled(e.holds)])
    const p: Promise<void> = gated.then(
      () => {
        e.records++
        item.durable = true
        this.drain(e)
      },
      (err: unknown) => {
        // the waiting client is told (flush rejects), but the update stays in the live document
        // and later updates of this client build on it: it is stored by retrying, or a reload
        // would leave every later update pending (acknowledged mail gone) and could bind its
        // UIDs again. Until then it and everything after it wait in the outbox.
        e.failed ??= err
        this.options.log.error(
          { doc: e.name, err: String(err) },
          'could not persist an update; retrying, nothing after it is forwarded meanwhile',
        )
        const retry = this.retry(e, update)
        e.retrying.add(retry)
        retry.then(
          () => {
            e.retrying.delete(retry)
            e.records++
            item.durable = true
            this.drain(e)
            if (e.refs === 0 && e.retrying.size === 0 && !this.closed) void this.unload(e)
          },
          (err2: unknown) => this.options.log.error({ doc: e.name, err: String(err2) }, 'closed with an update not stored'),
        )
        e.retrying.add(retry)
      },
    )
    e.pending.add(p)
    e.last = p
    void p.finally(() => {
      e.pending.delete(p)
      if (e.records >= this.compactAfter && e.pending.size === 0) void this.compact(e)
    })
  }

  /** Appends `update` until it is stored, backing off to 1 s; stops trying once the registry closed. */
  private async retry(e: Entry, update: Uint8Array): Promise<void> {
    for (let delay = 50; ; delay = Math.min(1000, delay * 2)) {
      await new Promise((resolve) => setTimeout(resolve, delay).unref())
      try {
        await this.store.append(e.name, update)
        this.options.log.warn({ doc: e.name }, 'a failed update is stored now')
        return
      } catch (err) {
        if (this.closed) throw err
      }
    }
  }

  private drain(e: Entry): void {
    while (e.outbox.length > 0 && e.outbox[0]!.durable) {
      const next = e.outbox.shift()!
      this.changes.set(e.name, ++this.seq)
      for (const fn of this.listeners) fn(e.name, next.update, next.origin)
    }
  }

  private async compact(e: Entry): Promise<void> {
    if (this.docs.get(e.name) !== e || e.records < this.compactAfter) return
    e.records = 1
    const snapshot = Y.encodeStateAsUpdate(e.doc)
    this.bytes += snapshot.length - e.bytes
    e.bytes = snapshot.length
    try {
      await this.store.compact(e.name, snapshot)
    } catch (err) {
      this.options.log.warn({ doc: e.name, err: String(err) }, 'compaction failed; the log stays as it was')
    }
  }

  /**
   * Until `work` settles, updates made to the loaded document `name` count as durable (for
   * `flush` and for listeners) only once `work` has settled as well: the node holds a message
   * fact back from peers until its body is durable, while both are written in parallel.
   * `work`'s failure is the caller's to handle; the held updates are released either way.
   */
  hold(name: string, work: Promise<unknown>): void {
    const e = this.docs.get(name)
    if (e === undefined) return
    const settled = work.then(
      () => undefined,
      () => undefined,
    )
    e.holds.add(settled)
    void settled.then(() => e.holds.delete(settled))
  }

  /** Resolves once every update made so far to `name` is durable; rejects if one failed. */
  async flush(name: string): Promise<void> {
    const e = this.docs.get(name)
    if (e === undefined) return
    if (e.last !== undefined) await e.last
    if (e.failed !== undefined) {
      const err = e.failed
      e.failed = undefined
      throw new NodeError('STORAGE', `could not store changes of ${name}: ${String(err)}`)
    }
    // a later update is durable only with every earlier one: a reload would leave it pending
    // behind a missing one (acknowledged mail invisible), so wait for the retries
    if (e.retrying.size > 0) {
      await Promise.all(e.retrying).catch((err: unknown) => {
        throw new NodeError('STORAGE', `could not store changes of ${name}: ${String(err)}`)
      })
    }
  }

  /**
   * Unloads the least recently released documents while the loaded ones exceed the budget.
   * Only documents without a handle and with every update stored go (what the idle timer
   * unloads too), so nothing unstored is dropped.
   */
  private enforceBudget(): void {
    const budget = this.options.budgetBytes
    if (budget === undefined) return
    let over = this.heapEstimate() - budget
    for (const e of this.released) {
      if (over <= 0) break
      if (e.retrying.size > 0) continue
      this.released.delete(e)
      clearTimeout(e.idle)
      e.idle = undefined
      over -= docHeapEstimate(e.bytes)
      this.evicted++
      void this.unload(e)
    }
  }

  private heapEstimate(): number {
    return Math.round(this.bytes * HEAP_PER_ENCODED_BYTE) + this.docs.size * DOC_HEAP_BYTES
  }

  /**
   * The loaded documents (how many, their encoded bytes, their estimated heap, which the
   * budget bounds) and how many were unloaded early to keep the budget.
   */
  memory(): { documents: number; loadedBytes: number; heapEstimateBytes: number; budgetBytes: number | undefined; evicted: number } {
    return {
      documents: this.docs.size,
      loadedBytes: this.bytes,
      heapEstimateBytes: this.heapEstimate(),
      budgetBytes: this.options.budgetBytes,
      evicted: this.evicted,
    }
  }

  private async unload(e: Entry): Promise<void> {
    if (e.refs > 0 || this.docs.get(e.name) !== e || e.retrying.size > 0) return
    await this.flush(e.name).catch(() => undefined)
    if (e.refs > 0) return
    this.docs.delete(e.name)
    this.released.delete(e)
    this.bytes -= e.bytes
    for (const fn of this.unloadListeners) fn(e.name)
    e.doc.destroy()
  }

  /** Every update integrated into any loaded document (local, edge or peer), with its origin. */
  onUpdate(fn: (name: string, update: Uint8Array, origin: unknown) => void): () => void {
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }

  /** Called when a document is unloaded (owners of per-document state drop it). */
  onUnload(fn: (name: string) => void): () => void {
    this.unloadListeners.add(fn)
    return () => this.unloadListeners.delete(fn)
  }

  /** Whether `name` is loaded now. */
  isLoaded(name: string): boolean {
    return this.docs.has(name)
  }

  /** The loaded doc, or undefined (no reference is taken). */
  peek(name: string): Y.Doc | undefined {
    return this.docs.get(name)?.doc
  }

  loadedNames(): string[] {
    return [...this.docs.keys()]
  }

  allDocs(): string[] {
    return [...this.known]
  }

  changeCursor(): ChangeCursor {
    return { epoch: this.epoch, seq: this.seq }
  }

  /** Documents changed after `cursor`, or undefined when the cursor is from another epoch. */
  changedSince(cursor: ChangeCursor): string[] | undefined {
    if (cursor.epoch !== this.epoch || cursor.seq > this.seq) return undefined
    return [...this.changes].filter(([, s]) => s > cursor.seq).map(([n]) => n)
  }

  /** Flushes and unloads everything. */
  async close(): Promise<void> {
    this.closed = true
    for (const e of this.docs.values()) {
      if (e.idle !== undefined) clearTimeout(e.idle)
      await this.flush(e.name).catch(() => undefined)
      // one last try each for updates that failed (a store that came back stores them now)
      await Promise.allSettled(e.retrying)
    }
    for (const e of this.docs.values()) {
      for (const fn of this.unloadListeners) fn(e.name)
      e.doc.destroy()
    }
    this.docs.clear()
    this.released.clear()
    this.bytes = 0
  }
}

/** A document this node writes to: under a node client id, which no edge replica may write under. */
function nodeDoc(): Y.Doc {
  const doc = new Y.Doc({ gc: true })
  doc.clientID = nodeClientId()
  return doc
}
