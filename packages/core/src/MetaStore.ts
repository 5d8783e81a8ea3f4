import { StorageError } from './StorageError.ts'

/**
 * Small named records a node keeps beside its documents (peer resume points, the
 * unclean-stop marker): bytes in, bytes out. `put` replaces a record atomically and
 * resolves once it is durable; a reader sees the old or the new bytes, never a mix.
 * Implementations reject with {@link StorageError} and run `metaStoreConformance`.
 */
export interface MetaStore {
  /** The bytes stored under `key`, or `undefined` when absent. */
  get(key: string): Promise<Uint8Array | undefined>
  /** Replaces the record under `key`; resolves once durable. */
  put(key: string, value: Uint8Array): Promise<void>
  /** Removes `key` durably; absent keys are ignored. */
  delete(key: string): Promise<void>
}

/** Record keys: a letter or digit, then letters, digits, `.`, `_`, `-` (≤ 64), so every medium can hold them. */
export const META_KEY = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

/** Throws a StorageError unless `key` is a valid {@link META_KEY}. */
export function checkMetaKey(key: string): void {
  if (!META_KEY.test(key)) throw new StorageError('IO', `invalid record key ${JSON.stringify(key)}`)
}

/** An in-memory {@link MetaStore} (not durable); copies bytes in and out. */
export class MemoryMetaStore implements MetaStore {
  private readonly records = new Map<string, Uint8Array>()

  async get(key: string): Promise<Uint8Array | undefined> {
    checkMetaKey(key)
    return this.records.get(key)?.slice()
  }

  async put(key: string, value: Uint8Array): Promise<void> {
    checkMetaKey(key)
    this.records.set(key, value.slice())
  }

  async delete(key: string): Promise<void> {
    checkMetaKey(key)
    this.records.delete(key)
  }
}
