// A region on PostgreSQL (`mailweave serve --store postgres://…`) with a real database that
// this file starts (initdb in a temporary directory) and crashes: `pg_ctl stop -m immediate`
// while IMAP clients APPEND. Every acknowledged APPEND must be there afterwards, at the UID
// it was acknowledged with, and no UID names two messages.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ImapFlow } from 'imapflow'
import { PostgresServer, waitFor } from '@mailweave/testkit'
import { ProcessCluster } from '@mailweave/testkit-cluster'
import { imapflowView } from '../scripts/lib/imapClients.ts'

const USER = 'pia'
const PASS = 'pg-pass-1'
const raw = (id: string) => `From: pg@example.org\r\nTo: pia@example.org\r\nSubject: ${id}\r\nMessage-ID: <${id}>\r\n\r\nbody of ${id}\r\n`

describe('a region on PostgreSQL', () => {
  let pg: PostgresServer
  let cluster: ProcessCluster
  beforeAll(async () => {
    pg = await PostgresServer.start()
    cluster = await ProcessCluster.start({ nodes: ['eu'], imap: true, proxies: false, node: () => ({ args: ['--store', pg.url()] }) })
    await cluster.addUser(USER, PASS)
  }, 180_000)
  afterAll(async () => {
    await cluster?.stop()
    await pg?.stop()
  })

  const connect = async () => {
    const f = new ImapFlow({
      host: '127.0.0.1',
      port: cluster.nodes[0]!.imapPort,
      secure: false,
      auth: { user: USER, pass: PASS },
      logger: false,
    })
    f.on('error', () => {})
    await f.connect()
    return f
  }

  it('a second node process on the same database refuses to start', async () => {
    const other = await ProcessCluster.start({
      nodes: ['eu'],
      imap: false,
      proxies: false,
      node: () => ({ args: ['--store', pg.url()] }),
    }).catch((e: unknown) => e)
    expect(String(other)).toMatch(/exited with 1 during start/)
  }, 60_000)

  it('pg_ctl stop -m immediate during APPENDs: every acknowledged APPEND is there afterwards at its UID, no UID reused', async () => {
    const acked = new Map<string, number>() // Message-ID -> UID the APPEND was acknowledged with
    let failed = 0
    let phase: 'before' | 'down' | 'after' = 'before'
    let afterAcks = 0
    let stop = false
    let seq = 0
    const worker = async (w: number) => {
      let f: ImapFlow | undefined
      while (!stop) {
        try {
          f ??= await connect()
          const id = `m${w}-${seq++}@pg`
          const r = await f.append('INBOX', raw(id))
          if (!r || typeof r.uid !== 'number') throw new Error('APPEND without APPENDUID')
          acked.set(id, r.uid)
          if (phase === 'after') afterAcks++
        } catch {
          failed++
          await f?.logout().catch(() => {})
          f?.close()
          f = undefined
          await new Promise((resolve) => setTimeout(resolve, 50))
        }
      }
      await f?.logout().catch(() => {})
    }
    const workers = [0, 1, 2, 3].map(worker)
    await waitFor(() => acked.size >= 40, 60_000, '40 acknowledged APPENDs')
    await pg.stopImmediate()
    phase = 'down'
    const ackedBeforeCrash = acked.size
    await waitFor(() => failed >= 4, 60_000, 'APPENDs failing while the database is down')
    await pg.restart()
    phase = 'after'
    await waitFor(() => afterAcks >= 40, 90_000, '40 acknowledged APPENDs after the database came back')
    stop = true
    await Promise.all(workers)
    expect(ackedBeforeCrash).toBeGreaterThanOrEqual(40)

    // the node itself crashes too: a new process loads everything from the database
    await cluster.nodes[0]!.kill()
    await cluster.nodes[0]!.start()
    const f = await connect()
    const view = await imapflowView(f)
    await f.logout()
    const byId = new Map(view.messages.map((m) => [m.guid, m.uid]))
    const missing = [...acked].filter(([id]) => !byId.has(id))
    expect(missing, 'acknowledged APPENDs missing after the crash').toEqual([])
    for (const [id, uid] of acked) expect(byId.get(id), id).toBe(uid)
    const uids = view.messages.map((m) => m.uid)
    expect(new Set(uids).size).toBe(uids.length)
    console.log(
      `pg crash: ${acked.size} APPENDs acknowledged (${ackedBeforeCrash} before the crash), ${failed} refused while the database was down, ${view.messages.length} messages after restart`,
    )
  }, 300_000)

  it('a PostgreSQL region replicates with file-store regions, and a restarted one catches up from its peers', async () => {
    const db = await pg.createDatabase('mixed')
    const mixed = await ProcessCluster.start({
      nodes: ['eu', 'us', 'ap'],
      proxies: false,
      node: (i) => ({ args: i === 0 ? ['--store', db] : [] }),
    })
    try {
      const [eu, us] = await mixed.addUser('mo', 'mixed-pass')
      await mixed.linksAre('open')
      const guid = await eu!.append('INBOX', raw('from-pg@eu'))
      await waitFor(
        async () => (await us!.readMailbox('INBOX')).messages.some((m) => m.guid === guid),
        30_000,
        'the PostgreSQL region reaches a file-store region',
      )
      await mixed.nodes[0]!.stop()
      const later = await us!.append('INBOX', raw('while-eu-was-down@us'))
      await mixed.nodes[0]!.start()
      await waitFor(
        async () => (await eu!.readMailbox('INBOX')).messages.some((m) => m.guid === later),
        30_000,
        'the restarted PostgreSQL region catches up',
      )
      const view = await eu!.readMailbox('INBOX')
      expect(view.messages.map((m) => m.guid).sort()).toEqual([guid, later].sort())
    } finally {
      await mixed.stop()
    }
  }, 180_000)
})
