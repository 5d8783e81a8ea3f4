import { sha256 } from '@noble/hashes/sha2.js'
import { isBlobKey, type BlobStore } from '@mailweave/core'
import { createStore, promisifyRequest, type UseStore } from 'idb-keyval'
import { EdgeError } from './EdgeError.ts'

/** Lowercase hex SHA-256 of `bytes` (synchronous, works outside secure contexts too). */
export function sha256Hex(bytes: Uint8Array): string {
  let out = ''
  for (const b of sha256(bytes)) out += b.toString(16).padStart(2, '0')
  return out
}

/** Upload-queue entries live beside the blobs, under array keys (arrays sort after strings). */
const uploadKey = (hash: string): [string, string] => ['upload', hash]
// every string key and no array key
const blobRange = () => IDBKeyRange.bound('', [], false, true)
const uploadRange = () => IDBKeyRange.bound(['upload'], ['upload', []])

/** One queued upload. */
export interface QueuedUpload {
  hash: string
  size: number
  queuedAt: number
}

function storageError(e: unknown, what: string): EdgeError {
  if (e instanceof EdgeError) return e
  return new EdgeError('STORAGE', `IndexedDB ${what} failed (${e instanceof Error ? `${e.name}: ${e.message}` : String(e)})`)
}

/**
 * A content-addressed {@link BlobStore} in IndexedDB (via idb-keyval): bodies cached from a
 * node and bodies appended here. Keys are SHA-256 digests; `put` refuses bytes that do not
 * hash to their key and `get` verifies before returning (a corrupt entry is deleted and
 * reported absent). The same database holds the persistent upload queue, so a body and its
 * queue entry are stored in one transaction: a body appended offline is never forgotten.
 */
export class IdbBlobStore implements BlobStore {
  private readonly store: UseStore
  /** Corrupt entries found (and dropped) by `get`. */
  corrupt = 0

  constructor(readonly dbName: string) {
    this.store = createStore(dbName, 'blobs')
  }

  /** Stores `bytes` under `key` (its SHA-256); with `upload`, also queues it for upload, atomically. */
  async put(key: string, bytes: Uint8Array, opts: { upload?: boolean } = {}): Promise<void> {
    if (!isBlobKey(key)) throw new EdgeError('INVALID_OPTIONS', `blob keys are lowercase hex SHA-256 digests, got ${JSON.stringify(key)}`)
    if (sha256Hex(bytes) !== key) throw new EdgeError('CORRUPT_BODY', `bytes do not hash to ${key}`)
    const copy = bytes.slice()
    try {
      await this.store('readwrite', (s) => {
        s.put(copy, key)
        if (opts.upload === true) {
          const q: QueuedUpload = { hash: key, size: copy.byteLength, queuedAt: Date.now() }
          s.put(q, uploadKey(key))
        }
        return promisifyRequest(s.transaction)
      })
    } catch (e) {
      throw storageError(e, `storing blob ${key}`)
    }
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    let v: unknown
    try {
      v = await this.store('readonly', (s) => promisifyRequest(s.get(key)))
    } catch (e) {
      throw storageError(e, `reading blob ${key}`)
    }
    if (!(v instanceof Uint8Array)) return undefined
    if (sha256Hex(v) !== key) {
      this.corrupt++
      await this.delete(key).catch(() => undefined)
      return undefined
    }
    return v
  }

  async has(key: string): Promise<boolean> {
    try {
      return (await this.store('readonly', (s) => promisifyRequest(s.count(key)))) > 0
    } catch (e) {
      throw storageError(e, `reading blob ${key}`)
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.store('readwrite', (s) => {
        s.delete(key)
        return promisifyRequest(s.transaction)
      })
    } catch (e) {
      throw storageError(e, `deleting blob ${key}`)
    }
  }

  async *keys(): AsyncIterable<string> {
    let keys: IDBValidKey[]
    try {
      keys = await this.store('readonly', (s) => promisifyRequest(s.getAllKeys(blobRange())))
    } catch (e) {
      throw storageError(e, 'listing blobs')
    }
    for (const k of keys) if (typeof k === 'string') yield k
  }

  /** Queued uploads, oldest first. */
  async uploads(): Promise<QueuedUpload[]> {
    try {
      const values = await this.store('readonly', (s) => promisifyRequest(s.getAll(uploadRange())))
      return (values as QueuedUpload[]).filter((q) => typeof q?.hash === 'string').sort((a, b) => a.queuedAt - b.queuedAt)
    } catch (e) {
      throw storageError(e, 'listing uploads')
    }
  }

  /** Removes `hash` from the upload queue (the body stays cached). */
  async uploaded(hash: string): Promise<void> {
    try {
      await this.store('readwrite', (s) => {
        s.delete(uploadKey(hash))
        return promisifyRequest(s.transaction)
      })
    } catch (e) {
      throw storageError(e, `dequeuing ${hash}`)
    }
  }
}
