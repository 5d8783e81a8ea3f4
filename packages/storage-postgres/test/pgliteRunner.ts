// A PgQueryRunner on PGlite (PostgreSQL compiled to WebAssembly, in this process): the
// conformance suites' extra run. PGlite is one session, so statements and transactions take
// turns: a transaction holds the session from connect() to release(), and a plain query waits
// for it, as a pool connection would have to.
import { PGlite } from '@electric-sql/pglite'
import type pg from 'pg'
import type { PgQueryRunner, PgRunnerClient } from '../src/index.ts'

/** The result shape PgDatabase's callers read (`rows`, `rowCount`). */
const asResult = <R extends pg.QueryResultRow>(r: { rows: R[]; affectedRows?: number }): pg.QueryResult<R> =>
  ({ rows: r.rows, rowCount: r.affectedRows ?? r.rows.length, command: '', oid: 0, fields: [] }) as pg.QueryResult<R>

/** A runner over `db`; `end` closes the PGlite instance. */
export function pgliteRunner(db: PGlite): PgQueryRunner {
  let turn: Promise<void> = Promise.resolve()
  /** Resolves once the session is this caller's; the returned function gives it back. */
  const take = async (): Promise<() => void> => {
    let give!: () => void
    const prev = turn
    turn = new Promise<void>((r) => (give = r))
    await prev
    return give
  }
  const run = async <R extends pg.QueryResultRow>(sql: string, params: unknown[] = []) => asResult<R>(await db.query<R>(sql, params))
  return {
    async query<R extends pg.QueryResultRow>(sql: string, params?: unknown[]) {
      const give = await take()
      try {
        return await run<R>(sql, params)
      } finally {
        give()
      }
    },
    async connect(): Promise<PgRunnerClient> {
      const give = await take()
      return { query: run, release: give }
    },
    async end() {
      await db.close()
    },
  }
}

export { PGlite }
