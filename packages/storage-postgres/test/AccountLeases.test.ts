// Account leases of a region of several processes on one real PostgreSQL server (started
// by this file): takeover after expiry, rebalancing when a process joins, the cap, the
// handover, and the #peers role. Each test gets its own schema (its own region).
import { afterEach, describe, expect, it } from 'vitest'
import pg from 'pg'
import { usePostgresServer, waitFor } from '@mailweave/testkit'
import { AccountLeases, PgDatabase, PgStorage, rendezvousOrder } from '../src/index.ts'

const server = usePostgresServer()

let schemas = 0
const opened: { close(): Promise<void> }[] = []
afterEach(async () => {
  for (const o of opened.splice(0).reverse()) await o.close().catch(() => {})
})

/** A fresh region (schema) and a way to start processes in it. */
function region(ttlMs = 10_000) {
  const schema = `leases${++schemas}`
  return {
    schema,
    async process(name: string, options: { maxAccounts?: number; advertise?: boolean; ttlMs?: number } = {}) {
      const storage = await PgStorage.open({
        url: server().url(),
        schema,
        maxConnections: 3,
        process: name,
        leaseTtlMs: options.ttlMs ?? ttlMs,
        maxAccounts: options.maxAccounts,
        addresses: options.advertise === false ? undefined : { http: `http://${name}.test:1` },
      })
      opened.push(storage)
      return { storage, leases: storage.ownership! }
    },
    async sql<R extends pg.QueryResultRow>(text: string, params: unknown[] = []): Promise<R[]> {
      const c = new pg.Client({ connectionString: server().url(), options: `-c search_path=${schema}` })
      await c.connect()
      try {
        return (await c.query<R>(text, params)).rows
      } finally {
        await c.end()
      }
    },
  }
}

const users = (n: number, prefix = 'u') => Array.from({ length: n }, (_, i) => `${prefix}${i}`)

/** Routes `user` from `from`, following one hop to the process named (as the region's forwarding does). */
async function serve(user: string, from: AccountLeases, all: AccountLeases[]): Promise<string> {
  const r = await from.route(user)
  if (r.kind === 'local') return from.processId
  if (r.kind === 'unavailable') return `unavailable: ${r.reason}`
  const owner = all.find((l) => l.processId === r.owner.process)!
  const again = await owner.route(user)
  return again.kind === 'local' ? owner.processId : `not taken by ${owner.processId}: ${JSON.stringify(again)}`
}

describe('AccountLeases', () => {
  it('takes an account over with a new epoch once its owner stopped renewing, and the old owner reports it lost first', async () => {
    const r = region(1500)
    const dbA = await PgDatabase.connect({ url: server().url(), schema: r.schema, maxConnections: 2 })
    opened.push(dbA)
    const a = await AccountLeases.start(dbA, { process: 'a', ttlMs: 1500, addresses: { http: 'http://a.test:1' } })
    opened.push(a)
    const lostByA: string[] = []
    a.onLost((u) => lostByA.push(u))
    expect(await a.route('alice')).toEqual({ kind: 'local' })
    const [first] = await r.sql<{ owner: string; epoch: string }>(`SELECT owner, epoch::text FROM mw_leases WHERE account = 'alice'`)
    expect(first).toEqual({ owner: 'a', epoch: '1' })

    const { leases: b } = await r.process('b', { ttlMs: 1500 })
    expect(await b.route('alice')).toMatchObject({ kind: 'remote', owner: { process: 'a', http: 'http://a.test:1' } })
    // a's process can no longer reach the database: no renewal, no release
    await dbA.close()
    await waitFor(() => lostByA.includes('alice'), 10_000, 'a reporting alice lost')
    expect(a.ownedAccounts()).toEqual([])
    const lostAt = await r.sql<{ valid: boolean }>(`SELECT expires > clock_timestamp() AS valid FROM mw_leases WHERE account = 'alice'`)
    expect(lostAt[0]?.valid).toBe(true) // a gave up before the database let anyone take it
    await waitFor(async () => (await b.route('alice')).kind === 'local', 15_000, 'b taking alice over')
    const [now] = await r.sql<{ owner: string; epoch: string }>(`SELECT owner, epoch::text FROM mw_leases WHERE account = 'alice'`)
    expect(now).toEqual({ owner: 'b', epoch: '2' })
  })

  it('moves about a third of the accounts to a third process that joins, each to its rendezvous place, by handover', async () => {
    const r = region()
    const { leases: p1 } = await r.process('p1')
    const { leases: p2 } = await r.process('p2')
    await p1.renew()
    const accounts = users(300)
    for (const u of accounts) expect(await serve(u, p1, [p1, p2])).toMatch(/^p[12]$/)
    const before = new Map<string, string>()
    for (const u of p1.ownedAccounts()) before.set(u, 'p1')
    for (const u of p2.ownedAccounts()) before.set(u, 'p2')
    expect(before.size).toBe(300)
    for (const u of accounts) expect(before.get(u)).toBe(rendezvousOrder(u, ['p1', 'p2'])[0])

    const lost: string[] = []
    p1.onLost((u) => lost.push(u))
    p2.onLost((u) => lost.push(u))
    const { leases: p3 } = await r.process('p3')
    // a round sees p3, the next releases the accounts whose place is now p3
    for (let round = 0; round < 2; round++) for (const p of [p1, p2]) await p.renew()
    const moving = accounts.filter((u) => rendezvousOrder(u, ['p1', 'p2', 'p3'])[0] === 'p3')
    expect(moving.length).toBeGreaterThan(60) // ~1/3 of 300
    expect(moving.length).toBeLessThan(140)
    expect(lost.sort()).toEqual([...moving].sort())
    expect(p1.status().handedOver + p2.status().handedOver).toBe(moving.length)
    // released, not expiring: the new place serves them at once
    for (const u of moving) expect(await serve(u, p1, [p1, p2, p3])).toBe('p3')
    for (const u of accounts.filter((a) => !moving.includes(a))) expect(await serve(u, p3, [p1, p2, p3])).toBe(before.get(u))
    const [{ n }] = (await r.sql<{ n: string }>(
      `SELECT count(*)::text AS n FROM mw_leases WHERE account LIKE 'u%' AND expires > clock_timestamp()`,
    )) as [{ n: string }]
    expect(Number(n)).toBe(300)
    expect(p3.status()).toMatchObject({ ownedAccounts: moving.length, liveProcesses: ['p1', 'p2', 'p3'] })
  })

  it('owns at most maxAccounts: past it, route answers the next live process or unavailable', async () => {
    const r = region()
    const { leases: small } = await r.process('small', { maxAccounts: 2 })
    const owned: string[] = []
    const refused: string[] = []
    for (const u of users(5, 'cap')) {
      const route = await small.route(u)
      if (route.kind === 'local') owned.push(u)
      else {
        expect(route).toMatchObject({ kind: 'unavailable', reason: expect.stringMatching(/cap/) })
        refused.push(u)
      }
    }
    expect(owned).toHaveLength(2)
    expect(small.ownedAccounts().sort()).toEqual(owned.sort())
    expect(await small.acquire(refused)).toEqual([]) // the batch path keeps the cap too

    const { leases: big } = await r.process('big')
    await small.renew() // sees big, and tells the region it is full
    await big.renew()
    for (const u of refused) expect(await small.route(u)).toMatchObject({ kind: 'remote', owner: { process: 'big' } })
    // big does not hand anything to small while small is full, even where small is the place
    const toSmall = users(40, 'more').filter((u) => rendezvousOrder(u, ['small', 'big'])[0] === 'small')
    expect(toSmall.length).toBeGreaterThan(0)
    for (const u of toSmall) expect(await big.route(u)).toEqual({ kind: 'local' })
    // rebalancing rounds (small hands over what is big's place now, big what is small's once
    // small has room) never take small past its cap, and every account stays served once
    for (let round = 0; round < 3; round++) {
      for (const p of [small, big]) await p.renew()
      expect(small.ownedAccounts().length).toBeLessThanOrEqual(2)
      for (const u of [...owned, ...refused, ...toSmall]) expect(await serve(u, big, [small, big])).toMatch(/^(small|big)$/)
    }
    expect(small.ownedAccounts().length).toBe(2)
  })

  it('gives the #peers role to one process, which keeps it, and to another when it closes', async () => {
    const r = region()
    const { leases: a } = await r.process('a')
    const gained: string[] = []
    a.onPeersGained(() => gained.push('a'))
    await waitFor(async () => (await a.routePeers()).kind === 'local', 10_000, 'a taking #peers')
    const { leases: b } = await r.process('b')
    b.onPeersGained(() => gained.push('b'))
    await b.renew()
    await a.renew()
    expect(await b.routePeers()).toMatchObject({ kind: 'remote', owner: { process: 'a' } })
    expect(a.status().peers).toBe(true)
    await a.close()
    await waitFor(async () => (await b.routePeers()).kind === 'local', 15_000, 'b taking #peers after a closed')
    expect(gained).toEqual(['a', 'b'])
  })

  it('takes an account once when many routes for it race (every take would bump the epoch and fence writes in flight)', async () => {
    const r = region()
    const { storage, leases } = await r.process('solo')
    const routes = await Promise.all(Array.from({ length: 20 }, () => leases.route('erin')))
    expect(routes.every((x) => x.kind === 'local')).toBe(true)
    const [row] = await r.sql<{ epoch: string }>(`SELECT epoch::text FROM mw_leases WHERE account = 'erin'`)
    expect(row?.epoch).toBe('1')
    // writes queued when the leases close (a node stopping) commit before the lease is released
    const writes = Array.from({ length: 50 }, (_, i) => storage.updates.append('acct/erin', Uint8Array.of(i)))
    await leases.close()
    await storage.close()
    await Promise.all(writes)
    expect(storage.stats().fencedWrites).toBe(0)
    const [after] = await r.sql<{ n: string; valid: boolean }>(
      `SELECT (SELECT count(*) FROM mw_updates WHERE doc = 'acct/erin')::text AS n, expires > clock_timestamp() AS valid FROM mw_leases WHERE account = 'erin'`,
    )
    expect(after).toEqual({ n: '50', valid: false })
  })

  it("an unadvertised process is nobody's place; once advertised it is", async () => {
    const r = region()
    const { leases: quiet } = await r.process('quiet', { advertise: false })
    expect(await quiet.route('solo')).toMatchObject({ kind: 'unavailable', reason: expect.stringMatching(/no live process/) })
    await quiet.advertise({ http: 'http://quiet.test:1', imap: 'quiet.test:143' })
    expect(await quiet.route('solo')).toEqual({ kind: 'local' })
    expect(await quiet.route('../x')).toMatchObject({ kind: 'unavailable' })
  })
})
