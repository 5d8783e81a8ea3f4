/**
 * Issue 11, memory bounded by a budget: RSS of one node process on PostgreSQL after
 * BENCH_ACCOUNTS (100,000) accounts were touched, with `--doc-budget` BENCH_DOC_BUDGET_MIB.
 * The accounts are seeded (users document), each gets one message through a node
 * (populate), then a fresh node process opens every account's INBOX once (touch) and
 * reports its RSS at start (the baseline: runtime, code, the users document) and after
 * the last account, with the registry's own figures. Writes bench/results/accounts.json.
 */
import { spawn } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { PgStorage } from '@mailweave/storage-postgres'
import { PostgresServer } from '@mailweave/testkit'
import { seedUsers } from './lib/seedUsers.ts'

const N = Number(process.env.BENCH_ACCOUNTS ?? 100_000)
const BUDGET_MIB = Number(process.env.BENCH_DOC_BUDGET_MIB ?? 64)
const progress = (m: string) => process.stderr.write(`[bench accounts] ${m}\n`)

/** Runs bench/lib/touchAccounts.ts in its own process; resolves with its JSON result. */
function child(mode: 'populate' | 'touch', url: string): Promise<any> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', 'bench/lib/touchAccounts.ts'], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, BENCH_MODE: mode, BENCH_PG_URL: url, BENCH_ACCOUNTS: String(N), BENCH_DOC_BUDGET_MIB: String(BUDGET_MIB) },
    })
    let out = ''
    p.stdout.on('data', (d: Buffer) => (out += d.toString()))
    p.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`touchAccounts ${mode} exited with ${code}`))
      resolve(JSON.parse(out.trim().split('\n').at(-1)!))
    })
  })
}

const pg = await PostgresServer.start()
let populate: any
let touch: any
try {
  const url = await pg.createDatabase('accounts')
  const t = performance.now()
  const storage = await PgStorage.open({ url })
  await seedUsers(storage.updates, N)
  await storage.close()
  progress(`${N} accounts seeded in ${Math.round(performance.now() - t)} ms; one message each next`)
  populate = await child('populate', url)
  progress(`populated: ${populate.accountsPerSec} accounts/s (one append each); touching every account in a fresh process`)
  touch = await child('touch', url)
} finally {
  await pg.stop()
}
const result = {
  accounts: N,
  budgetMiB: BUDGET_MIB,
  loadAverage: loadavg().map((x) => +x.toFixed(1)),
  populate: { accountsPerSec: populate.accountsPerSec, seconds: populate.seconds, after: populate.after, peakRss: populate.peakRss },
  touch,
}
mkdirSync(new URL('./results/', import.meta.url), { recursive: true })
writeFileSync(new URL('./results/accounts.json', import.meta.url), JSON.stringify(result, null, 2) + '\n')
console.log(JSON.stringify(result, null, 2))
