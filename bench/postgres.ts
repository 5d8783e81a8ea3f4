/**
 * Region on PostgreSQL (issue 11): durable appends per second of one node on a private
 * PostgreSQL server (testkit's PostgresServer: initdb in a temp dir, fsync and
 * synchronous_commit on) against the same node on the embedded file store, side by side
 * in one run, same messages, 32 in flight. Writes bench/results/postgres.json.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { MailNode, silentLogger, type NodeConfig } from '@mailweave/server'
import { PgStorage } from '@mailweave/storage-postgres'
import { PostgresServer } from '@mailweave/testkit'

const APPENDS = Number(process.env.BENCH_APPENDS ?? 3_000)
const ROUNDS = Number(process.env.BENCH_PG_ROUNDS ?? 3)
const CONCURRENCY = 32
const progress = (m: string) => process.stderr.write(`[bench postgres] ${m}\n`)
const secret = new TextEncoder().encode('bench-secret-'.repeat(4))
const root = mkdtempSync(join(tmpdir(), 'mailweave-bench-pg-'))
const raw = (i: number) =>
  new TextEncoder().encode(
    `From: Sender ${i % 97} <s${i % 97}@example.org>\r\nTo: you@example.org\r\nSubject: Benchmark message number ${i}\r\nDate: Sun, 29 Nov 2026 00:00:00 +0000\r\nMessage-ID: <${i}.bench@example.org>\r\n\r\n${'Hello world. '.repeat(20)}${i}\r\n`,
  )

/** Update-store commits (fsyncs or database commits) and their mean latency, per round: the group commit's figures. */
const commits: { file: { perCommit: number; ms: number }[]; postgres: { perCommit: number; ms: number }[] } = { file: [], postgres: [] }

/** Appends APPENDS messages to a fresh node with CONCURRENCY in flight; resolves with appends/s. */
async function appendsPerSec(config: NodeConfig, kind: 'file' | 'postgres'): Promise<number> {
  const node = await MailNode.start(config, silentLogger())
  try {
    await node.addUser('bench', 'benchpass')
    const inbox = (await node.openMailbox('bench', 'INBOX'))!
    let next = 0
    const stats = () =>
      (node.status().storage as { fsyncCount: number; avgFsyncMs: number } | undefined) ?? { fsyncCount: 0, avgFsyncMs: 0 }
    const before = stats().fsyncCount
    const t = performance.now()
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < APPENDS) await inbox.append(raw(next++))
      }),
    )
    const ms = performance.now() - t
    const after = stats()
    commits[kind].push({ perCommit: +(APPENDS / Math.max(1, after.fsyncCount - before)).toFixed(1), ms: +after.avgFsyncMs.toFixed(1) })
    inbox.release()
    return APPENDS / (ms / 1000)
  } finally {
    await node.stop()
  }
}

const pg = await PostgresServer.start()
const file: number[] = []
const postgres: number[] = []
try {
  // alternating rounds, each on fresh data, so a machine-wide slowdown hits both alike
  for (let r = 0; r < ROUNDS; r++) {
    const base = { slot: 0, stride: 3, host: '127.0.0.1', port: 0, peers: [], secret }
    mkdirSync(join(root, `f${r}`), { recursive: true })
    file.push(await appendsPerSec({ ...base, nodeId: 'file', dataDir: join(root, `f${r}`) }, 'file'))
    progress(`round ${r + 1}: file store ${Math.round(file.at(-1)!)}/s`)
    const url = await pg.createDatabase(`r${r}`)
    postgres.push(
      await appendsPerSec({ ...base, nodeId: 'pg', dataDir: join(root, `p${r}`), storage: await PgStorage.open({ url }) }, 'postgres'),
    )
    progress(`round ${r + 1}: PostgreSQL ${Math.round(postgres.at(-1)!)}/s`)
  }
} finally {
  await pg.stop()
  rmSync(root, { recursive: true, force: true })
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const result = {
  appends: APPENDS,
  concurrency: CONCURRENCY,
  rounds: ROUNDS,
  filePerSec: Math.round(median(file)),
  postgresPerSec: Math.round(median(postgres)),
  ratio: +(median(postgres) / median(file)).toFixed(2),
  goal: 0.7,
  loadAverage: loadavg().map((x) => +x.toFixed(1)),
  all: { file: file.map(Math.round), postgres: postgres.map(Math.round) },
  commits,
}
mkdirSync(new URL('./results/', import.meta.url), { recursive: true })
writeFileSync(new URL('./results/postgres.json', import.meta.url), JSON.stringify(result, null, 2) + '\n')
console.log(JSON.stringify(result, null, 2))
