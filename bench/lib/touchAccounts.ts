/**
 * Child process of bench/accounts.ts (its own heap, so its RSS is the node's alone): starts
 * one node on the PostgreSQL database `BENCH_PG_URL` with `--doc-budget BENCH_DOC_BUDGET_MIB`
 * and either appends one message to each of the accounts u0 … u{BENCH_ACCOUNTS-1}
 * (`BENCH_MODE=populate`) or opens each account's INBOX, reads its view and lets go
 * (`BENCH_MODE=touch`, what a login and a SELECT load). Progress on stderr; the result as
 * one JSON line on stdout.
 */
import { tmpdir } from 'node:os'
import { mkdtempSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { MailNode, silentLogger } from '@mailweave/server'
import { PgStorage } from '@mailweave/storage-postgres'

const url = process.env.BENCH_PG_URL!
const N = Number(process.env.BENCH_ACCOUNTS ?? 100_000)
const budgetMiB = Number(process.env.BENCH_DOC_BUDGET_MIB ?? 64)
const mode = process.env.BENCH_MODE ?? 'touch'
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 16)
const progress = (m: string) => process.stderr.write(`[bench accounts:${mode}] ${m}\n`)
const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined)
const mib = (b: number) => +(b / 2 ** 20).toFixed(1)

async function settledRss(): Promise<{ rss: number; heapUsed: number; external: number; arrayBuffers: number }> {
  for (let i = 0; i < 4; i++) {
    gc()
    await sleep(100)
  }
  const m = process.memoryUsage()
  return { rss: mib(m.rss), heapUsed: mib(m.heapUsed), external: mib(m.external), arrayBuffers: mib(m.arrayBuffers) }
}

const raw = (i: number) =>
  new TextEncoder().encode(
    `From: Sender <s@example.org>\r\nTo: u${i}@example.org\r\nSubject: Welcome ${i}\r\nDate: Sun, 29 Nov 2026 00:00:00 +0000\r\nMessage-ID: <${i}.accounts@example.org>\r\n\r\nHello.\r\n`,
  )

const dataDir = mkdtempSync(join(tmpdir(), 'mailweave-bench-accounts-'))
const tStart = performance.now()
const node = await MailNode.start(
  {
    nodeId: 'pg',
    slot: 0,
    stride: 3,
    dataDir,
    host: '127.0.0.1',
    port: 0,
    peers: [],
    secret: new TextEncoder().encode('bench-secret-'.repeat(4)),
    docBudgetBytes: budgetMiB * 2 ** 20,
    storage: await PgStorage.open({ url }),
  },
  silentLogger(),
)
const startMs = performance.now() - tStart
const baseline = await settledRss()
progress(`node started in ${Math.round(startMs)} ms; RSS ${baseline.rss} MiB, heap ${baseline.heapUsed} MiB (users document loaded)`)

let peakRss = baseline.rss
const sampler = setInterval(() => (peakRss = Math.max(peakRss, mib(process.memoryUsage().rss))), 250)
let next = 0
let done = 0
let messages = 0
const t = performance.now()
let lastReport = t
const docMemory = () => node.status().documentMemory as { loadedBytes: number; budgetBytes?: number; evicted: number }
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < N) {
      const i = next++
      const h = await node.openMailbox(`u${i}`, 'INBOX')
      if (h === undefined) throw new Error(`u${i} has no INBOX`)
      try {
        if (mode === 'populate') await h.append(raw(i))
        else messages += h.mailbox.view().size
      } finally {
        h.release()
      }
      done++
      if (performance.now() - lastReport > 5000) {
        lastReport = performance.now()
        const m = docMemory()
        progress(
          `${done}/${N} accounts, ${Math.round(done / ((lastReport - t) / 1000))}/s; RSS ${mib(process.memoryUsage().rss)} MiB, heap ${mib(process.memoryUsage().heapUsed)} MiB; loaded documents ${mib(m.loadedBytes)} MiB encoded, ${m.evicted} unloaded early`,
        )
      }
    }
  }),
)
const seconds = (performance.now() - t) / 1000
clearInterval(sampler)
const after = await settledRss()
const status = node.status()
const result = {
  mode,
  accounts: N,
  seconds: +seconds.toFixed(1),
  accountsPerSec: Math.round(N / seconds),
  messagesSeen: messages,
  budgetMiB,
  startMs: Math.round(startMs),
  baseline,
  after,
  peakRss,
  documentsLoaded: status.documentsLoaded,
  documentsKnown: status.documentsKnown,
  documentMemory: docMemory(),
}
progress(`done: ${JSON.stringify(result)}`)
await node.stop()
rmSync(dataDir, { recursive: true, force: true })
console.log(JSON.stringify(result))
