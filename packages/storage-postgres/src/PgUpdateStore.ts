import { StorageError, type UpdateStore } from '@mailweave/core'
import { asBuffer, ownBytes, type PgDatabase } from './PgDatabase.ts'

type Op =
  | { kind: 'append'; doc: string; data: Uint8Array; resolve: () => void; reject: (e: unknown) => void }
  | { kind: 'compact'; doc: string; data: Uint8Array; resolve: () => void; reject: (e: unknown) => void }

/** At most this many appends (or bytes) go into one group commit. */
const GROUP_MAX = 512
const GROUP_MAX_BYTES = 8 * 1024 * 1024

/**
 * An {@link UpdateStore} in PostgreSQL (table `mw_updates`, names in `mw_docs`). Writes run
 * in call order through one writer: the appends waiting while a commit is in flight go
 * into the next statement together (a group commit, one WAL flush), and a compaction
 * (delete the document's records, insert the snapshot) is one statement, so atomic.
 * A resolved append is committed with `synchronous_commit=on`.
 */
export class PgUpdateStore implements UpdateStore {
  private readonly queue: Op[] = []
  private writing: Promise<void> | undefined
  private closed = false

  constructor(private readonly db: PgDatabase) {}

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

  /** Waits for queued writes, then refuses new ones (the database connection belongs to the caller). */
  async close(): Promise<void> {
    this.closed = true
    while (this.writing !== undefined) await this.writing
  }

  private check(): void {
    if (this.closed) throw new StorageError('IO', 'PgUpdateStore is closed')
  }

  private enqueue(kind: Op['kind'], doc: string, data: Uint8Array): Promise<void> {
    this.check()
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ kind, doc, data: data.slice(), resolve, reject })
      this.writing ??= this.drain()
    })
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const first = this.queue[0]!
      if (first.kind === 'compact') {
        this.queue.shift()
        await this.run([first], () =>
          this.db.commit(
            `cannot compact ${first.doc}`,
            `WITH del AS (DELETE FROM mw_updates WHERE doc = $1), ins AS (INSERT INTO mw_updates (doc, data) VALUES ($1, $2)), d AS (INSERT INTO mw_docs (doc) VALUES ($1) ON CONFLICT DO NOTHING) SELECT 1`,
            [first.doc, asBuffer(first.data)],
          ),
        )
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
      await this.run(group, () =>
        this.db.commit(
          `cannot append to ${group.length === 1 ? docs[0] : `${group.length} documents`}`,
          // ORDER BY o: ids are drawn in call order, which is the order load returns
          `WITH ins AS (INSERT INTO mw_updates (doc, data) SELECT d, b FROM unnest($1::text[], $2::bytea[]) WITH ORDINALITY AS t(d, b, o) ORDER BY o),
                d AS (INSERT INTO mw_docs (doc) SELECT DISTINCT unnest($1::text[]) ON CONFLICT DO NOTHING) SELECT 1`,
          [docs, group.map((o) => asBuffer(o.data))],
        ),
      )
    }
    this.writing = undefined
  }

  private async run(ops: Op[], commit: () => Promise<void>): Promise<void> {
    try {
      await commit()
      for (const op of ops) op.resolve()
    } catch (e) {
      for (const op of ops) op.reject(e)
    }
  }
}
