// PgUpdateStore as the shared log of a region's processes (readSince, changedSince,
// compactBelow, onCommit, the region identity) against a real PostgreSQL server.
import { afterEach, describe, expect, it } from 'vitest'
import pg from 'pg'
import { usePostgresServer, waitFor } from '@mailweave/testkit'
import { PgDatabase, PgUpdateStore } from '../src/index.ts'

const server = usePostgresServer()
const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

let schemas = 0
/** Two "processes" (two pools) on one fresh schema, and a raw client on it. */
async function region() {
  const schema = `log${++schemas}`
  const open = async () => {
    const db = await PgDatabase.connect({ url: server().url(), schema, maxConnections: 4 })
    const store = new PgUpdateStore(db)
    cleanups.push(async () => {
      await store.close()
      await db.close()
    })
    return store
  }
  const raw = new pg.Client({ connectionString: server().url(), options: `-c search_path=${schema}` })
  await raw.connect()
  cleanups.push(() => raw.end())
  return { a: await open(), b: await open(), raw, schema, open }
}

const bytes = (...b: number[]) => Uint8Array.from(b)

describe('PgUpdateStore as a shared log', () => {
  it('reads what other writers committed, skips its own, and misses no row committed out of id order', async () => {
    const { a, b, raw } = await region()
    const start = await a.position()
    await a.append('d', bytes(1))
    await b.append('d', bytes(2))
    const first = await a.readSince(start)
    expect(first.records.map((r) => [r.docName, [...r.data]])).toEqual([['d', [2]]]) // not its own [1]
    expect(first.position).toBeGreaterThan(start)

    // a writer draws its row id first and commits last
    await raw.query('BEGIN')
    await raw.query(`INSERT INTO mw_updates (doc, data) VALUES ('d', '\\x03')`)
    await b.append('e', bytes(4))
    const ids = await a.readSince(first.position)
    // the late row is still open, so the one committed after it is not handed out yet either
    expect(ids.records).toEqual([])
    expect(ids.more).toBe(true)
    await raw.query('COMMIT')
    const order = await raw.query<{ doc: string; id: string }>(`SELECT doc, id FROM mw_updates WHERE doc IN ('d', 'e') ORDER BY id`)
    // the premise: the late commit holds the smaller id, so "id > last seen" would skip it
    expect(order.rows.map((r) => r.doc)).toEqual(['d', 'd', 'd', 'e'])
    const second = await a.readSince(first.position)
    expect(second.records.map((r) => [r.docName, [...r.data]]).sort()).toEqual([
      ['d', [3]],
      ['e', [4]],
    ])
    expect(second.more).toBe(false)
    expect((await a.readSince(second.position)).records).toEqual([])
    // only the asked documents
    await b.append('f', bytes(5))
    await b.append('g', bytes(6))
    await waitFor(async () => (await a.readSince(second.position, ['g'])).records.length === 1, 10_000, 'g readable')
    expect((await a.readSince(second.position, ['g'])).records.map((r) => r.docName)).toEqual(['g'])
    expect((await a.changedSince(second.position)).sort()).toEqual(['f', 'g'])
    expect((await a.changedSince(start)).sort()).toEqual(['d', 'e', 'f', 'g'])
  })

  it('compactBelow keeps the records the compacting process has not seen', async () => {
    const { a, b } = await region()
    await a.append('d', bytes(1))
    const seen = await a.position()
    await b.append('d', bytes(2))
    await a.compactBelow('d', bytes(9), seen)
    expect((await b.load('d')).map((r) => [...r])).toEqual([[2], [9]])
    const loaded = await b.loadAt('d')
    expect(loaded.records.map((r) => [...r])).toEqual([[2], [9]])
    expect(loaded.position).toBeGreaterThanOrEqual(seen)
  })

  it('calls onCommit after another process commits', async () => {
    const { a, b } = await region()
    let calls = 0
    a.onCommit(() => calls++)
    await waitFor(() => calls >= 1, 10_000, 'the first call once listening')
    const before = calls
    await b.append('d', bytes(1))
    await waitFor(() => calls > before, 10_000, 'notified of the commit')
  })

  it('keeps one region identity, and opens tables of the previous version (no position columns)', async () => {
    const { a, b, raw, schema, open } = await region()
    expect(await a.logId()).toBe(await b.logId())
    await raw.query(`CREATE SCHEMA old_${schema}`)
    await raw.query(`CREATE TABLE old_${schema}.mw_updates (id bigserial PRIMARY KEY, doc text NOT NULL, data bytea NOT NULL)`)
    await raw.query(`INSERT INTO old_${schema}.mw_updates (doc, data) VALUES ('d', '\\x01')`)
    const db = await PgDatabase.connect({ url: server().url(), schema: `old_${schema}`, maxConnections: 2 })
    const old = new PgUpdateStore(db)
    cleanups.push(async () => {
      await old.close()
      await db.close()
    })
    expect((await old.load('d')).map((r) => [...r])).toEqual([[1]])
    const from = await old.position()
    await old.append('d', bytes(2))
    expect(await old.changedSince(from)).toEqual(['d'])
    expect(await old.logId()).not.toBe(await a.logId())
    const again = await open()
    expect(await again.logId()).toBe(await a.logId())
  })
})
