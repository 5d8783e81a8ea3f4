/**
 * The connected fast path, measured (issue 3): three in-process nodes on loopback whose
 * links pass through fault proxies; every node appends and exposes concurrently with 0 ms
 * and 50 ms injected per link direction: fixups while every link is up (goal: zero); then
 * with node 0 cut off: fixups happen, and heal. Writes bench/results/fastpath.json.
 */
import { mkdtempSync, rmSync, mkdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MailNode, silentLogger, type MailboxHandle } from '@mailweave/server'
import { FaultProxy, freePort, waitFor } from '@mailweave/testkit'

const PER_NODE = Number(process.env.BENCH_FASTPATH_APPENDS ?? 100)
const progress = (m: string) => process.stderr.write(`[bench fastpath] ${m}\n`)
const secret = new TextEncoder().encode('bench-secret-'.repeat(4))
const raw = (t: string) => new TextEncoder().encode(`Subject: ${t}\r\n\r\n${t}\r\n`)

/** Waits (up to 60 s, polling every 10 ms) for `cond`: testkit's waitFor with bench-sized bounds. */
const until = (cond: () => boolean | Promise<boolean>, what: string): Promise<void> => waitFor(cond, 60_000, what, 10)

async function scenario(delayMs: number) {
  const root = mkdtempSync(join(tmpdir(), 'mailweave-fastpath-'))
  const ports = [await freePort(), await freePort(), await freePort()]
  const proxies = new Map<string, FaultProxy>()
  for (let i = 0; i < 3; i++) for (let j = i + 1; j < 3; j++) proxies.set(`${i}${j}`, await FaultProxy.start({ targetPort: ports[j]! }))
  const nodes: MailNode[] = []
  for (let i = 0; i < 3; i++) {
    const peers = [0, 1, 2]
      .filter((j) => j !== i)
      .map((j) => ({ id: `N${j}`, url: `http://127.0.0.1:${i < j ? proxies.get(`${i}${j}`)!.port : ports[j]}` }))
    nodes.push(
      await MailNode.start(
        {
          nodeId: `N${i}`,
          slot: i,
          stride: 3,
          dataDir: join(root, `N${i}`),
          host: '127.0.0.1',
          port: ports[i]!,
          peers,
          secret,
          verifyTimeoutMs: 2000,
        },
        silentLogger(),
      ),
    )
  }
  await nodes[0]!.addUser('bench', 'benchpass')
  await until(() => nodes.every((n) => n.hasUser('bench') && n.peerStatus().every((p) => p.state === 'open')), 'cluster up')
  for (const p of proxies.values()) p.setDelay(delayMs)
  const boxes: MailboxHandle[] = []
  for (const n of nodes) boxes.push((await n.openMailbox('bench', 'INBOX'))!)
  const fixups = () => boxes.reduce((s, b) => s + b.mailbox.stats.fixupsSilent + b.mailbox.stats.fixupsDuplicate, 0)
  const t = performance.now()
  await Promise.all(
    boxes.map(async (b, i) => {
      for (let k = 0; k < PER_NODE; k++) {
        await b.append(raw(`connected-${i}-${k}`))
        await b.expose()
      }
    }),
  )
  const connectedMs = performance.now() - t
  const connectedFixups = fixups()
  // cut node 0 off (both of its links), append and expose on every side, heal
  proxies.get('01')!.cut()
  proxies.get('02')!.cut()
  await until(() => nodes[0]!.peerStatus().every((p) => p.state !== 'open'), 'N0 cut off')
  await Promise.all(
    boxes.map(async (b, i) => {
      for (let k = 0; k < 20; k++) {
        await b.append(raw(`cut-${i}-${k}`))
        await b.expose()
      }
    }),
  )
  for (const p of proxies.values()) p.restore()
  const total = 3 * PER_NODE + 60
  await until(async () => {
    for (const b of boxes) if (b.mailbox.strandedCount > 0) await b.expose()
    const v = boxes.map((b) => JSON.stringify(b.mailbox.view().messages.map((m) => m.uid)))
    return boxes.every((b) => b.mailbox.view().size === total) && v.every((x) => x === v[0])
  }, 'heal converges')
  const cutFixups = fixups() - connectedFixups
  for (const b of boxes) b.release()
  for (const n of nodes) await n.stop()
  for (const p of proxies.values()) await p.close()
  rmSync(root, { recursive: true, force: true })
  return {
    delayMsPerDirection: delayMs,
    appendsPerNode: PER_NODE,
    connectedFixups,
    appendExposeMs: +(connectedMs / PER_NODE).toFixed(1),
    cutFixups,
    healed: true,
  }
}

const results = []
for (const d of [0, 50]) {
  progress(`latency ${d} ms per direction, ${PER_NODE} append+expose per node, concurrently`)
  results.push(await scenario(d))
}
mkdirSync(new URL('./results/', import.meta.url), { recursive: true })
writeFileSync(new URL('./results/fastpath.json', import.meta.url), JSON.stringify(results, null, 2) + '\n')
console.log(JSON.stringify(results, null, 2))
