import { randomInt } from 'node:crypto'
import pg from 'pg'
import { StorageError } from '@mailweave/core'

/** Options of {@link PgDatabase.connect}. */
export interface PgDatabaseOptions {
  /** `postgres://user[:password]@host[:port]/database` (credentials are never logged). */
  url: string
  /** Schema holding the tables (created when missing); default `public`. One region per schema. */
  schema?: string
  /** Connections in the pool (default 8). */
  maxConnections?: number
}

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/

// One statement per table, run in one transaction under an advisory lock so two processes
// creating the schema at once do not collide.
//
// mw_updates.xid is the writing transaction's id: every row below
// pg_snapshot_xmin(pg_current_snapshot()) is committed (or gone) for good, so "rows from
// position p up to the horizon" misses none, whatever order writers commit in (ids are drawn
// at insert, not at commit, so "id > last" would). writer is the writing process (its
// `mailweave.writer` session setting), so a process tailing the log can skip its own rows.
// mw_region holds the region's identity (the epoch of its change positions), drawn once.
const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS mw_updates (id bigserial PRIMARY KEY, doc text NOT NULL, data bytea NOT NULL,
     xid xid8 NOT NULL DEFAULT pg_current_xact_id(), writer bigint DEFAULT NULLIF(current_setting('mailweave.writer', true), '')::bigint)`,
  `CREATE TABLE IF NOT EXISTS mw_region (one boolean PRIMARY KEY DEFAULT true CHECK (one), epoch text NOT NULL)`,
  `INSERT INTO mw_region (epoch) VALUES (gen_random_uuid()::text) ON CONFLICT DO NOTHING`,
  `CREATE TABLE IF NOT EXISTS mw_docs (doc text PRIMARY KEY)`,
  `CREATE TABLE IF NOT EXISTS mw_blobs (key text PRIMARY KEY, data bytea NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS mw_meta (key text PRIMARY KEY, value bytea NOT NULL)`,
  // the processes of a region of several (AccountLeases): heartbeats on the database clock
  `CREATE TABLE IF NOT EXISTS mw_processes (name text PRIMARY KEY, addresses jsonb, heartbeat timestamptz NOT NULL, ttl_ms integer NOT NULL, owned integer NOT NULL DEFAULT 0, max_accounts integer)`,
  // one lease per account (and '#peers'); epoch grows at every change of hands, writes are fenced by it
  `CREATE TABLE IF NOT EXISTS mw_leases (account text PRIMARY KEY, owner text NOT NULL, epoch bigint NOT NULL, expires timestamptz NOT NULL)`,
]

// Tables of an earlier version get the change-position columns (checked first: ALTER TABLE
// locks the table even when the column exists). Old rows get the migration's xid.
const MIGRATIONS: [column: string, sql: string][] = [
  ['xid', `ALTER TABLE mw_updates ADD COLUMN IF NOT EXISTS xid xid8 NOT NULL DEFAULT pg_current_xact_id()`],
  [
    'writer',
    `ALTER TABLE mw_updates ADD COLUMN IF NOT EXISTS writer bigint DEFAULT NULLIF(current_setting('mailweave.writer', true), '')::bigint`,
  ],
]

const INDEXES: [name: string, columns: string][] = [
  ['mw_updates_doc', 'doc, id'],
  ['mw_updates_xid', 'xid'],
]

/** Maps a pg error (or anything thrown) to a {@link StorageError}: disk full (53100) or IO. */
export function toStorageError(err: unknown, what: string): StorageError {
  if (err instanceof StorageError) return err
  const code = (err as { code?: unknown } | null)?.code
  return new StorageError(code === '53100' ? 'DISK_FULL' : 'IO', `${what}: ${(err as Error)?.message ?? String(err)}`, { cause: err })
}

/** Copies a bytea value (a Buffer from pg) into a plain Uint8Array the caller owns. */
export const ownBytes = (b: Uint8Array): Uint8Array => new Uint8Array(b)

/** The URL without its password, for logs and status. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url)
    if (u.password !== '') u.password = '***'
    return u.toString()
  } catch {
    return '(unparsable URL)'
  }
}

/** One connection taken from a {@link PgQueryRunner} for a transaction; `release` gives it back. */
export interface PgRunnerClient {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<pg.QueryResult<R>>
  release(): void
}

/**
 * What a {@link PgDatabase} runs its statements on: a `pg.Pool` (always, in a node), or an
 * in-process stand-in with the same three calls (PGlite in the conformance tests' extra run).
 */
export interface PgQueryRunner {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<pg.QueryResult<R>>
  connect(): Promise<PgRunnerClient>
  end(): Promise<void>
}

/**
 * A connection pool to one PostgreSQL database and schema, with the mailweave tables in
 * place. Every session runs with `synchronous_commit=on`, so a resolved write is a commit
 * flushed to the server's WAL on disk, whatever the server's default. Counts commits and
 * their latency.
 */
export class PgDatabase {
  private commits = 0
  private commitMsTotal = 0
  private lastCommitMs = 0
  private closed = false
  private fenced: string | undefined

  private constructor(
    /** The pool (or stand-in) statements run on. */
    readonly pool: PgQueryRunner,
    readonly schema: string,
    /** The URL without a password. */
    readonly description: string,
    /** The server URL for connections of their own (LISTEN); undefined over a stand-in that has none. */
    private readonly url: string | undefined,
    /** This pool's writer id: stamped on every update row it inserts (column `writer`). */
    readonly writer: number,
  ) {}

  /** The NOTIFY channel of this schema's update log: notified by every statement writing updates. */
  get channel(): string {
    return `mw_updates_${this.schema}`
  }

  /**
   * A connection of its own (for LISTEN), outside the pool; the caller ends it. Connection
   * errors are the caller's to handle (`error`/`end` events).
   */
  async dedicatedClient(): Promise<pg.Client> {
    if (this.closed) throw new StorageError('IO', 'the PostgreSQL storage is closed')
    if (this.url === undefined)
      throw new StorageError('IO', `${this.description} has no server to open a connection of its own to (LISTEN)`)
    const client = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 10_000 })
    client.on('error', () => {})
    try {
      await client.connect()
    } catch (e) {
      await client.end().catch(() => {})
      throw toStorageError(e, `cannot connect to ${this.description}`)
    }
    return client
  }

  /** Connects, creates the schema and tables when missing, and checks the server answers. */
  static async connect(options: PgDatabaseOptions): Promise<PgDatabase> {
    const schema = options.schema ?? 'public'
    if (!IDENT.test(schema)) throw new StorageError('IO', `invalid schema name ${JSON.stringify(schema)}: lowercase letters, digits and _`)
    let parsed: URL
    try {
      parsed = new URL(options.url)
    } catch {
      throw new StorageError('IO', `invalid PostgreSQL URL ${JSON.stringify(redactUrl(options.url))}`)
    }
    if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:')
      throw new StorageError('IO', `not a PostgreSQL URL (postgres://…): ${redactUrl(options.url)}`)
    // a random positive id per pool (PostgreSQL bigint, exact in a JS number)
    const writer = randomInt(1, 2 ** 47)
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.maxConnections ?? 8,
      options: `-c synchronous_commit=on -c search_path=${schema} -c mailweave.writer=${writer}`,
      connectionTimeoutMillis: 10_000,
    })
    // an idle client losing its connection (server restart) must not crash the process
    pool.on('error', () => {})
    const db = new PgDatabase(
      pool,
      schema,
      `${redactUrl(options.url)}${schema === 'public' ? '' : ` (schema ${schema})`}`,
      options.url,
      writer,
    )
    await db.setUp()
    return db
  }

  /**
   * A database over a stand-in for the pool (PGlite: one in-process session). The session
   * settings a pool passes at connect (synchronous commit, search path, writer id) are set with
   * SET instead, so one stand-in serves one PgDatabase at a time. No LISTEN
   * ({@link dedicatedClient} refuses): what tails the log must poll.
   */
  static async over(runner: PgQueryRunner, options: { schema?: string; description: string }): Promise<PgDatabase> {
    const schema = options.schema ?? 'public'
    if (!IDENT.test(schema)) throw new StorageError('IO', `invalid schema name ${JSON.stringify(schema)}: lowercase letters, digits and _`)
    const writer = randomInt(1, 2 ** 47)
    const db = new PgDatabase(runner, schema, options.description, undefined, writer)
    try {
      await runner.query(`SET synchronous_commit = on`)
      await runner.query(`SET search_path TO ${schema}`)
      await runner.query(`SELECT set_config('mailweave.writer', $1, false)`, [String(writer)])
    } catch (e) {
      throw toStorageError(e, `cannot open PostgreSQL storage at ${db.description}`)
    }
    await db.setUp()
    return db
  }

  /** Creates the schema, tables, columns and indexes when missing (closing the pool when that fails). */
  private async setUp(): Promise<void> {
    const schema = this.schema
    try {
      await this.transaction(async (c) => {
        await c.query(`SELECT pg_advisory_xact_lock(hashtext('mailweave schema'))`)
        await c.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`)
        for (const sql of SCHEMA) await c.query(sql)
        const have = await c.query<{ column_name: string }>(
          `SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'mw_updates'`,
          [schema],
        )
        const columns = new Set(have.rows.map((r) => r.column_name))
        for (const [column, sql] of MIGRATIONS) if (!columns.has(column)) await c.query(sql)
        // CREATE INDEX locks the table against writes even when the index exists: a process
        // starting would wait for every open write transaction of the region
        for (const [index, columns] of INDEXES) {
          const found = await c.query(`SELECT to_regclass($1) IS NOT NULL AS found`, [`${schema}.${index}`])
          if (found.rows[0]?.found !== true) await c.query(`CREATE INDEX IF NOT EXISTS ${index} ON mw_updates (${columns})`)
        }
      })
    } catch (e) {
      await this.pool.end().catch(() => {})
      throw toStorageError(e, `cannot open PostgreSQL storage at ${this.description}`)
    }
  }

  /** Runs one statement; maps failures to StorageError naming `what`. */
  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    what: string,
    sql: string,
    params: unknown[] = [],
  ): Promise<pg.QueryResult<R>> {
    if (this.closed) throw new StorageError('IO', `${what}: the PostgreSQL storage is closed`)
    if (this.fenced !== undefined) throw new StorageError('IO', `${what}: ${this.fenced}`)
    try {
      return await this.pool.query<R>(sql, params)
    } catch (e) {
      throw toStorageError(e, what)
    }
  }

  /** Runs one committing statement and counts the commit's latency; resolves to its rows. */
  async commit<R extends pg.QueryResultRow = pg.QueryResultRow>(what: string, sql: string, params: unknown[]): Promise<pg.QueryResult<R>> {
    const t0 = performance.now()
    const r = await this.query<R>(what, sql, params)
    this.count(performance.now() - t0)
    return r
  }

  /** Runs `fn` in a transaction on one connection (rolled back when it throws). */
  async transaction<T>(fn: (client: PgRunnerClient) => Promise<T>): Promise<T> {
    const t0 = performance.now()
    const client = await this.pool.connect()
    try {
      await client.query('BEGIN')
      const out = await fn(client)
      await client.query('COMMIT')
      this.count(performance.now() - t0)
      return out
    } catch (e) {
      await client.query('ROLLBACK').catch(() => {})
      throw e
    } finally {
      client.release()
    }
  }

  /** Commits so far with their latency, in the shape a node reports as `fsync` figures. */
  stats(): { fsyncCount: number; lastFsyncMs: number; avgFsyncMs: number } {
    return {
      fsyncCount: this.commits,
      lastFsyncMs: this.lastCommitMs,
      avgFsyncMs: this.commits === 0 ? 0 : this.commitMsTotal / this.commits,
    }
  }

  /** Refuses every later statement with `reason` (the region lock went to another process). */
  fence(reason: string): void {
    this.fenced = reason
  }

  /** Closes the pool (idempotent). */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.pool.end()
  }

  private count(ms: number): void {
    this.commits++
    this.commitMsTotal += ms
    this.lastCommitMs = ms
  }
}

/** A Buffer view of `b` (no copy): pg sends Buffers as bytea. */
export const asBuffer = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength)
