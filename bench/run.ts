/**
 * `pnpm bench [suite...]`: runs each benchmark in its own process (so heaps do not mix),
 * then renders every result in bench/results/*.json as Markdown tables, prints them and
 * writes them into README.md between `<!-- bench:NAME -->` markers.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'

const SUITES = ['core', 'server', 'fastpath', 'imap', 'browser']
const chosen = process.argv.slice(2).length > 0 ? process.argv.slice(2) : SUITES
for (const name of chosen) {
  const file = `bench/${name}.ts`
  if (!existsSync(file)) continue
  process.stderr.write(`== bench ${name}\n`)
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', file], { stdio: ['ignore', 'inherit', 'inherit'], env: process.env })
  if (r.status !== 0) {
    process.stderr.write(`bench ${name} failed (exit ${r.status})\n`)
    process.exitCode = 1
  }
}

const load = (name: string): any => (existsSync(`bench/results/${name}.json`) ? JSON.parse(readFileSync(`bench/results/${name}.json`, 'utf8')) : undefined)
const tables: Record<string, string> = {}
const c = load('core')
if (c !== undefined) {
  tables.core = [
    `| core, ${c.messages.toLocaleString('en')}-message mailbox | mailweave | raw Yjs | ratio | goal |`, '|---|---|---|---|---|',
    `| append + expose, per message | ${c.appendExpose.oursUs} µs | ${c.appendExpose.rawMapSetUs} µs (one Y.Map.set) | ${c.appendExpose.ratio}× | ≤ ${c.appendExpose.goal}× |`,
    `| heap per message | ${c.heapPerMessage.oursBytes} B | ${c.heapPerMessage.rawBytes} B | ${c.heapPerMessage.ratio}× | ≤ ${c.heapPerMessage.goal}× |`,
    `| encoded bytes per message | ${c.encodedPerMessage.oursBytes} B | ${c.encodedPerMessage.rawBytes} B | ${c.encodedPerMessage.ratio}× | ≤ ${c.encodedPerMessage.goal}× |`,
    `| cold load + view | ${c.coldLoad.oursMs} ms | ${c.coldLoad.applyUpdatePlusNaiveViewMs} ms (applyUpdate + naive view) | ${c.coldLoad.ratio}× | ≤ ${c.coldLoad.goal}× |`,
  ].join('\n')
}
const s = load('server')
if (s !== undefined) {
  tables.server = [
    '| node | result | reference | goal |', '|---|---|---|---|',
    `| durable appends, one node (${s.appendsDurable.concurrency} in flight) | ${s.appendsDurable.oursPerSec}/s | raw Yjs + same fsync pattern: ${s.appendsDurable.rawYjsFsyncPerSec}/s | |`,
    `| replicate ${s.replication.messages.toLocaleString('en')} messages (with bodies) to an empty peer | ${s.replication.messagesPerSec} msg/s, ${s.replication.wireBytesPerMessage} B/msg on the wire | doveadm sync ≈ 550 msg/s: ${s.replication.vsDoveadmSync}× | ≥ 10× |`,
    `| catch-up after a partition, ${s.catchUp.appendsPerSide.toLocaleString('en')} appends per side | ${s.catchUp.seconds} s, ${s.catchUp.fixups} fixups | | |`,
  ].join('\n')
}
const f = load('fastpath')
if (f !== undefined) {
  tables.fastpath = ['| link latency (each way) | append+expose per node | fixups, all links up | fixups, one node cut off (then healed) |', '|---|---|---|---|',
    ...f.map((r: any) => `| ${r.delayMsPerDirection} ms | ${r.appendsPerNode} × ${r.appendExposeMs} ms | ${r.connectedFixups} | ${r.cutFixups} |`)].join('\n')
}
const i = load('imap')
if (i !== undefined && Array.isArray(i.rows)) {
  tables.imap = ['| IMAP | mailweave | Dovecot | ratio |', '|---|---|---|---|', ...i.rows.map((r: any) => `| ${r.name} | ${r.ours} | ${r.dovecot} | ${r.ratio}× |`)].join('\n')
}
const b = load('browser')
if (b !== undefined && b.summary !== undefined) tables.browser = String(b.summary)

let readme = readFileSync('README.md', 'utf8')
for (const [name, table] of Object.entries(tables)) {
  console.log(`\n${table}`)
  const re = new RegExp(`(<!-- bench:${name} -->)[\\s\\S]*?(<!-- /bench:${name} -->)`)
  if (re.test(readme)) readme = readme.replace(re, `$1\n${table}\n$2`)
}
writeFileSync('README.md', readme)
