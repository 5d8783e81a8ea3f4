import { StorageError } from './StorageError.ts'

/**
 * Durable per-document update log: bytes in, bytes out. Implementations (memory, files,
 * PostgreSQL) keep records of a document in append order, never return a record that was
 * not appended, and reject with {@link StorageError}. Every implementation runs the
 * `updateStoreConformance` suite (`@mailweave/core/conformance`).
 */
export interface UpdateStore {
  /** Appends an update record for docName; resolves when durable (fsynced or committed). */
  append(docName: string, update: Uint8Array): Promise<void>
  /** All records of docName in append order (after the last compaction snapshot). */
  load(docName: string): Promise<Uint8Array[]>
  /** Replaces all records of docName by one snapshot record, atomically (crash-safe). */
  compact(docName: string, snapshot: Uint8Array): Promise<void>
  /** Document names present. */
  list(): Promise<string[]>
  close(): Promise<void>
}

/** An in-memory {@link UpdateStore} (not durable); copies bytes in and out so callers cannot alias them. */
export class MemoryUpdateStore implements UpdateStore {
  private readonly docs = new Map<string, Uint8Array[]>()
  private closed = false

  async append(docName: string, update: Uint8Array): Promise<void> {
    this.check()
    const records = this.docs.get(docName) ?? []
    records.push(update.slice())
    this.docs.set(docName, records)
  }

  async load(docName: string): Promise<Uint8Array[]> {
    this.check()
    return (this.docs.get(docName) ?? []).map((r) => r.slice())
  }

  async compact(docName: string, snapshot: Uint8Array): Promise<void> {
    this.check()
    this.docs.set(docName, [snapshot.slice()])
  }

  async list(): Promise<string[]> {
    this.check()
    return [...this.docs.keys()]
  }

  async close(): Promise<void> {
    this.closed = true
  }

  private check(): void {
    if (this.closed) throw new StorageError('IO', 'MemoryUpdateStore is closed')
  }
}
