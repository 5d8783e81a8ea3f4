import { randomBytes } from 'node:crypto'
import { mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import type { BlobStore } from '@mailweave/core'
import { isMissing } from './frames.ts'
import { checkBlobKey, isBlobKey, sha256Hex } from './blobKey.ts'
import { toStorageError } from './StorageError.ts'
import type { StorageLog } from './StorageError.ts'
import { defaultWriteOp, syncDir, writeFully } from './writeFully.ts'
import type { WriteOp } from './writeFully.ts'

/** Options of {@link FileBlobStore.open}. */
export interface FileBlobStoreOptions {
  /** Root directory; blobs live in `<dir>/<first 2 hex>/<key>`. Created when missing. */
  dir: string
  /** Receives a warning for every blob found corrupt on disk. */
  log?: StorageLog
  /** Replaces the positional write (fault injection in tests). */
  writeOp?: WriteOp
}

/**
 * A durable, content-addressed {@link BlobStore} on disk. `put` rejects with `HASH_MISMATCH`
 * unless the key is the lowercase hex SHA-256 of the bytes, and resolves once the blob and its
 * directory entry are fsynced (temp file + rename, so a blob is whole or absent). `get` re-hashes
 * and returns `undefined` for bytes corrupted on disk, moving them aside (`<key>.corrupt`) so that
 * `has` turns false and a later `put` restores the blob.
 */
export class FileBlobStore implements BlobStore {
  private readonly writeOp: WriteOp
  private readonly fanouts = new Set<string>()

  private constructor(
    private readonly dir: string,
    private readonly log: StorageLog | undefined,
    writeOp: WriteOp | undefined,
  ) {
    this.writeOp = writeOp ?? defaultWriteOp
  }

  /** Opens (creating if needed) the store rooted at `options.dir`, removing temp files of interrupted puts. */
  static async open(options: FileBlobStoreOptions): Promise<FileBlobStore> {
    try {
      await mkdir(options.dir, { recursive: true })
      for (const fanout of await readdir(options.dir)) {
        if (!/^[0-9a-f]{2}$/.test(fanout)) continue
        for (const name of await readdir(join(options.dir, fanout)))
          if (name.endsWith('.tmp')) await unlink(join(options.dir, fanout, name))
      }
    } catch (err) {
      throw toStorageError(err, `open ${options.dir}`)
    }
    return new FileBlobStore(options.dir, options.log, options.writeOp)
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    checkBlobKey(key, bytes)
    if ((await this.get(key)) !== undefined) return
    const fanout = join(this.dir, key.slice(0, 2))
    const tmp = join(fanout, `${key}.${randomBytes(6).toString('hex')}.tmp`)
    let file: FileHandle | undefined
    try {
      if (!this.fanouts.has(fanout)) {
        await mkdir(fanout, { recursive: true })
        await syncDir(this.dir)
        this.fanouts.add(fanout)
      }
      file = await open(tmp, 'w')
      await writeFully(this.writeOp, file, bytes, 0)
      await file.sync()
      await file.close()
      file = undefined
      await rename(tmp, join(fanout, key))
      await syncDir(fanout)
    } catch (err) {
      await file?.close().catch(() => {})
      await unlink(tmp).catch(() => {})
      throw toStorageError(err, `put blob ${key}`)
    }
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    if (!isBlobKey(key)) return undefined
    const path = this.pathOf(key)
    let buf: Buffer
    try {
      buf = await readFile(path)
    } catch (err) {
      if (isMissing(err)) return undefined
      throw toStorageError(err, `get blob ${key}`)
    }
    if (sha256Hex(buf) !== key) {
      this.log?.('storage-fs: blob corrupt on disk, moved aside', { key, file: path, bytes: buf.length })
      await rename(path, `${path}.corrupt`).catch(() => {})
      return undefined
    }
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)
  }

  async has(key: string): Promise<boolean> {
    if (!isBlobKey(key)) return false
    try {
      await stat(this.pathOf(key))
      return true
    } catch (err) {
      if (isMissing(err)) return false
      throw toStorageError(err, `stat blob ${key}`)
    }
  }

  async delete(key: string): Promise<void> {
    if (!isBlobKey(key)) return
    try {
      await unlink(this.pathOf(key))
    } catch (err) {
      if (!isMissing(err)) throw toStorageError(err, `delete blob ${key}`)
    }
  }

  async *keys(): AsyncIterable<string> {
    for (const fanout of await readdir(this.dir)) {
      if (!/^[0-9a-f]{2}$/.test(fanout)) continue
      for (const name of await readdir(join(this.dir, fanout))) if (isBlobKey(name)) yield name
    }
  }

  private pathOf(key: string): string {
    return join(this.dir, key.slice(0, 2), key)
  }
}
