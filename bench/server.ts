/**
 * Node benchmark (issue 3): durable appends on one node vs raw Yjs with the same fsync
 * pattern; replication of N messages to an empty peer; catch-up after a partition in
 * which each of two nodes took M appends. In-process nodes on loopback, real files.
 * Writes bench/results/server.json.
 */
import { mkdtempSync, rmSync, mkdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as Y from 'yjs'
import { FileUpdateStore } from '@mailweave/storage-fs'
import { MailNode, silentLogger, type NodeConfig } from '@mailweave/server'
import { FaultProxy, freePort, waitFor } from '@mailweave/testkit'
import { Dovecot, doveadmSync, requireDovecot } from './lib/dovecot.ts'

const REPL = Number(process.env.BENCH_REPL_MESSAGES ?? 10_000)
const CATCHUP = Number(process.env.BENCH_CATCHUP_MESSAGES ?? 5_000)
const APPENDS = Number(process.env.BENCH_APPENDS ?? 3_000)
const CONCURRENCY = 32
const progress = (m: string) => process.stderr.write(`[bench server] ${m}\n`)
const secret = new TextEncoder().encode('bench-secret-'.repeat(4))
const dovecotBins = requireDovecot('bench/server.ts')
const root = mkdtempSync(join(tmpdir(), 'mailweave-bench-'))

const raw = (i: number) =>
  new TextEncoder().encode(
    `From: Sender ${i % 97} <s${i % 97}@example.org>\r\nTo: you@example.org\r\nSubject: Benchmark message number ${i}\r\nDate: Sun, 29 Nov 2026 00:00:00 +0000\r\nMessage-ID: <${i}.bench@example.org>\r\n\r\n${'Hello world. '.repeat(20)}${i}\r\n`,
  )

async function pool(n: number, fn: (i: number) => Promise<void>, every = 1000, label = ''): Promise<number> {
  let next = 0
  let done = 0
  const t = performance.now()
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < n) {
        const i = next++
        await fn(i)
        if (++done % every === 0 && label !== '') progress(`  ${label} ${done}/${n}`)
      }
    }),
  )
  return performance.now() - t
}

/** Waits (up to 10 min, polling every 20 ms) for `cond`: testkit's waitFor with bench-sized bounds. */
const until = (cond: () => boolean | Promise<boolean>, what: string): Promise<void> => waitFor(cond, 600_000, what, 20)

function config(id: string, slot: number, port: number, peers: { id: string; url: string }[]): NodeConfig {
  return { nodeId: id, slot, stride: 3, dataDir: join(root, id), host: '127.0.0.1', port, peers, secret, verifyTimeoutMs: 500 }
}

async function user(node: MailNode) {
  await node.addUser('bench', 'benchpass')
  return node
}

// 1. durable appends on one node vs raw Yjs + FileUpdateStore (same group-commit fsync)
progress(`durable appends: ${APPENDS} on one node, ${CONCURRENCY} in flight`)
const solo = await user(await MailNode.start(config('solo', 0, 0, []), silentLogger()))
const inbox = (await solo.openMailbox('bench', 'INBOX'))!
const oursMs = await pool(APPENDS, async (i) => void (await inbox.append(raw(i))))
inbox.release()
await solo.stop()
mkdirSync(join(root, 'raw'), { recursive: true })
const rawStore = await FileUpdateStore.open({ dir: join(root, 'raw') })
const rdoc = new Y.Doc()
const rmap = rdoc.getMap('m')
const pendingRaw: Promise<void>[] = []
rdoc.on('update', (u: Uint8Array) => pendingRaw.push(rawStore.append('raw', u)))
const rawMs = await pool(APPENDS, async (i) => {
  rmap.set(String(i), { subject: `Benchmark message number ${i}`, size: 300 })
  await pendingRaw[pendingRaw.length - 1]
})
await rawStore.close()

// 2. replication of REPL messages to an empty peer
progress(`replication: ${REPL} messages from A to an empty peer B`)
const [pa, pb] = [await freePort(), await freePort()]
const A = await user(await MailNode.start(config('A', 0, pa, []), silentLogger()))
const ainbox = (await A.openMailbox('bench', 'INBOX'))!
await pool(REPL, async (i) => void (await ainbox.append(raw(i))), 2500, 'filled A')
ainbox.release()
await A.stop()
// the empty peer first, so the link opens at once (A, the smaller id, dials B)
const B = await MailNode.start(config('B', 1, pb, [{ id: 'A', url: `http://127.0.0.1:${pa}` }]), silentLogger())
const tRepl = performance.now()
const A2 = await MailNode.start(config('A', 0, pa, [{ id: 'B', url: `http://127.0.0.1:${pb}` }]), silentLogger())
let metaMs = 0
const bodiesAtB = async () => {
  if (metaMs === 0) {
    const h = await B.openMailbox('bench', 'INBOX').catch(() => undefined)
    if (h === undefined) return false
    try {
      if (h.mailbox.view().size + h.mailbox.strandedCount < REPL) return false
    } finally {
      h.release()
    }
    metaMs = performance.now() - tRepl
  }
  let n = 0
  for await (const _ of B.storedBodies()) n++
  return n >= REPL
}
await until(bodiesAtB, 'B has every message and body')
const replMs = performance.now() - tRepl
const wire = B.peerStatus().find((p) => p.id === 'A')!
const replBytes = wire.bytesIn + wire.bytesOut
await B.stop()
await A2.stop()

// 2b. the reference, in the same run: Dovecot replicating the same REPL messages to an
// empty peer with `doveadm sync` (dsync, what its replicator runs), A filled as an MDA would
progress(`replication reference: ${REPL} messages, Dovecot ${dovecotBins.version} A -> empty B by doveadm sync`)
const dvA = await Dovecot.start({
  dir: join(root, 'dovecot-a'),
  name: `mailweave-bench-a-${process.pid}`,
  user: 'bench',
  password: 'benchpass',
})
const dvB = await Dovecot.start({
  dir: join(root, 'dovecot-b'),
  name: `mailweave-bench-b-${process.pid}`,
  user: 'bench',
  password: 'benchpass',
})
let dsyncMs: number
try {
  await dvA.fillInbox(Array.from({ length: REPL }, (_, i) => raw(i)))
  const sync = await doveadmSync(dvA, dvB, 'bench', { mode: 'full' })
  dsyncMs = sync.ms
  const atB = await dvB.inboxCount()
  if (atB !== REPL) throw new Error(`doveadm sync left ${atB} of ${REPL} messages at B`)
  progress(`  doveadm sync: ${REPL} messages in ${(dsyncMs / 1000).toFixed(2)} s (${sync.runs} run(s))`)
} finally {
  await dvA.stop()
  await dvB.stop()
}

// 3. catch-up after a partition: each of two nodes takes CATCHUP appends
progress(`catch-up: two nodes, ${CATCHUP} appends each while partitioned`)
const [pc, pd] = [await freePort(), await freePort()]
const proxy = await FaultProxy.start({ targetPort: pd })
const C = await user(await MailNode.start(config('C', 0, pc, [{ id: 'D', url: `http://127.0.0.1:${proxy.port}` }]), silentLogger()))
const D = await MailNode.start(config('D', 1, pd, [{ id: 'C', url: `http://127.0.0.1:${pc}` }]), silentLogger())
await until(() => D.hasUser('bench'), 'user replicated')
proxy.cut()
await until(() => C.peerStatus()[0]!.state !== 'open', 'partition')
const [ci, di] = [(await C.openMailbox('bench', 'INBOX'))!, (await D.openMailbox('bench', 'INBOX'))!]
await ci.expose()
await di.expose()
await Promise.all([
  pool(CATCHUP, async (i) => void (await ci.append(raw(i))), 2500, 'C'),
  pool(CATCHUP, async (i) => void (await di.append(raw(CATCHUP + i))), 2500, 'D'),
])
await ci.expose()
await di.expose()
const tHeal = performance.now()
proxy.restore()
const same = () => {
  const a = ci.mailbox.view()
  const b = di.mailbox.view()
  if (a.size !== 2 * CATCHUP || b.size !== 2 * CATCHUP) return false
  return JSON.stringify(a.messages.map((m) => m.uid)) === JSON.stringify(b.messages.map((m) => m.uid))
}
await until(async () => {
  if (ci.mailbox.strandedCount > 0) await ci.expose()
  if (di.mailbox.strandedCount > 0) await di.expose()
  return same()
}, 'C and D converge')
const catchupMs = performance.now() - tHeal
const fixups = [ci, di].reduce((n, h) => n + h.mailbox.stats.fixupsSilent + h.mailbox.stats.fixupsDuplicate, 0)
ci.release()
di.release()
await C.stop()
await D.stop()
await proxy.close()
rmSync(root, { recursive: true, force: true })

const replRate = REPL / (replMs / 1000)
const dsyncRate = REPL / (dsyncMs / 1000)
const result = {
  appendsDurable: {
    messages: APPENDS,
    concurrency: CONCURRENCY,
    oursPerSec: Math.round(APPENDS / (oursMs / 1000)),
    rawYjsFsyncPerSec: Math.round(APPENDS / (rawMs / 1000)),
    ratio: +(rawMs / oursMs).toFixed(2),
  },
  replication: {
    messages: REPL,
    seconds: +(replMs / 1000).toFixed(2),
    messagesPerSec: Math.round(replRate),
    metadataSeconds: +(metaMs / 1000).toFixed(2),
    wireBytesPerMessage: Math.round(replBytes / REPL),
    doveadmSync: { version: dovecotBins.version, seconds: +(dsyncMs / 1000).toFixed(2), messagesPerSec: Math.round(dsyncRate) },
    vsDoveadmSync: +(replRate / dsyncRate).toFixed(1),
    goal: '>= 10x doveadm sync, measured in the same run',
  },
  catchUp: { appendsPerSide: CATCHUP, seconds: +(catchupMs / 1000).toFixed(2), fixups },
}
mkdirSync(new URL('./results/', import.meta.url), { recursive: true })
writeFileSync(new URL('./results/server.json', import.meta.url), JSON.stringify(result, null, 2) + '\n')
console.log(JSON.stringify(result, null, 2))
