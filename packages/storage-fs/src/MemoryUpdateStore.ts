import type { UpdateStore } from './UpdateStore.ts'
import { StorageError } from './StorageError.ts'

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
