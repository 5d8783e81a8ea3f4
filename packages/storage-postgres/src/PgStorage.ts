import pg from 'pg'
import { StorageError } from '@mailweave/core'
import { PgBlobStore } from './PgBlobStore.ts'
import { PgDatabase, type PgDatabaseOptions } from './PgDatabase.ts'
import { PgMetaStore } from './PgMetaStore.ts'
import { PgUpdateStore } from './PgUpdateStore.ts'

/** Options of {@link PgStorage.open}. */
export interface PgStorageOptions extends PgDatabaseOptions {
  /** Reports losing and regaining the region lock's connection. */
  log?: (msg: string, fields?: object) => void
}

/**
 * A node's whole storage in one PostgreSQL database (and schema): update logs, message
 * bodies and small records, with the shape `@mailweave/server`'s `NodeStorage` expects.
 * One node process per region: `open` takes a session advisory lock for the schema on a
 * connection of its own and refuses to start while another process holds it (two writers
 * would allocate the same UIDs). If that connection breaks (a database restart) the lock is
 * taken again; when another process got it meanwhile, the storage is fenced and every
 * later write fails.
 */
export class PgStorage {
  readonly updates: PgUpdateStore
  readonly blobs: PgBlobStore
  readonly meta: PgMetaStore
  private closing = false

  private constructor(
    private readonly db: PgDatabase,
    private lock: pg.Client | undefined,
    private readonly options: PgStorageOptions,
  ) {
    this.updates = new PgUpdateStore(db)
    this.blobs = new PgBlobStore(db)
    this.meta = new PgMetaStore(db)
  }

  /** Connects, creates the tables when missing and takes the region lock. */
  static async open(options: PgStorageOptions): Promise<PgStorage> {
    const db = await PgDatabase.connect(options)
    try {
      const lock = await PgStorage.takeLock(options, db.schema)
      const storage = new PgStorage(db, lock, options)
      storage.watch(lock)
      return storage
    } catch (e) {
      await db.close().catch(() => {})
      throw e
    }
  }

  /** Where the data lives (the URL without its password). */
  get description(): string {
    return `PostgreSQL ${this.db.description}`
  }

  /** Commit counts and latency (reported as the node's fsync figures). */
  stats(): { fsyncCount: number; lastFsyncMs: number; avgFsyncMs: number } {
    return this.db.stats()
  }

  /** Finishes queued writes, releases the region lock and closes every connection. */
  async close(): Promise<void> {
    this.closing = true
    await this.updates.close()
    await this.lock?.end().catch(() => {})
    await this.db.close()
  }

  private static async takeLock(options: PgDatabaseOptions, schema: string): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: options.url, connectionTimeoutMillis: 10_000 })
    client.on('error', () => {})
    try {
      await client.connect()
      const r = await client.query<{ ok: boolean; holder: number | null }>(
        `SELECT pg_try_advisory_lock(hashtext('mailweave region ' || $1::text)) AS ok,
                (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = hashtext('mailweave region ' || $1::text)::oid AND granted AND pid <> pg_backend_pid() LIMIT 1) AS holder`,
        [schema],
      )
      if (r.rows[0]?.ok !== true)
        throw new StorageError(
          'IO',
          `another mailweave node already runs on this database (schema ${schema}, held by server process ${r.rows[0]?.holder ?? '?'}); one node process per region`,
        )
      return client
    } catch (e) {
      await client.end().catch(() => {})
      if (e instanceof StorageError) throw e
      throw new StorageError('IO', `cannot take the region lock: ${(e as Error).message}`, { cause: e })
    }
  }

  /** Re-takes the lock when its connection ends unexpectedly; fences the storage when it cannot. */
  private watch(client: pg.Client): void {
    client.once('end', () => {
      if (this.closing) return
      this.lock = undefined
      this.options.log?.('the PostgreSQL connection holding the region lock ended; taking the lock again')
      void this.retake(0)
    })
  }

  private async retake(attempt: number): Promise<void> {
    if (this.closing) return
    try {
      const client = await PgStorage.takeLock(this.options, this.db.schema)
      if (this.closing) {
        await client.end().catch(() => {})
        return
      }
      this.lock = client
      this.watch(client)
      this.options.log?.('region lock taken again')
    } catch (e) {
      if (e instanceof StorageError && e.message.startsWith('another mailweave node')) {
        this.options.log?.('another process took the region lock: this storage refuses every write from now on')
        this.db.fence('another mailweave node took the region lock')
        return
      }
      // the database is still down: try again, backing off up to 2 s
      setTimeout(() => void this.retake(attempt + 1), Math.min(2000, 50 * 2 ** attempt)).unref()
    }
  }
}
