/**
 * Issue 11, a region of several processes on one PostgreSQL (`serve --process`), through
 * real processes and LMTP (no password, so no scrypt in the way): accounts acquired and
 * loaded per second (the first delivery to each fresh account takes its lease, loads it and
 * appends), deliveries per second with three processes against one, and the failover time
 * after `kill -9` of one of three processes (until each of 48 accounts, about a third of
 * them the killed process's, takes a delivery again, against the lease TTL + 2 s). Writes bench/results/region.json (with a "not measured"
 * summary when the build cannot run a region of several processes).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { PgStorage } from '@mailweave/storage-postgres'
import { LmtpClient } from '@mailweave/testkit'
import { ProcessCluster } from '@mailweave/testkit-cluster'
import { seedUsers } from './lib/seedUsers.ts'

const ACCOUNTS = Number(process.env.BENCH_REGION_ACCOUNTS ?? 1500)
const DELIVERIES = Number(process.env.BENCH_REGION_DELIVERIES ?? 1500)
const TTL_MS = Number(process.env.BENCH_REGION_TTL_MS ?? 3000)
const WORKERS = 16
const FAILOVER_SAMPLE = 48
const progress = (m: string) => process.stderr.write(`[bench region] ${m}\n`)
const message = (i: number) =>
  `From: Sender <s@example.org>\r\nTo: u@example.org\r\nSubject: Region ${i}\r\nDate: Sun, 29 Nov 2026 00:00:00 +0000\r\nMessage-ID: <${i}.${Math.random()}.region@example.org>\r\n\r\nHello.\r\n`

/** Delivers to every `users[i]` once, WORKERS connections spread over `ports`, retrying 4xx until `deadline`; resolves with the time of each account's 250. */
async function deliverAll(ports: number[], users: string[], deadlineMs = 120_000): Promise<number[]> {
  const done: number[] = new Array(users.length)
  let next = 0
  let count = 0
  const t = performance.now()
  let last = t
  await Promise.all(
    Array.from({ length: WORKERS }, async (_, w) => {
      let client: LmtpClient | undefined
      let port = w % ports.length
      while (next < users.length) {
        const i = next++
        for (;;) {
          if (performance.now() - t > deadlineMs) throw new Error(`delivery to ${users[i]} not accepted within ${deadlineMs} ms`)
          try {
            if (client === undefined || client.closed) {
              client = await LmtpClient.connect(ports[port % ports.length]!)
              await client.command('LHLO bench')
            }
            const r = await client.send('s@example.org', [`${users[i]}@example.org`], message(i))
            const code = r.data[0]?.code ?? r.rcpt[0]?.code ?? r.mail.code
            if (code === 250) break
            // 4xx (not served yet, an owner gone) and 550 (user not yet seen by this process) are retried
            if (code >= 500 && code !== 550) throw new Error(`${users[i]}: ${JSON.stringify(r)}`)
          } catch {
            client?.destroy()
            client = undefined
            port++ // a dead process: the next one
          }
          await new Promise((resolve) => setTimeout(resolve, 50))
        }
        done[i] = performance.now() - t
        if (++count % 250 === 0 || performance.now() - last > 5000) {
          last = performance.now()
          progress(`  ${count}/${users.length} accepted`)
        }
      }
      await client?.quit()
    }),
  )
  return done
}

async function region(processes: number): Promise<{ acquiredPerSec: number; deliveriesPerSec: number; failoverMs?: number }> {
  const cluster = await ProcessCluster.start({
    nodes: ['eu'],
    processes,
    postgres: true,
    proxies: false,
    leaseTtlMs: TTL_MS,
    logLevel: 'error',
    node: (_i, _id, p) => ({
      process: `eu-${p + 1}`,
      args: ['--lmtp', '127.0.0.1:0', ...(processes === 1 ? ['--lease-ttl', String(TTL_MS)] : [])],
    }),
  })
  try {
    const db = cluster.region('eu').database!
    const seed = await PgStorage.open({ url: db.url() })
    const users = Array.from({ length: ACCOUNTS }, (_, i) => `r${processes}u${i}`)
    await seedUsers(seed.updates, ACCOUNTS, (i) => users[i]!)
    await seed.close()
    const ports = cluster.region('eu').processes.map((p) => p.lmtpPort)
    // the seeded users reach every process through the shared log
    await deliverAll(ports, [users[ACCOUNTS - 1]!])
    progress(`${processes} process(es): first delivery to ${ACCOUNTS} fresh accounts (lease taken, account loaded, one append)`)
    let t = performance.now()
    await deliverAll(ports, users.slice(0, ACCOUNTS - 1))
    const acquiredPerSec = (ACCOUNTS - 1) / ((performance.now() - t) / 1000) / processes
    progress(
      `${processes} process(es): ${Math.round(acquiredPerSec)} accounts/s per process; now ${DELIVERIES} deliveries to owned accounts`,
    )
    t = performance.now()
    await deliverAll(
      ports,
      Array.from({ length: DELIVERIES }, (_, i) => users[i % ACCOUNTS]!),
    )
    const deliveriesPerSec = DELIVERIES / ((performance.now() - t) / 1000)
    progress(`${processes} process(es): ${Math.round(deliveriesPerSec)} deliveries/s in total`)
    let failoverMs: number | undefined
    if (processes > 1) {
      const victim = cluster.region('eu').processes[0]!
      await victim.kill()
      // a sample of accounts (a third of them were the killed process's): delivering to all would time the throughput
      const sample = users.slice(0, FAILOVER_SAMPLE)
      progress(`killed ${victim.name} (kill -9); delivering to ${sample.length} accounts through the others`)
      const times = await deliverAll(ports.slice(1), sample)
      failoverMs = Math.max(...times)
    }
    return { acquiredPerSec, deliveriesPerSec, failoverMs }
  } finally {
    await cluster.stop()
  }
}

let result: Record<string, unknown>
try {
  const one = await region(1)
  const three = await region(3)
  const r = (x: number) => Math.round(x)
  const load = loadavg().map((x) => +x.toFixed(1))
  result = {
    accounts: ACCOUNTS,
    deliveries: DELIVERIES,
    ttlMs: TTL_MS,
    loadAverage: load,
    one,
    three,
    summary: [
      `| region on one PostgreSQL, LMTP, ${WORKERS} connections (load average ${load[0]}) | one process | three processes | goal |`,
      '|---|---|---|---|',
      `| accounts acquired and loaded per second per process (first delivery to ${ACCOUNTS.toLocaleString('en')} fresh accounts) | ${r(one.acquiredPerSec)}/s | ${r(three.acquiredPerSec)}/s | ≥ 500/s |`,
      `| deliveries per second in total (${DELIVERIES.toLocaleString('en')}, accounts owned) | ${r(one.deliveriesPerSec)}/s | ${r(three.deliveriesPerSec)}/s (${(three.deliveriesPerSec / one.deliveriesPerSec).toFixed(2)}×) | ≥ 1× |`,
      `| kill -9 of one of three processes: until each of ${FAILOVER_SAMPLE} accounts takes a delivery again (the slowest) | | ${((three.failoverMs ?? 0) / 1000).toFixed(1)} s (lease TTL ${TTL_MS / 1000} s) | ≤ TTL + 2 s |`,
    ].join('\n'),
  }
} catch (e) {
  progress(`not measured: ${String(e)}`)
  result = {
    summary: `Not measured: a region of several processes did not run in this build (${String(e).replace(/\s+/g, ' ').trim().slice(0, 300).replace(/\|/g, '/')}).`,
  }
}
mkdirSync(new URL('./results/', import.meta.url), { recursive: true })
writeFileSync(new URL('./results/region.json', import.meta.url), JSON.stringify(result, null, 2) + '\n')
console.log(JSON.stringify(result, null, 2))
