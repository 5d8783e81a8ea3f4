import { randomBytes } from 'node:crypto'
import { mkdir, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { checkMetaKey, type MetaStore } from '@mailweave/core'
import { isMissing, readIfExists } from './frames.ts'
import { toStorageError } from './StorageError.ts'
import { defaultWriteOp, replaceFile, syncDir } from './writeFully.ts'

/**
 * A {@link MetaStore} as one file per key in a directory (`<dir>/<key>`): a put writes a
 * uniquely named temporary file (two writers never share one), fsyncs it, renames it over the key and fsyncs the directory, so a crash
 * leaves the old or the new record. Operations on one key run in call order.
 */
export class FileMetaStore implements MetaStore {
  private readonly chains = new Map<string, Promise<unknown>>()

  private constructor(readonly dir: string) {}

  /** Opens (creating) the directory. */
  static async open(dir: string): Promise<FileMetaStore> {
    await mkdir(dir, { recursive: true }).catch((e: unknown) => {
      throw toStorageError(e, `cannot create ${dir}`)
    })
    return new FileMetaStore(dir)
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    checkMetaKey(key)
    return this.serial(key, () => readIfExists(join(this.dir, key)), 'read')
  }

  async put(key: string, value: Uint8Array): Promise<void> {
    checkMetaKey(key)
    await this.serial(
      key,
      async () => {
        const path = join(this.dir, key)
        const file = await replaceFile(
          defaultWriteOp,
          path,
          value,
          (f) => f.sync(),
          `${path}.${process.pid}-${randomBytes(6).toString('hex')}.tmp`,
        )
        await file.close()
        await syncDir(this.dir)
      },
      'write',
    )
  }

  async delete(key: string): Promise<void> {
    checkMetaKey(key)
    await this.serial(
      key,
      async () => {
        try {
          await unlink(join(this.dir, key))
        } catch (e) {
          if (isMissing(e)) return
          throw e
        }
        await syncDir(this.dir)
      },
      'delete',
    )
  }

  private serial<T>(key: string, op: () => Promise<T>, what: string): Promise<T> {
    const prev = this.chains.get(key) ?? Promise.resolve()
    const next = prev.then(op, op).catch((e: unknown) => {
      throw toStorageError(e, `cannot ${what} record ${key} in ${this.dir}`)
    })
    const tail = next.catch(() => {})
    this.chains.set(key, tail)
    void tail.then(() => {
      if (this.chains.get(key) === tail) this.chains.delete(key)
    })
    return next
  }
}
