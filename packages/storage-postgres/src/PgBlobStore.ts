import { createHash } from 'node:crypto'
import { isBlobKey, StorageError, type BlobStore } from '@mailweave/core'
import { asBuffer, ownBytes, type PgDatabase } from './PgDatabase.ts'

const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')

/** Keys listed per round trip by {@link PgBlobStore.keys}. */
const KEYS_PAGE = 1000
/** At most this many puts (or bytes) go into one group commit. */
const GROUP_MAX = 256
const GROUP_MAX_BYTES = 16 * 1024 * 1024

/**
 * A {@link BlobStore} in PostgreSQL (table `mw_blobs`). `put` refuses bytes that do not
 * hash to their key (`HASH_MISMATCH`, nothing stored) and resolves once committed (group commit); `get`
 * re-checks the hash, so a damaged row reads as a `CORRUPT` error, never as other bytes.
 */
export class PgBlobStore implements BlobStore {
  private queue: { key: string; bytes: Uint8Array; resolve: () => void; reject: (e: unknown) => void }[] = []
  private writing = false

  constructor(private readonly db: PgDatabase) {}

  /** Puts waiting while a commit is in flight are inserted by the next statement together (one WAL flush). */
  async put(key: string, bytes: Uint8Array): Promise<void> {
    if (!isBlobKey(key) || sha256Hex(bytes) !== key) throw new StorageError('HASH_MISMATCH', `blob bytes do not hash to ${key}`)
    await new Promise<void>((resolve, reject) => {
      this.queue.push({ key, bytes: bytes.slice(), resolve, reject })
      if (!this.writing) void this.drain()
    })
  }

  private async drain(): Promise<void> {
    this.writing = true
    while (this.queue.length > 0) {
      const group: typeof this.queue = []
      let size = 0
      while (this.queue.length > 0 && group.length < GROUP_MAX && size < GROUP_MAX_BYTES) {
        const p = this.queue.shift()!
        group.push(p)
        size += p.bytes.length
      }
      // one row per key: the same body put twice in one group is stored once
      const rows = new Map(group.map((p) => [p.key, p.bytes]))
      try {
        await this.db.commit(
          `cannot store ${rows.size === 1 ? `blob ${group[0]!.key}` : `${rows.size} blobs`}`,
          'INSERT INTO mw_blobs (key, data) SELECT * FROM unnest($1::text[], $2::bytea[]) ON CONFLICT DO NOTHING',
          [[...rows.keys()], [...rows.values()].map(asBuffer)],
        )
        for (const p of group) p.resolve()
      } catch (e) {
        for (const p of group) p.reject(e)
      }
    }
    this.writing = false
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const r = await this.db.query<{ data: Uint8Array }>(`cannot read blob ${key}`, 'SELECT data FROM mw_blobs WHERE key = $1', [key])
    const row = r.rows[0]
    if (row === undefined) return undefined
    if (sha256Hex(row.data) !== key) throw new StorageError('CORRUPT', `blob ${key} in PostgreSQL does not hash to its key`)
    return ownBytes(row.data)
  }

  async has(key: string): Promise<boolean> {
    const r = await this.db.query(`cannot read blob ${key}`, 'SELECT 1 FROM mw_blobs WHERE key = $1', [key])
    return r.rows.length > 0
  }

  async delete(key: string): Promise<void> {
    await this.db.commit(`cannot delete blob ${key}`, 'DELETE FROM mw_blobs WHERE key = $1', [key])
  }

  /** Every key, read in pages of 1,000 in key order (never all at once). */
  async *keys(): AsyncIterable<string> {
    let after = ''
    for (;;) {
      const r = await this.db.query<{ key: string }>('cannot list blobs', 'SELECT key FROM mw_blobs WHERE key > $1 ORDER BY key LIMIT $2', [
        after,
        KEYS_PAGE,
      ])
      for (const row of r.rows) yield row.key
      if (r.rows.length < KEYS_PAGE) return
      after = r.rows[r.rows.length - 1]!.key
    }
  }
}
