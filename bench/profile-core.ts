/**
 * Where append + expose spends its time: builds a mailbox of BENCH_MESSAGES (default
 * 100,000) messages, then CPU-profiles 20,000 more append + expose pairs (inspector,
 * 50 µs sampling) and prints the functions with the largest self and inclusive shares.
 * Writes the profile to <tmpdir>/mailweave-core.cpuprofile (open it in Chrome DevTools).
 * Run alone: `node --import tsx bench/profile-core.ts`.
 */
import { Session } from 'node:inspector/promises'
import { writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as Y from 'yjs'
import { openMailbox } from '@mailweave/core'

const N = Number(process.env.BENCH_MESSAGES ?? 100_000)
const OPS = 20_000
const raw = (i: number) =>
  new TextEncoder().encode(
    `From: Sender ${i % 97} <s${i % 97}@example.org>\r\nTo: you@example.org\r\nSubject: Benchmark message number ${i}\r\nDate: Sun, 29 Nov 2026 00:00:00 +0000\r\nMessage-ID: <${i}.bench@example.org>\r\n\r\nHello ${i}\r\n`,
  )

const doc = new Y.Doc()
doc.on('update', () => {}) // as in bench/core.ts: a node persists every update
const mb = openMailbox(doc, { replica: 'N0', slot: 0, stride: 3, uidValidity: 1 })
for (let i = 0; i < N; i++) {
  mb.append(raw(i))
  mb.expose()
}
const raws = Array.from({ length: OPS }, (_, i) => raw(N + i))
const session = new Session()
session.connect()
await session.post('Profiler.enable')
await session.post('Profiler.setSamplingInterval', { interval: 50 })
await session.post('Profiler.start')
const t0 = performance.now()
for (let i = 0; i < OPS; i++) {
  mb.append(raws[i]!)
  mb.expose()
}
const perOpUs = ((performance.now() - t0) / OPS) * 1000
const { profile } = await session.post('Profiler.stop')
const profileFile = join(tmpdir(), 'mailweave-core.cpuprofile')
writeFileSync(profileFile, JSON.stringify(profile))

type Node = (typeof profile.nodes)[number]
const byId = new Map(profile.nodes.map((n) => [n.id, n]))
const parent = new Map<number, number>()
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
const label = (n: Node) =>
  `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber + 1}`
const hits = new Map<number, number>()
for (const s of profile.samples ?? []) hits.set(s, (hits.get(s) ?? 0) + 1)
const total = [...hits.values()].reduce((a, b) => a + b, 0)
const self = new Map<string, number>()
const incl = new Map<string, number>()
for (const [id, c] of hits) {
  const own = label(byId.get(id)!)
  self.set(own, (self.get(own) ?? 0) + c)
  const seen = new Set<string>()
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const l = label(byId.get(cur)!)
    if (!seen.has(l)) incl.set(l, (incl.get(l) ?? 0) + c)
    seen.add(l)
  }
}
const top = (m: Map<string, number>, k: number) =>
  [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, k)
    .map(([l, c]) => `${((100 * c) / total).toFixed(1).padStart(5)}%  ${l}`)
console.log(`append + expose into a ${N.toLocaleString('en')}-message mailbox: ${perOpUs.toFixed(1)} µs per pair (under the profiler)`)
console.log('\nself time\n' + top(self, 20).join('\n'))
console.log('\ninclusive time\n' + top(incl, 25).join('\n'))
console.log(`\nprofile: ${profileFile}`)
