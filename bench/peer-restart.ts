/**
 * Issue 11, restart cost proportional to change: bytes on the peer link when a region's node
 * process restarts with nothing changed. Two regions in this process: `pg` (PostgreSQL) and
 * `fs` (file store), linked through byte-counting proxies. `pg` gets N accounts with one
 * message each, `fs` catches up; then each region in turn stops cleanly and starts again on
 * its storage, and the bytes both ways are counted from the restart until the link is open
 * and quiet (under 2 KiB in 3 s: pings only); also the time from the start until the link is open. Run for two account counts: bytes that grow with N are O(documents).
 * Writes bench/results/peer-restart.json.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { MailNode, silentLogger, type NodeConfig } from '@mailweave/server'
import { PgStorage } from '@mailweave/storage-postgres'
import { FaultProxy, PostgresServer, freePort, waitFor } from '@mailweave/testkit'
import { seedUsers } from './lib/seedUsers.ts'

const SIZES = (process.env.BENCH_PEER_ACCOUNTS ?? '300,3000').split(',').map(Number)
const QUIET_MS = 3000
const QUIET_BYTES = 2048
const progress = (m: string) => process.stderr.write(`[bench peer-restart] ${m}\n`)
const secret = new TextEncoder().encode('bench-secret-'.repeat(4))
const root = mkdtempSync(join(tmpdir(), 'mailweave-bench-peer-restart-'))
const raw = (i: number) =>
  new TextEncoder().encode(
    `From: Sender <s@example.org>\r\nTo: u${i}@example.org\r\nSubject: Welcome ${i}\r\nDate: Sun, 29 Nov 2026 00:00:00 +0000\r\nMessage-ID: <${i}.peer@example.org>\r\n\r\nHello.\r\n`,
  )

/** Total bytes both ways through both proxies. */
const bytes = (proxies: FaultProxy[]) => proxies.reduce((n, p) => n + p.stats.bytesToTarget + p.stats.bytesFromTarget, 0)

/**
 * Resolves once both nodes' links are open and fewer than QUIET_BYTES crossed the proxies in
 * the last QUIET_MS (link pings keep flowing).
 */
async function quiet(nodes: () => MailNode[], proxies: FaultProxy[], what: string): Promise<void> {
  const samples: { at: number; bytes: number }[] = []
  await waitFor(
    () => {
      const now = performance.now()
      const b = bytes(proxies)
      samples.push({ at: now, bytes: b })
      while (samples.length > 1 && samples[1]!.at <= now - QUIET_MS) samples.shift()
      const window = samples[0]!
      const open = nodes().every((n) => n.peerStatus().every((p) => p.state === 'open'))
      return open && now - window.at >= QUIET_MS && b - window.bytes < QUIET_BYTES
    },
    600_000,
    what,
    100,
  )
}

interface Row {
  accounts: number
  documents: number
  restarted: string
  bytes: number
  seconds: number
}
const rows: Row[] = []
const pgServer = await PostgresServer.start()
try {
  for (const n of SIZES) {
    const url = await pgServer.createDatabase(`peer${n}`)
    const seed = await PgStorage.open({ url })
    await seedUsers(seed.updates, n)
    await seed.close()
    const [pgPort, fsPort] = [await freePort(), await freePort()]
    const toPg = await FaultProxy.start({ targetPort: pgPort })
    const toFs = await FaultProxy.start({ targetPort: fsPort })
    const proxies = [toPg, toFs]
    const configs: Record<'pg' | 'fs', () => Promise<NodeConfig>> = {
      pg: async () => ({
        nodeId: 'pg',
        slot: 0,
        stride: 3,
        dataDir: join(root, `pg${n}`),
        host: '127.0.0.1',
        port: pgPort,
        peers: [{ id: 'fs', url: `http://127.0.0.1:${toFs.port}` }],
        secret,
        storage: await PgStorage.open({ url }),
      }),
      fs: async () => ({
        nodeId: 'fs',
        slot: 1,
        stride: 3,
        dataDir: join(root, `fs${n}`),
        host: '127.0.0.1',
        port: fsPort,
        peers: [{ id: 'pg', url: `http://127.0.0.1:${toPg.port}` }],
        secret,
      }),
    }
    const nodes = {
      pg: await MailNode.start(await configs.pg(), silentLogger()),
      fs: await MailNode.start(await configs.fs(), silentLogger()),
    }
    const all = () => [nodes.pg, nodes.fs]
    try {
      let next = 0
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < n) {
            const i = next++
            const h = (await nodes.pg.openMailbox(`u${i}`, 'INBOX'))!
            await h.append(raw(i))
            h.release()
          }
        }),
      )
      progress(`${n} accounts with one message each at pg; waiting for fs to catch up`)
      await waitFor(() => nodes.fs.hasUser(`u${n - 1}`), 600_000, 'users at fs', 100)
      await quiet(all, proxies, 'initial catch-up')
      const h = await nodes.fs.openMailbox(`u${n - 1}`, 'INBOX')
      if (h?.mailbox.view().size !== 1) throw new Error(`fs did not catch up: u${n - 1} has ${h?.mailbox.view().size} messages`)
      h.release()
      progress(`caught up (${Math.round(bytes(proxies) / 1024)} KiB on the link so far)`)
      for (const which of ['pg', 'fs'] as const) {
        await nodes[which].stop()
        const before = bytes(proxies)
        const t = performance.now()
        nodes[which] = await MailNode.start(await configs[which](), silentLogger())
        await waitFor(() => all().every((x) => x.peerStatus().every((p) => p.state === 'open')), 600_000, 'links open again', 20)
        const ms = performance.now() - t
        await quiet(all, proxies, `quiet after restarting ${which}`)
        const row = {
          accounts: n,
          documents: 2 * n + 1,
          restarted: which,
          bytes: bytes(proxies) - before,
          seconds: +(ms / 1000).toFixed(1),
        }
        rows.push(row)
        progress(`restart of ${which} with ${n} accounts: ${row.bytes} bytes on the link, link open after ${row.seconds} s`)
      }
    } finally {
      await nodes.pg.stop()
      await nodes.fs.stop()
      for (const p of proxies) await p.close()
    }
    await sleep(100)
  }
} finally {
  await pgServer.stop()
  rmSync(root, { recursive: true, force: true })
}
const result = { quietMs: QUIET_MS, loadAverage: loadavg().map((x) => +x.toFixed(1)), rows }
mkdirSync(new URL('./results/', import.meta.url), { recursive: true })
writeFileSync(new URL('./results/peer-restart.json', import.meta.url), JSON.stringify(result, null, 2) + '\n')
console.log(JSON.stringify(result, null, 2))
