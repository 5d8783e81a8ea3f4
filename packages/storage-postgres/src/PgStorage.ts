import pg from 'pg'
import { StorageError } from '@mailweave/core'
import { AccountLeases, type LeaseProcessAddresses } from './AccountLeases.ts'
import { PgBlobStore } from './PgBlobStore.ts'
import { PgDatabase, type PgDatabaseOptions } from './PgDatabase.ts'
import { PgMetaStore } from './PgMetaStore.ts'
import { PgUpdateStore } from './PgUpdateStore.ts'

/** Options of {@link PgStorage.open}. */
export interface PgStorageOptions extends PgDatabaseOptions {
  /** Reports losing and regaining the region lock's connection, and lost leases. */
  log?: (msg: string, fields?: object) => void
  /**
   * This process's name in a region of several processes sharing the database: turns on
   * account leases with fenced writes instead of the one-process region lock.
   */
  process?: string
  /** Lease and heartbeat TTL in ms (default 10,000), with `process`. */
  leaseTtlMs?: number
  /** At most this many accounts owned by this process at once, with `process`. */
  maxAccounts?: number
  /** This process's addresses when already known (else {@link AccountLeases.advertise} them once bound), with `process`. */
  addresses?: Omit<LeaseProcessAddresses, 'process'>
}

/**
 * A node's whole storage in one PostgreSQL database (and schema): update logs, message
 * bodies and small records, with the shape `@mailweave/server`'s `NodeStorage` expects.
 *
 * One process per region (no `process` option): `open` takes a session advisory lock for
 * the schema on a connection of its own and refuses to start while another process holds
 * it (two writers would allocate the same UIDs). If that connection breaks (a database
 * restart) the lock is taken again; when another process got it meanwhile, the storage is
 * fenced and every later write fails.
 *
 * Several processes per region (`process` given): no region lock; {@link ownership} is the
 * region's {@link AccountLeases}, and every write to an account's documents is fenced by
 * the account's lease in the writing statement (see {@link PgUpdateStore}).
 */
export class PgStorage {
  readonly updates: PgUpdateStore
  readonly blobs: PgBlobStore
  readonly meta: PgMetaStore
  /** The account leases, in a region of several processes; absent with the region lock. */
  readonly ownership: AccountLeases | undefined
  private closing = false

  private constructor(
    private readonly db: PgDatabase,
    private lock: pg.Client | undefined,
    private readonly options: PgStorageOptions,
    leases?: AccountLeases,
  ) {
    this.ownership = leases
    this.updates = new PgUpdateStore(db, leases)
    this.blobs = new PgBlobStore(db)
    this.meta = new PgMetaStore(db)
  }

  /** Connects, creates the tables when missing and takes the region lock (or, with `process`, starts the leases). */
  static async open(options: PgStorageOptions): Promise<PgStorage> {
    const db = await PgDatabase.connect(options)
    try {
      if (options.process !== undefined) {
        const made: { storage?: PgStorage } = {}
        const leases = await AccountLeases.start(db, {
          process: options.process,
          ttlMs: options.leaseTtlMs,
          maxAccounts: options.maxAccounts,
          addresses: options.addresses,
          log: options.log,
          // queued writes commit before the leases they were issued under are released
          beforeRelease: () => made.storage?.updates.flush() ?? Promise.resolve(),
        })
        made.storage = new PgStorage(db, undefined, options, leases)
        return made.storage
      }
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

  /** Commit counts and latency (reported as the node's fsync figures), and the writes refused by lease fencing. */
  stats(): { fsyncCount: number; lastFsyncMs: number; avgFsyncMs: number; fencedWrites: number } {
    return { ...this.db.stats(), fencedWrites: this.updates.fencedWrites() }
  }

  /** Finishes queued writes, releases the region lock (or every lease held) and closes every connection. */
  async close(): Promise<void> {
    if (this.closing) return
    this.closing = true
    await this.updates.close()
    await this.ownership?.close()
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
