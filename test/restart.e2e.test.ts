// Restart cost proportional to change: two regions, one on PostgreSQL (eu) and one on files
// (us), as real processes. A clean restart of either with nothing changed lists (almost) no
// documents to the other, because its change counter survives: the region identity and log
// position in the database, the counter saved at a clean stop on files. A killed file node
// starts a new counter and lists every document (what every restart did before).
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PostgresServer, waitFor } from '@mailweave/testkit'
import { ProcessCluster } from '@mailweave/testkit-cluster'
import { PgDatabase } from '@mailweave/storage-postgres'
import { NodeApi } from '@mailweave/client'

const MAILBOXES = 200
type Cursor = { epoch: string; seq: number }
type Peer = { id: string; state: string; docsListedOut: number; listingsOut: number; bytesOut: number }

describe('restarting a region with nothing changed', () => {
  let pg: PostgresServer
  let db: PgDatabase
  let cluster: ProcessCluster
  let eu: NodeApi

  beforeAll(async () => {
    pg = await PostgresServer.start()
    db = await PgDatabase.connect({ url: pg.url(), maxConnections: 1 })
    cluster = await ProcessCluster.start({
      nodes: ['eu', 'us'],
      proxies: false,
      node: (i) => (i === 0 ? { args: ['--store', pg.url()] } : {}),
    })
    eu = (await cluster.addUser('ada', 'lovelace-1'))[0]!
    const names = Array.from({ length: MAILBOXES }, (_, i) => `box${String(i).padStart(3, '0')}`)
    for (let i = 0; i < names.length; i += 10) {
      await Promise.all(
        names.slice(i, i + 10).map(async (name) => {
          const created = await eu!.call('POST', '/api/mailboxes', { name })
          if (created.status !== 201) throw new Error(`create ${name}: ${created.status}`)
          await eu!.append(name, `Subject: ${name}\r\n\r\nhello ${name}\r\n`)
        }),
      )
    }
  }, 300_000)
  afterAll(async () => {
    await cluster?.stop()
    await db?.close()
    await pg?.stop()
  })

  const status = async (node: string) => (await cluster.admin(node, 'GET', '/api/status')).data as { changeCursor: Cursor; peers: Peer[] }
  const peer = async (node: string, id: string) => (await status(node)).peers.find((p) => p.id === id)!
  /** The resume points a node saved for its peers (us: a file in its data directory; eu: a row in the database). */
  const saved = async (node: 'eu' | 'us'): Promise<Record<string, Cursor>> => {
    if (node === 'us')
      return JSON.parse(readFileSync(join(cluster.process('us').o.dataDir, 'peer-resume.json'), 'utf8')) as Record<string, Cursor>
    const r = await db.pool.query<{ value: Buffer }>(`SELECT value FROM mw_meta WHERE key = 'peer-resume.json'`)
    return r.rows[0] === undefined ? {} : (JSON.parse(r.rows[0].value.toString('utf8')) as Record<string, Cursor>)
  }
  /** Both regions hold every mailbox, and each saved the other's current cursor. */
  const settled = async () => {
    await waitFor(
      async () => {
        const [a, b] = [await status('eu'), await status('us')]
        const [ra, rb] = [
          await saved('eu').catch((): Record<string, Cursor> => ({})),
          await saved('us').catch((): Record<string, Cursor> => ({})),
        ]
        return JSON.stringify(ra['us']) === JSON.stringify(b.changeCursor) && JSON.stringify(rb['eu']) === JSON.stringify(a.changeCursor)
      },
      60_000,
      'each region saved the other one’s cursor',
      100,
    )
  }
  /** Restarts `node` (cleanly, or killed first) and returns what it listed to `other` on the new link. */
  const restart = async (node: 'eu' | 'us', other: 'eu' | 'us', kill = false) => {
    if (kill) await cluster.kill(node)
    await cluster.restart(node)
    await waitFor(async () => ((await peer(node, other))?.listingsOut ?? 0) >= 1, 60_000, `${node} listed its changes to ${other}`, 50)
    return peer(node, other)
  }

  it('lists O(changes) documents after a clean restart of the PostgreSQL region and of the file region; all after a crash of the file region', async () => {
    await cluster.linksAre('open')
    const us = cluster.nodes[1]!
    const usApi = new NodeApi(us.url, { user: 'ada', password: 'lovelace-1' })
    await waitFor(async () => (await usApi.mailboxes()).length > MAILBOXES, 120_000, 'us holds every mailbox')
    await settled()

    const pgRestart = await restart('eu', 'us')
    await settled()
    const fileRestart = await restart('us', 'eu')
    await settled()
    const fileCrash = await restart('us', 'eu', true)
    console.log(
      `documents listed after a restart with nothing changed (${MAILBOXES} mailboxes): PostgreSQL region ${pgRestart.docsListedOut} (${pgRestart.bytesOut} bytes out), ` +
        `file region ${fileRestart.docsListedOut} (${fileRestart.bytesOut} bytes); after kill -9 of the file region ${fileCrash.docsListedOut} (${fileCrash.bytesOut} bytes)`,
    )
    expect(pgRestart.docsListedOut).toBeLessThan(10)
    expect(fileRestart.docsListedOut).toBeLessThan(10)
    // the crashed node starts a new epoch: a full catch-up (every mailbox, the account, the users)
    expect(fileCrash.docsListedOut).toBeGreaterThan(MAILBOXES)
    expect(fileCrash.bytesOut).toBeGreaterThan(5 * Math.max(pgRestart.bytesOut, fileRestart.bytesOut))
  }, 400_000)
})
