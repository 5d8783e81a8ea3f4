/**
 * Where message bodies live: a content-addressed store, bytes in and bytes out.
 * Keys are lowercase hex SHA-256 digests of the bytes. Implementations guarantee that
 * `get` never returns bytes other than those `put` under that key (verify on read when
 * the medium can corrupt), and that `put` of an existing key is a harmless no-op.
 */
export interface BlobStore {
  /** Stores `bytes` under `key`; resolves once they are durable for this store. */
  put(key: string, bytes: Uint8Array): Promise<void>
  /** The bytes stored under `key`, or `undefined` when absent. */
  get(key: string): Promise<Uint8Array | undefined>
  /** Whether `key` is present. */
  has(key: string): Promise<boolean>
  /** Removes `key`; absent keys are ignored. */
  delete(key: string): Promise<void>
  /** Every key present, in no particular order. */
  keys(): AsyncIterable<string>
}

/** An in-memory {@link BlobStore}; copies bytes in and out so callers cannot alias them. */
export class MemoryBlobStore implements BlobStore {
  private readonly blobs = new Map<string, Uint8Array>()

  async put(key: string, bytes: Uint8Array): Promise<void> {
    if (!this.blobs.has(key)) this.blobs.set(key, bytes.slice())
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    return this.blobs.get(key)?.slice()
  }

  async has(key: string): Promise<boolean> {
    return this.blobs.has(key)
  }

  async delete(key: string): Promise<void> {
    this.blobs.delete(key)
  }

  async *keys(): AsyncIterable<string> {
    yield* [...this.blobs.keys()]
  }

  /** Number of blobs held (for tests and metrics). */
  get size(): number {
    return this.blobs.size
  }
}
