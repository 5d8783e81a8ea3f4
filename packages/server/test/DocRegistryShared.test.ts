// Registries of several "processes" of one region over one real PostgreSQL (the database is
// the bus), and the change counter of a registry over a store of one process saved at a stop.
import * as Y from 'yjs'
import { afterEach, describe, expect, it } from 'vitest'
import { MemoryUpdateStore } from '@mailweave/core'
import { usePostgresServer, waitFor } from '@mailweave/testkit'
import { PgDatabase, PgUpdateStore } from '@mailweave/storage-postgres'
import { silentLogger } from '../src/index.ts'
import { DocRegistry, FROM_STORE, type DocRegistryOptions } from '../src/DocRegistry.ts'

const server = usePostgresServer()
const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

let schemas = 0
/** A region: `process()` opens one more registry (its own pool) on the same schema. */
function region() {
  const schema = `bus${++schemas}`
  const stores: PgUpdateStore[] = []
  return {
    schema,
    stores,
    async process(options: Partial<DocRegistryOptions> = {}) {
      const db = await PgDatabase.connect({ url: server().url(), schema, maxConnections: 4 })
      const store = new PgUpdateStore(db)
      stores.push(store)
      const registry = await DocRegistry.create(store, { log: silentLogger(), pollMs: 100, ...options })
      cleanups.push(async () => {
        await registry.close()
        await store.close()
        await db.close()
      })
      return registry
    },
  }
}

const text = (doc: Y.Doc) => doc.getText('t').toString()

describe('DocRegistry over a shared PostgreSQL store', () => {
  it('two processes converge on one document; what the other wrote reaches listeners once, as from-store', async () => {
    const r = region()
    const a = await r.process()
    const b = await r.process()
    const seenByB: [string, unknown][] = []
    b.onUpdate((name, _u, origin) => seenByB.push([name, origin]))
    const ha = await a.open('x')
    const hb = await b.open('x')
    ha.doc.getText('t').insert(0, 'from a. ')
    hb.doc.getText('t').insert(0, 'from b. ')
    await a.flush('x')
    await b.flush('x')
    await waitFor(() => text(ha.doc) === text(hb.doc) && text(ha.doc).length === 16, 20_000, 'both processes hold both writes')
    expect(seenByB.filter(([, o]) => o === FROM_STORE)).toEqual([['x', FROM_STORE]])
    // nothing was written twice: a record of the other process is never persisted again
    const records = await r.stores[0]!.load('x')
    expect(records).toHaveLength(2)
    // a third process loads what both wrote
    const c = await r.process()
    const hc = await c.open('x')
    expect(text(hc.doc)).toBe(text(ha.doc))
    for (const h of [ha, hb, hc]) h.release()
  })

  it('misses no record when a writer that drew the smaller row id commits last', async () => {
    const r = region()
    const a = await r.process()
    let reads = 0
    const store = r.stores[0]!
    const readSince = store.readSince.bind(store)
    store.readSince = (...args) => {
      reads++
      return readSince(...args)
    }
    const ha = await a.open('x')
    // another process's connection, in a transaction of its own
    const rawDb = await PgDatabase.connect({ url: server().url(), schema: r.schema, maxConnections: 1 })
    const raw = await rawDb.pool.connect()
    cleanups.push(async () => {
      raw.release()
      await rawDb.close()
    })
    const late = new Y.Doc()
    late.getText('t').insert(0, 'late ')
    const early = new Y.Doc()
    early.getText('t').insert(0, 'early ')
    await raw.query('BEGIN')
    await raw.query('INSERT INTO mw_updates (doc, data) VALUES ($1, $2)', ['x', Buffer.from(Y.encodeStateAsUpdate(late))])
    const other = new PgUpdateStore(await PgDatabase.connect({ url: server().url(), schema: r.schema, maxConnections: 1 }))
    cleanups.push(() => other.close())
    await other.append('x', Y.encodeStateAsUpdate(early))
    // process a reads the log (commit signal and polls) while the first writer is still open
    const before = reads
    await waitFor(() => reads >= before + 3, 20_000, 'reads while the late writer is open')
    await raw.query('COMMIT')
    const ids = await raw.query<{ id: string }>(`SELECT id FROM mw_updates WHERE doc = 'x' ORDER BY xid`)
    expect(Number(ids.rows[0]!.id)).toBeLessThan(Number(ids.rows[1]!.id)) // the premise: "id > last seen" would skip it
    await waitFor(() => text(ha.doc).includes('late') && text(ha.doc).includes('early'), 20_000, 'both records applied')
    ha.release()
  })

  it('following all, writes of documents not loaded reach the listeners, and the cursor survives a restart', async () => {
    const r = region()
    const peers = await r.process({ followAll: true })
    const writer = await r.process()
    const seen = new Map<string, number>()
    peers.onUpdate((name) => seen.set(name, (seen.get(name) ?? 0) + 1))
    const start = peers.changeCursor()
    for (const name of ['m1', 'm2', 'm3']) {
      const h = await writer.open(name)
      h.doc.getText('t').insert(0, name)
      await writer.flush(name)
      h.release()
    }
    await waitFor(() => seen.size === 3, 20_000, 'every write forwarded')
    expect([...seen.values()]).toEqual([1, 1, 1])
    await waitFor(() => peers.changeCursor().seq > start.seq, 20_000, 'the cursor moves')
    expect((await peers.changedSince(start))?.sort()).toEqual(['m1', 'm2', 'm3'])
    const cursor = peers.changeCursor()
    expect(await peers.changedSince(cursor)).toEqual([])
    // a restarted peer process answers the same cursor from the database: nothing changed
    const restarted = await r.process({ followAll: true })
    expect(restarted.changeCursor().epoch).toBe(cursor.epoch)
    expect(await restarted.changedSince(cursor)).toEqual([])
    const h = await writer.open('m2')
    h.doc.getText('t').insert(0, 'again ')
    await writer.flush('m2')
    h.release()
    expect(await restarted.changedSince(cursor)).toEqual(['m2'])
    expect(await restarted.changedSince({ epoch: 'another region', seq: 0 })).toBeUndefined()
  })

  it('following all, the cursor does not pass a local update that is durable but held back from the listeners', async () => {
    const r = region()
    const peers = await r.process({ followAll: true })
    const writer = await r.process()
    const seen: string[] = []
    peers.onUpdate((name) => seen.push(name))
    const h = await peers.open('held')
    let release = () => {}
    peers.hold('held', new Promise<void>((resolve) => (release = resolve))) // a body still being written
    cleanups.push(async () => release()) // runs first: a failed wait leaves nothing held
    h.doc.getText('t').insert(0, 'fact')
    const db = await PgDatabase.connect({ url: server().url(), schema: r.schema, maxConnections: 1 })
    cleanups.push(() => db.close())
    await waitFor(async () => (await db.pool.query(`SELECT 1 FROM mw_updates WHERE doc = 'held'`)).rows.length === 1, 20_000, 'stored')
    const at = Number((await db.pool.query<{ x: string }>(`SELECT xid::text AS x FROM mw_updates WHERE doc = 'held'`)).rows[0]!.x)
    // another process writes: the reads that hand its record out lie past the held one
    const o = await writer.open('other')
    o.doc.getText('t').insert(0, 'x')
    await writer.flush('other')
    o.release()
    await waitFor(() => seen.includes('other'), 20_000, 'the other write handed out')
    await waitFor(async () => (await r.stores[0]!.position()) > at, 20_000, 'the log moved past the held record')
    const more = await writer.open('more')
    more.doc.getText('t').insert(0, 'y')
    await writer.flush('more')
    more.release()
    await waitFor(() => seen.includes('more'), 20_000, 'a later read done')
    expect(seen).not.toContain('held')
    expect(peers.changeCursor().seq).toBeLessThanOrEqual(at)
    release()
    await peers.flush('held')
    await waitFor(() => peers.changeCursor().seq > at, 20_000, 'the cursor moves once the update reached the listeners')
    expect(seen).toContain('held')
    h.release()
  })

  it('lists every stored document a page at a time, and loaded ones not stored yet', async () => {
    const r = region()
    const a = await r.process()
    const db = await PgDatabase.connect({ url: server().url(), schema: r.schema, maxConnections: 1 })
    cleanups.push(() => db.close())
    await db.pool.query(`INSERT INTO mw_docs SELECT 'n' || lpad(g::text, 5, '0') FROM generate_series(1, 2500) g`)
    const store = r.stores[0]!
    const listPage = store.listPage.bind(store)
    let pages = 0
    store.listPage = (...args) => {
      pages++
      return listPage(...args)
    }
    const h = await a.open('loaded, never written')
    const names: string[] = []
    for await (const name of a.allDocs()) names.push(name)
    expect(names).toHaveLength(2501)
    expect(new Set(names).size).toBe(2501)
    expect(names).toContain('loaded, never written')
    expect(pages).toBe(3)
    h.release()
  })

  it('compaction keeps the records of other processes it has not seen yet', async () => {
    const r = region()
    const a = await r.process({ compactAfter: 5 })
    const b = await r.process()
    // a's reads of the log can be held back, and report how far they got
    const store = r.stores[0]!
    const readSince = store.readSince.bind(store)
    const held: { gate?: Promise<void> } = {}
    let open = () => {}
    let readTo = 0
    store.readSince = async (...args) => {
      if (held.gate !== undefined) await held.gate
      const read = await readSince(...args)
      readTo = Math.max(readTo, read.position)
      return read
    }
    const ha = await a.open('x')
    const hb = await b.open('x')
    for (let i = 0; i < 2; i++) {
      ha.doc.getText('t').insert(0, 'a')
      await a.flush('x')
    }
    const written = await store.position()
    await waitFor(() => readTo >= written, 20_000, 'a read past its own writes')
    held.gate = new Promise((resolve) => (open = resolve))
    cleanups.push(async () => open()) // runs first: a failed wait leaves no read held
    hb.doc.getText('t').insert(0, 'b ')
    await b.flush('x')
    for (let i = 0; i < 3; i++) {
      ha.doc.getText('t').insert(0, 'a')
      await a.flush('x')
    }
    // the fifth record compacts: a's first two records go, b's unseen one stays
    await waitFor(async () => (await store.load('x')).length === 5, 20_000, 'compacted')
    open()
    ha.release()
    hb.release()
    const hc = await (await r.process()).open('x')
    expect(text(hc.doc)).toContain('b ')
    expect(text(hc.doc).replace('b ', '')).toBe('aaaaa')
    hc.release()
  })
})

describe('DocRegistry change counter over a store of one process', () => {
  it('goes on from the cursor saved at a clean stop, and forgets the oldest documents past its bound', async () => {
    const store = new MemoryUpdateStore()
    const write = async (registry: DocRegistry, name: string) => {
      const h = await registry.open(name)
      h.doc.getText('t').insert(0, name)
      await registry.flush(name)
      h.release()
    }
    const first = await DocRegistry.create(store, { log: silentLogger(), maxChanges: 3 })
    for (const name of ['a', 'b', 'c', 'd']) await write(first, name)
    const mid = first.changeCursor()
    expect(await first.changedSince({ epoch: mid.epoch, seq: 0 })).toBeUndefined() // 'a' was forgotten
    expect(await first.changedSince({ epoch: mid.epoch, seq: 1 })).toEqual(['b', 'c', 'd'])
    await first.close()
    const saved = first.savedCursor()!
    const second = await DocRegistry.create(store, { log: silentLogger(), maxChanges: 3, cursor: saved })
    expect(second.changeCursor()).toEqual(mid)
    expect(await second.changedSince(mid)).toEqual([])
    await write(second, 'b')
    expect(await second.changedSince(mid)).toEqual(['b'])
    expect(await second.changedSince({ epoch: mid.epoch, seq: 2 })).toEqual(['c', 'd', 'b'])
    const names: string[] = []
    for await (const name of second.allDocs()) names.push(name)
    expect(names.sort()).toEqual(['a', 'b', 'c', 'd'])
    await second.close()
    const fresh = await DocRegistry.create(store, { log: silentLogger() })
    expect(fresh.changeCursor().epoch).not.toBe(mid.epoch)
    expect(await fresh.changedSince(mid)).toBeUndefined()
    await fresh.close()
  })
})
