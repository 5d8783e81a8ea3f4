// Regions of several processes sharing one PostgreSQL each (`serve --process`): two regions
// (eu, us), two processes each, real IMAP clients (imapflow) checked by the model client
// (S1..S5) and, at the end, against every other process and region (C1, C2). Faults: kill -9
// of the process owning an account and `pg_ctl stop -m immediate` of the region's database,
// both while clients APPEND.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitFor } from '@mailweave/testkit'
import { ProcessCluster, type NodeProcess } from '@mailweave/testkit-cluster'
import { RegionClient, allAcked, leaseOwner } from './helpers/regionClients.ts'

/** The account lease TTL of every process (ms): short, so takeovers happen within the test. */
const TTL = 3000
const PASS = 'region-pass-1'
const backoff = () => new Promise((resolve) => setTimeout(resolve, 50))

describe('regions of two processes on one PostgreSQL each, with real IMAP clients', () => {
  let cluster: ProcessCluster
  beforeAll(async () => {
    cluster = await ProcessCluster.start({ nodes: ['eu', 'us'], processes: 2, postgres: true, imap: true, leaseTtlMs: TTL })
    for (const user of ['kim', 'pat']) await cluster.addUser(user, PASS)
    await cluster.linksAre('open')
  }, 180_000)
  afterAll(async () => {
    await cluster?.stop()
  })

  const eu = () => cluster.region('eu').processes
  /** The other process of `p`'s region. */
  const sibling = (p: NodeProcess) => cluster.region(p.id).processes.find((q) => q !== p)!
  /** A client of `user` that prefers process `first` of eu and falls back to the other. */
  const euClient = (user: string, first: number, globalUids: Map<number, string>, tag = '') =>
    new RegionClient(`${user}@eu-${first + 1}${tag}`, () => [eu()[first]!.imapPort, eu()[1 - first]!.imapPort], user, PASS, globalUids)
  /** The process owning `user` in eu once some process took its lease. */
  const ownerOf = async (user: string): Promise<NodeProcess> => {
    let owner: string | undefined
    await waitFor(async () => (owner = await leaseOwner(cluster, 'eu', user)) !== undefined, 30_000, `a process to own ${user}`, 50)
    return cluster.process(owner!)
  }

  /**
   * The final checks of one account: every acknowledged APPEND is at the UID it was
   * acknowledged with at every process of eu and, once replicated, at us, whose view is the
   * same (C1); every client that syncs again holds it (C2); `absent` is nowhere.
   */
  const checkEverywhere = async (user: string, clients: RegionClient[], globalUids: Map<number, string>, absent: string[] = []) => {
    const acked = allAcked(clients) // throws on one UID acknowledged for two messages
    const processes = [...eu(), ...cluster.region('us').processes]
    const views = processes.map((p) => new RegionClient(`${user}@${p.name} (final)`, () => [p.imapPort], user, PASS, globalUids))
    try {
      let missing = 'no complete sync yet'
      await waitFor(
        async () => {
          for (const v of views) if (!(await v.sync())) return ((missing = `${v.name}: sync not complete`), false)
          const gaps = views.flatMap((v) =>
            [...acked]
              .filter(([id, uid]) => v.model.cache.get(uid) !== id)
              .map(
                ([id, uid]) =>
                  `${v.name} lacks ${id} at ${uid} (has ${v.model.cache.get(uid)}; ${id} at ${[...v.model.cache].find(([, g]) => g === id)?.[0]})`,
              ),
          )
          missing = gaps.slice(0, 5).join('; ')
          return gaps.length === 0
        },
        60_000,
        `every acknowledged APPEND of ${user} at its UID at every process of both regions`,
        100,
      ).catch((e: unknown) => {
        throw new Error(`${String(e)}: ${missing}`)
      })
      const first = JSON.stringify([...views[0]!.model.cache])
      await waitFor(
        async () => {
          for (const v of views) if (!(await v.sync())) return false
          return views.every((v) => JSON.stringify([...v.model.cache]) === JSON.stringify([...views[0]!.model.cache]))
        },
        30_000,
        `one view of ${user} at every process of both regions (first was ${first.slice(0, 200)})`,
        100,
      )
      for (const c of clients) {
        await waitFor(() => c.sync(), 30_000, `${c.name} syncs again`, 100)
        for (const id of acked.keys()) expect(c.model.guids().has(id), `${c.name} holds ${id}`).toBe(true)
      }
      const everywhere = new Set(views[0]!.model.cache.values())
      for (const id of absent) expect(everywhere.has(id), `${id} must be nowhere`).toBe(false)
      const uids = [...views[0]!.model.cache.keys()]
      expect(new Set(uids).size).toBe(uids.length)
      return { acked, view: views[0]!.model.cache }
    } finally {
      await Promise.all(views.map((v) => v.close()))
    }
  }

  /** Clients APPENDing in a loop (each syncing every fifth APPEND) until `stop()`; resolves once they all ended. */
  const appendLoop = (clients: RegionClient[], prefix: string, onAck?: (c: RegionClient, sentAt: number) => void) => {
    let stopped = false
    let n = 0
    const loops = clients.map(async (c) => {
      while (!stopped) {
        const sentAt = performance.now()
        const o = await c.append(`${prefix}-${c.name}-${n++}@regions`)
        if (o.kind === 'acked') {
          onAck?.(c, sentAt)
          if (n % 5 === 0) await c.sync()
        } else await backoff()
      }
    })
    return {
      acks: () => clients.reduce((k, c) => k + [...c.acked.keys()].filter((id) => id.startsWith(prefix)).length, 0),
      stop: async () => {
        stopped = true
        await Promise.all(loops)
      },
    }
  }

  it('kill -9 of the process owning an account while clients APPEND: the other process serves it within the lease TTL plus its load time, every acknowledged APPEND is there, no UID reused', async () => {
    const globalUids = new Map<number, string>()
    const clients = [euClient('kim', 0, globalUids), euClient('kim', 1, globalUids)]
    expect((await clients[0]!.append('kim-first@regions')).kind).toBe('acked')
    const victim = await ownerOf('kim')
    const survivor = sibling(victim)
    let killedAt = Infinity
    let servedAt = Infinity
    const load = appendLoop(clients, 'kim', (_, sentAt) => {
      if (sentAt > killedAt && servedAt === Infinity) servedAt = performance.now()
    })
    try {
      await waitFor(() => load.acks() >= 20, 60_000, '20 APPENDs acknowledged before the kill')
      await victim.kill()
      killedAt = performance.now()
      await waitFor(() => servedAt < Infinity, TTL + 60_000, `${survivor.name} to serve kim after ${victim.name} was killed`)
      const ackedAtKill = load.acks()
      await waitFor(() => load.acks() >= ackedAtKill + 10, 30_000, '10 more APPENDs acknowledged by the survivor')
      // the killed process comes back (the account may move back to it): clients keep going
      await cluster.restart(victim.name)
      const ackedAtRestart = load.acks()
      await waitFor(() => load.acks() >= ackedAtRestart + 10, 60_000, '10 more APPENDs acknowledged after the restart')
    } finally {
      await load.stop()
    }
    const failoverMs = Math.round(servedAt - killedAt)
    const { acked, view } = await checkEverywhere('kim', clients, globalUids)
    await Promise.all(clients.map((c) => c.close()))
    const cutOff = clients.reduce((k, c) => k + c.unknown.size, 0)
    const refused = clients.reduce((k, c) => k + c.refused.size, 0)
    console.log(
      `kill -9 of ${victim.name} (owner of kim): ${survivor.name} served kim ${failoverMs} ms later (lease TTL ${TTL} ms); ` +
        `${acked.size} APPENDs acknowledged, ${refused} refused and ${cutOff} cut off meanwhile, ${view.size} messages in the final view`,
    )
    // the lease TTL plus a generous bound of the account's load time on a loaded machine
    expect(failoverMs).toBeLessThan(TTL + 30_000)
  }, 300_000)

  it('pg_ctl stop -m immediate during APPENDs through both processes: every acknowledged APPEND is there afterwards at its UID, no UID reused', async () => {
    const globalUids = new Map<number, string>()
    const clients = [euClient('pat', 0, globalUids), euClient('pat', 1, globalUids)]
    const db = cluster.region('eu').database!
    const refusals = () => clients.reduce((k, c) => k + c.refused.size + c.unknown.size, 0)
    const load = appendLoop(clients, 'pat')
    let ackedBeforeCrash = 0
    try {
      await waitFor(() => load.acks() >= 20, 60_000, '20 APPENDs acknowledged before the crash')
      await db.stopImmediate()
      const crashedAt = performance.now()
      ackedBeforeCrash = load.acks()
      // the database stays down for two lease TTLs while the clients' APPENDs wait or fail
      await waitFor(() => performance.now() - crashedAt >= 2 * TTL, 60_000, 'the outage to last two lease TTLs')
      await db.restart()
      const ackedAtRestart = load.acks()
      await waitFor(() => load.acks() >= ackedAtRestart + 20, 90_000, '20 APPENDs acknowledged after the database came back')
    } finally {
      await load.stop()
    }
    // both processes crash too: fresh processes load everything from the database
    for (const p of eu()) await p.kill()
    for (const p of eu()) await cluster.restart(p.name)
    const { acked, view } = await checkEverywhere('pat', clients, globalUids)
    await Promise.all(clients.map((c) => c.close()))
    console.log(
      `pg_ctl stop -m immediate under two processes: ${acked.size} APPENDs acknowledged (${ackedBeforeCrash} before the crash), ` +
        `${refusals()} refused or cut off, ${view.size} messages after both processes restarted`,
    )
  }, 300_000)
})
