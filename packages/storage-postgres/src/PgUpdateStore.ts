import type pg from 'pg'
import { docOwner, StorageError, type UpdateStore } from '@mailweave/core'
import type { WriteFence, WriteLease } from './AccountLeases.ts'
import { asBuffer, ownBytes, type PgDatabase } from './PgDatabase.ts'

interface Pending {
  doc: string
  data: Uint8Array
  /** The lease the write commits under; undefined: unfenced (one process per region, or `sys/users`). */
  lease: WriteLease | undefined
  resolve: () => void
  reject: (e: unknown) => void
}

type Op = ({ kind: 'append' } | { kind: 'compact'; below?: number }) & Pending

/** Records written by other processes, read by {@link PgUpdateStore.readSince}. */
export interface LogRead {
  /** Every record below this position is visible for good (a transaction id, see mw_updates.xid). */
  position: number
  /** Records of other writers from the asked position up to `position`, in write order per document, each with its own position. */
  records: { docName: string; data: Uint8Array; at: number }[]
  /** Committed records at or past `position` exist already: read again soon (an older transaction still runs). */
  more: boolean
}

// The horizon of a statement: every transaction id below it has ended, so no row below it can
// still appear. As text: xid8 is 64-bit (pg returns it as a string).
const HORIZON = `pg_snapshot_xmin(pg_current_snapshot())`

/**
 * The fence of a write statement: the lease rows the statement's writes commit under, still
 * this process's with the epoch each write was issued under and not expired by the database
 * clock, locked FOR SHARE (in account order, as renewals lock them) so a takeover waits for
 * the commit. `$3`/`$4` are per-write accounts and epochs (NULL: unfenced), `$5` the process.
 */
const FENCE = `f AS (
  SELECT l.account, l.epoch FROM mw_leases l
  WHERE l.owner = $5 AND l.expires > clock_timestamp()
    AND (l.account, l.epoch) IN (SELECT a, e FROM unnest($3::text[], $4::int8[]) AS k(a, e) WHERE a IS NOT NULL)
  ORDER BY l.account FOR SHARE OF l)`

/** At most this many appends (or bytes) go into one group commit. */
const GROUP_MAX = 512
const GROUP_MAX_BYTES = 8 * 1024 * 1024

/**
 * An {@link UpdateStore} in PostgreSQL (table `mw_updates`, names in `mw_docs`). Writes run
 * in call order through one writer: the appends waiting while a commit is in flight go
 * into the next statement together (a group commit, one WAL flush), and a compaction
 * (delete the document's records, insert the snapshot) is one statement, so atomic.
 * A resolved append is committed with `synchronous_commit=on`.
 *
 * With a {@link WriteFence} (a region of several processes), a write to an account's
 * document (`acct/<user>`, `mbox/<user>/…`) is issued under the lease the fence names at
 * call time (the account's, else the `#peers` lease) and commits only if, in the same
 * statement, that lease row still names this process with that epoch; otherwise it rejects
 * with a `FENCED` StorageError, writes nothing, and is counted ({@link fencedWrites}).
 * Within a group, fenced and unfenced writes are judged one by one.
 */
export class PgUpdateStore implements UpdateStore {
  private readonly queue: Op[] = []
  private writing: Promise<void> | undefined
  private closed = false
  private readonly commitListeners = new Set<() => void>()
  private listener: pg.Client | undefined
  private listening = false
  private epoch: string | undefined
  private fenced = 0

  constructor(
    private readonly db: PgDatabase,
    private readonly fence?: WriteFence,
  ) {}

  append(docName: string, update: Uint8Array): Promise<void> {
    return this.enqueue('append', docName, update)
  }

  compact(docName: string, snapshot: Uint8Array): Promise<void> {
    return this.enqueue('compact', docName, snapshot)
  }

  async load(docName: string): Promise<Uint8Array[]> {
    this.check()
    const r = await this.db.query<{ data: Uint8Array }>(
      `cannot load ${docName}`,
      'SELECT data FROM mw_updates WHERE doc = $1 ORDER BY id',
      [docName],
    )
    return r.rows.map((row) => ownBytes(row.data))
  }

  async list(): Promise<string[]> {
    this.check()
    const r = await this.db.query<{ doc: string }>('cannot list documents', 'SELECT doc FROM mw_docs')
    return r.rows.map((row) => row.doc)
  }

  /** Up to `limit` document names after `after` (all when undefined), in name order: {@link list} a page at a time. */
  async listPage(after: string | undefined, limit: number): Promise<string[]> {
    this.check()
    const r = await this.db.query<{ doc: string }>(
      'cannot list documents',
      'SELECT doc FROM mw_docs WHERE $1::text IS NULL OR doc > $1 ORDER BY doc LIMIT $2',
      [after ?? null, limit],
    )
    return r.rows.map((row) => row.doc)
  }

  /** The region's identity, drawn once when the schema was created: positions belong to it. */
  async logId(): Promise<string> {
    this.check()
    if (this.epoch !== undefined) return this.epoch
    const r = await this.db.query<{ epoch: string }>('cannot read the region identity', 'SELECT epoch FROM mw_region')
    const epoch = r.rows[0]?.epoch
    if (epoch === undefined) throw new StorageError('IO', 'the region identity (mw_region) is missing')
    return (this.epoch = epoch)
  }

  /** The document's records (as {@link load}) and a position below which every record of it is among them. */
  async loadAt(docName: string): Promise<{ records: Uint8Array[]; position: number }> {
    this.check()
    const r = await this.db.query<{ h: string; data: Uint8Array | null }>(
      `cannot load ${docName}`,
      `SELECT h.h::text AS h, u.data FROM (SELECT ${HORIZON} AS h) h LEFT JOIN mw_updates u ON u.doc = $1 ORDER BY u.id`,
      [docName],
    )
    return {
      position: toPosition(r.rows[0]?.h),
      records: r.rows.flatMap((row) => (row.data === null ? [] : [ownBytes(row.data)])),
    }
  }

  /**
   * The records other writers (other processes, earlier runs of this one) wrote at or after
   * `from` and below the returned position, of `docs` only when given. Gap-free: reading again
   * from the returned position misses no record, whatever order transactions commit in.
   */
  async readSince(from: number, docs?: readonly string[]): Promise<LogRead> {
    this.check()
    const onlyDocs = docs === undefined ? '' : 'AND doc = ANY($3::text[])'
    const params: unknown[] = [String(from), this.db.writer]
    if (docs !== undefined) params.push(docs)
    const r = await this.db.query<{ h: string; doc: string | null; data: Uint8Array | null; at: string | null; more: boolean }>(
      'cannot read the update log',
      `WITH h AS (SELECT ${HORIZON} AS h)
       SELECT h.h::text AS h, u.doc, u.data, u.xid::text AS at,
              EXISTS (SELECT 1 FROM mw_updates WHERE xid >= h.h AND writer IS DISTINCT FROM $2 ${onlyDocs}) AS more
       FROM h LEFT JOIN LATERAL (
         SELECT doc, data, xid, id FROM mw_updates WHERE xid >= $1::xid8 AND xid < h.h AND writer IS DISTINCT FROM $2 ${onlyDocs}
       ) u ON true
       ORDER BY u.xid, u.id`,
      params,
    )
    const records: LogRead['records'] = []
    for (const row of r.rows)
      if (row.doc !== null && row.data !== null)
        records.push({ docName: row.doc, data: ownBytes(row.data), at: toPosition(row.at ?? undefined) })
    return { position: toPosition(r.rows[0]?.h), records, more: r.rows[0]?.more === true }
  }

  /** Names of the documents with a record (of any writer) at or after `from`. */
  async changedSince(from: number): Promise<string[]> {
    this.check()
    const r = await this.db.query<{ doc: string }>(
      'cannot list changed documents',
      'SELECT DISTINCT doc FROM mw_updates WHERE xid >= $1::xid8',
      [String(from)],
    )
    return r.rows.map((row) => row.doc)
  }

  /** The position now: every record below it is visible. */
  async position(): Promise<number> {
    this.check()
    const r = await this.db.query<{ h: string }>('cannot read the update log position', `SELECT ${HORIZON}::text AS h`)
    return toPosition(r.rows[0]?.h)
  }

  /**
   * Replaces the document's records below position `below` by `snapshot` (one statement):
   * records of other writers the caller has not seen yet (at or past `below`) stay.
   */
  compactBelow(docName: string, snapshot: Uint8Array, below: number): Promise<void> {
    return this.enqueue('compact', docName, snapshot, below)
  }

  /** Writes refused by the lease fence since start (refused here or by the database). */
  fencedWrites(): number {
    return this.fenced
  }

  /**
   * Calls `fn` after any writer committed records (PostgreSQL LISTEN/NOTIFY; the notification
   * comes after the commit), and when the listening connection was (re)established, since
   * notifications may have been missed meanwhile. The connection is opened on the first call.
   */
  onCommit(fn: () => void): () => void {
    this.commitListeners.add(fn)
    if (!this.listening) {
      this.listening = true
      void this.listen(0)
    }
    return () => this.commitListeners.delete(fn)
  }

  private async listen(attempt: number): Promise<void> {
    if (this.closed) return
    try {
      const client = await this.db.dedicatedClient()
      if (this.closed) {
        await client.end().catch(() => {})
        return
      }
      client.on('notification', () => this.notify())
      client.once('end', () => {
        this.listener = undefined
        if (!this.closed) setTimeout(() => void this.listen(0), 100).unref()
      })
      await client.query(`LISTEN "${this.db.channel}"`)
      this.listener = client
      this.notify()
    } catch {
      // the database is down: try again, backing off up to 2 s
      setTimeout(() => void this.listen(attempt + 1), Math.min(2000, 50 * 2 ** attempt)).unref()
    }
  }

  private notify(): void {
    for (const fn of [...this.commitListeners]) fn()
  }

  /** Resolves once the writes queued now (and any queued meanwhile) are settled. */
  async flush(): Promise<void> {
    while (this.writing !== undefined) await this.writing
  }

  /** Waits for queued writes, then refuses new ones (the database connection belongs to the caller). */
  async close(): Promise<void> {
    this.closed = true
    while (this.writing !== undefined) await this.writing
    const listener = this.listener
    this.listener = undefined
    await listener?.end().catch(() => {})
  }

  private check(): void {
    if (this.closed) throw new StorageError('IO', 'PgUpdateStore is closed')
  }

  private enqueue(kind: Op['kind'], doc: string, data: Uint8Array, below?: number): Promise<void> {
    this.check()
    const account = this.fence === undefined ? undefined : docOwner(doc)
    const lease = account === undefined ? undefined : this.fence!.leaseFor(account)
    if (account !== undefined && lease === undefined) return Promise.reject(this.refusal(doc, account))
    return new Promise<void>((resolve, reject) => {
      const pending = { doc, data: data.slice(), lease, resolve, reject }
      this.queue.push(kind === 'append' ? { kind, ...pending } : { kind, below, ...pending })
      this.writing ??= this.drain()
    })
  }

  private refusal(doc: string, account: string, lease?: WriteLease): StorageError {
    this.fenced++
    const which =
      lease === undefined
        ? `this process (${this.fence?.processId}) holds neither the lease of ${account} nor the region's peer lease`
        : `the lease ${lease.account} epoch ${lease.epoch} of process ${this.fence?.processId} was lost (taken over, released or expired)`
    return new StorageError('FENCED', `write to ${doc} fenced: ${which}; nothing was written`)
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const first = this.queue[0]!
      if (first.kind === 'compact') {
        this.queue.shift()
        const below = first.below === undefined ? '' : 'AND xid < $6::xid8'
        await this.run([first], `cannot compact ${first.doc}`, (fenceArgs) => [
          `WITH ${FENCE},
                ok AS (SELECT 1 WHERE ($3::text[])[1] IS NULL OR EXISTS (SELECT 1 FROM f)),
                del AS (DELETE FROM mw_updates WHERE doc = $1 ${below} AND EXISTS (SELECT 1 FROM ok)),
                ins AS (INSERT INTO mw_updates (doc, data) SELECT $1, $2 FROM ok),
                d AS (INSERT INTO mw_docs (doc) SELECT $1 FROM ok ON CONFLICT DO NOTHING)
           ${this.result}`,
          [first.doc, asBuffer(first.data), ...fenceArgs, ...(first.below === undefined ? [] : [String(first.below)])],
        ])
        continue
      }
      const group: Op[] = []
      let bytes = 0
      while (group.length < GROUP_MAX && bytes < GROUP_MAX_BYTES && this.queue[0]?.kind === 'append') {
        const op = this.queue.shift()!
        group.push(op)
        bytes += op.data.length
      }
      const docs = group.map((o) => o.doc)
      await this.run(group, `cannot append to ${group.length === 1 ? docs[0] : `${group.length} documents`}`, (fenceArgs) => [
        // ORDER BY o: ids are drawn in call order, which is the order load returns
        `WITH ${FENCE},
              ins AS (INSERT INTO mw_updates (doc, data)
                SELECT d, b FROM unnest($1::text[], $2::bytea[], $3::text[], $4::int8[]) WITH ORDINALITY AS t(d, b, a, e, o)
                WHERE t.a IS NULL OR EXISTS (SELECT 1 FROM f WHERE f.account = t.a AND f.epoch = t.e) ORDER BY o RETURNING doc),
              d AS (INSERT INTO mw_docs (doc) SELECT DISTINCT doc FROM ins ON CONFLICT DO NOTHING)
         ${this.result}`,
        [docs, group.map((o) => asBuffer(o.data)), ...fenceArgs],
      ])
    }
    this.writing = undefined
  }

  /** The end of every writing statement: notifies the region's tailers, and returns the leases that passed the fence. */
  private get result(): string {
    return `SELECT f.account, f.epoch::text AS epoch FROM (SELECT pg_notify('${this.db.channel}', '')) n LEFT JOIN f ON true`
  }

  /**
   * Commits `ops` with the statement `build` makes from the fence parameters ($3..$5), then
   * settles each op: resolved when unfenced or its lease passed the fence, else FENCED.
   */
  private async run(ops: Op[], what: string, build: (fenceArgs: unknown[]) => [string, unknown[]]): Promise<void> {
    const fenceArgs = [ops.map((o) => o.lease?.account ?? null), ops.map((o) => o.lease?.epoch ?? null), this.fence?.processId ?? null]
    const [sql, params] = build(fenceArgs)
    let passed: Set<string>
    try {
      const r = await this.db.commit<{ account: string | null; epoch: string | null }>(what, sql, params)
      passed = new Set(r.rows.flatMap((row) => (row.account === null ? [] : [`${row.account}\n${row.epoch}`])))
    } catch (e) {
      for (const op of ops) op.reject(e)
      return
    }
    for (const op of ops) {
      if (op.lease === undefined || passed.has(`${op.lease.account}\n${op.lease.epoch}`)) op.resolve()
      else op.reject(this.refusal(op.doc, docOwner(op.doc) ?? op.doc, op.lease))
    }
  }
}

/** A position from its text form; positions are transaction ids, far below 2^53 in practice. */
function toPosition(text: string | undefined): number {
  const n = Number(text)
  if (text === undefined || !Number.isSafeInteger(n)) throw new StorageError('IO', `unexpected update log position ${String(text)}`)
  return n
}
