/**
 * Core engine benchmark against raw Yjs doing the equivalent work (issue 2).
 * Run through `pnpm bench` (needs --expose-gc for heap numbers). Writes bench/results/core.json.
 */
import * as Y from 'yjs'
import { writeFileSync, mkdirSync } from 'node:fs'
import { openMailbox, MAILBOX_LOG } from '@mailweave/core'

const N = Number(process.env.BENCH_MESSAGES ?? 100_000)
const ITER = 2000
const gc = (globalThis as { gc?: () => void }).gc
const heapUsed = () => {
  gc?.()
  gc?.()
  return process.memoryUsage().heapUsed
}
const progress = (msg: string) => process.stderr.write(`[bench core] ${msg}\n`)

function raw(i: number): Uint8Array {
  return new TextEncoder().encode(
    `From: Sender ${i % 97} <s${i % 97}@example.org>\r\nTo: you@example.org\r\nSubject: Benchmark message number ${i}\r\nDate: Sun, 29 Nov 2026 00:00:00 +0000\r\nMessage-ID: <${i}.bench@example.org>\r\n\r\nHello ${i}\r\n`,
  )
}

/** The same metadata a raw Yjs mailbox would hold per message, as one Y.Map entry. */
function rawMeta(i: number, uid: number) {
  const hex = (n: number) => n.toString(16).padStart(8, '0')
  return {
    uid,
    origin: 'N0',
    hash: hex(i).repeat(8),
    size: 180,
    internalDate: 1_790_000_000_000 + i,
    appendedAt: 1_790_000_000_000 + i,
    flags: [] as string[],
    headers: {
      subject: `Benchmark message number ${i}`,
      from: `Sender ${i % 97} <s${i % 97}@example.org>`,
      to: 'you@example.org',
      date: 'Sun, 29 Nov 2026 00:00:00 +0000',
      messageId: `<${i}.bench@example.org>`,
    },
  }
}

function timeit(fn: () => void): number {
  const t = process.hrtime.bigint()
  fn()
  return Number(process.hrtime.bigint() - t) / 1e6
}

// --- build both documents, measuring heap
progress(`building a ${N}-message mailbox (append + expose per message)`)
let h0 = heapUsed()
const doc = new Y.Doc()
let updates = 0
doc.on('update', () => {
  updates++
})
const mb = openMailbox(doc, { replica: 'N0', slot: 0, stride: 3, uidValidity: 1 })
for (let i = 0; i < N; i++) {
  mb.append(raw(i))
  mb.expose()
  if ((i + 1) % 25_000 === 0) progress(`  ${i + 1}/${N}`)
}
const heapOurs = (heapUsed() - h0) / N
progress('building the raw Yjs equivalent (one Y.Map entry per message)')
h0 = heapUsed()
const rdoc = new Y.Doc()
rdoc.on('update', () => {
  updates++
})
const rmap = rdoc.getMap<ReturnType<typeof rawMeta>>('messages')
const guidOf = (i: number) => i.toString(16).padStart(32, '0')
for (let i = 0; i < N; i++) rmap.set(guidOf(i), rawMeta(i, 3 * i + 3))
const heapRaw = (heapUsed() - h0) / N

// --- append + expose of one message into a mailbox holding N, vs one raw Y.Map.set transaction.
// Interleaved rounds, median ratio: the two run under the same machine load.
progress(`append + expose x${ITER} into the ${N}-message mailbox (interleaved with raw Y.Map.set)`)
const ROUNDS = 10
const per = ITER / ROUNDS
const oursT: number[] = []
const rawT: number[] = []
let k = N
for (let r = 0; r < ROUNDS; r++) {
  const base = k
  const raws = Array.from({ length: per }, (_, i) => raw(base + i))
  oursT.push(
    timeit(() => {
      for (let i = 0; i < per; i++) {
        mb.append(raws[i]!)
        mb.expose()
      }
    }) / per,
  )
  rawT.push(
    timeit(() => {
      for (let i = 0; i < per; i++) rmap.set(guidOf(base + i), rawMeta(base + i, 3 * (base + i) + 3))
    }) / per,
  )
  k += per
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const tOurs = median(oursT)
const tRaw = median(rawT)
const tRatio = median(oursT.map((o, i) => o / rawT[i]!))

// --- encoded size
const ours = Y.encodeStateAsUpdate(doc)
const rawBytes = Y.encodeStateAsUpdate(rdoc)
const total = N + ITER

// --- cold load: ours (applyUpdate + openMailbox builds the view) vs applyUpdate + a naive view build
progress('cold loads')
const coldOurs: number[] = []
const coldBase: number[] = []
for (let k = 0; k < 3; k++) {
  coldBase.push(
    timeit(() => {
      const d = new Y.Doc()
      Y.applyUpdate(d, ours)
      // the naive view: every binding, lowest per guid, sorted by uid
      const best = new Map<string, number>()
      for (const f of d.getArray<unknown[]>(MAILBOX_LOG).toArray())
        if (f[0] === 'b') {
          const g = f[2] as string
          const u = f[1] as number
          if (!(best.get(g)! <= u)) best.set(g, u)
        }
      const view = [...best].sort((a, b) => a[1] - b[1])
      if (view.length !== total) throw new Error('naive view incomplete')
    }),
  )
  coldOurs.push(
    timeit(() => {
      const d = new Y.Doc()
      Y.applyUpdate(d, ours)
      const m = openMailbox(d, { replica: 'reader', stride: 3, create: false })
      if (m.view().size !== total) throw new Error('view incomplete')
    }),
  )
}
const applyOnly = timeit(() => Y.applyUpdate(new Y.Doc(), ours))
const med = median

const result = {
  messages: N,
  appendExpose: { oursUs: +(tOurs * 1000).toFixed(1), rawMapSetUs: +(tRaw * 1000).toFixed(1), ratio: +tRatio.toFixed(2), goal: 3 },
  heapPerMessage: { oursBytes: Math.round(heapOurs), rawBytes: Math.round(heapRaw), ratio: +(heapOurs / heapRaw).toFixed(2), goal: 1.5 },
  encodedPerMessage: {
    oursBytes: Math.round(ours.length / total),
    rawBytes: Math.round(rawBytes.length / total),
    ratio: +(ours.length / rawBytes.length).toFixed(2),
    goal: 1.5,
  },
  coldLoad: {
    oursMs: Math.round(med(coldOurs)),
    applyUpdatePlusNaiveViewMs: Math.round(med(coldBase)),
    applyUpdateOnlyMs: Math.round(applyOnly),
    ratio: +(med(coldOurs) / med(coldBase)).toFixed(2),
    goal: 1.5,
  },
  heapMeasured: gc !== undefined,
  updatesSeen: updates,
}
mkdirSync(new URL('./results/', import.meta.url), { recursive: true })
writeFileSync(new URL('./results/core.json', import.meta.url), JSON.stringify(result, null, 2) + '\n')
console.log(JSON.stringify(result, null, 2))
