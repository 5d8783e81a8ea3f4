import type { BlobStore } from '@mailweave/core'
import type * as Y from 'yjs'
import type { ChangeCursor } from './PeerProtocol.ts'

/** Severity of a {@link PeerHost.log} line. */
export type PeerLogLevel = 'info' | 'warn' | 'error'

/** A document opened through {@link PeerHost.openDoc}; it stays loaded until `release()`. */
export interface OpenedDoc {
  doc: Y.Doc
  release(): void
}

/**
 * What a node gives the peer link layer ({@link PeerNetwork}). The node server
 * implements it over its storage; {@link MemoryPeerHost} is the in-memory one for tests.
 *
 * The change counter contract (see {@link ChangeCursor}): a cursor must never count an
 * update the listeners have not been given (the link layer forwards updates live and then
 * tells peers they hold everything up to the cursor), and `changedSince(c)` names every
 * document with an update the cursor `c` does not count (more is allowed). The counter may
 * move later than the updates (a node whose region shares a database moves it as it reads
 * the database) and may survive restarts (same epoch); an epoch must change whenever
 * counted updates could be forgotten. Updates the link layer applies carry the link
 * object as their Yjs transaction origin, so the layer can tell where an update came from.
 */
export interface PeerHost {
  readonly nodeId: string
  readonly slot: number
  /** Opens (loading if needed, creating if absent) a document; it stays open until `release()`. */
  openDoc(name: string): Promise<OpenedDoc>
  /** The node's change counter now. */
  changeCursor(): ChangeCursor
  /**
   * Documents changed after `cursor`; undefined when the cursor is unknown or of another
   * epoch (the caller then uses {@link allDocs}). May ask the node's storage.
   */
  changedSince(cursor: ChangeCursor): Promise<Iterable<string> | undefined>
  /** Every document this node holds, produced as iterated (a node lists its storage only when a full catch-up needs it). */
  allDocs(): AsyncIterable<string>
  /** Subscribes to every update integrated into any open document, with its Yjs transaction origin; returns the unsubscribe function. */
  onUpdate(fn: (docName: string, update: Uint8Array, origin: unknown) => void): () => void
  /** The peer's cursor up to which this node holds all of that peer's changes, as last saved. */
  loadResume(peerId: string): Promise<ChangeCursor | undefined>
  /** Persists the resume point for `peerId`. */
  saveResume(peerId: string, cursor: ChangeCursor): Promise<void>
  /** Content-addressed blob store (lowercase hex SHA-256 keys). */
  readonly blobs: BlobStore
  log?(level: PeerLogLevel, msg: string, fields?: Record<string, unknown>): void
}
