/**
 * `pnpm bench [suite...]`: runs each benchmark in its own process (so heaps do not mix),
 * then renders every result in bench/results/*.json as Markdown tables, prints them and
 * writes them into README.md between `<!-- bench:NAME -->` markers.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'

const SUITES = ['core', 'server', 'postgres', 'accounts', 'peer-restart', 'region', 'fastpath', 'imap', 'lmtp', 'browser']
const chosen = process.argv.slice(2).length > 0 ? process.argv.slice(2) : SUITES
for (const name of chosen) {
  const file = `bench/${name}.ts`
  if (!existsSync(file)) continue
  process.stderr.write(`== bench ${name}\n`)
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', file], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: process.env,
  })
  if (r.status !== 0) {
    process.stderr.write(`bench ${name} failed (exit ${r.status})\n`)
    process.exitCode = 1
  }
}

const load = (name: string): any =>
  existsSync(`bench/results/${name}.json`) ? JSON.parse(readFileSync(`bench/results/${name}.json`, 'utf8')) : undefined
const tables: Record<string, string> = {}
const c = load('core')
if (c !== undefined) {
  tables.core = [
    `| core, ${c.messages.toLocaleString('en')}-message mailbox | mailweave | raw Yjs | ratio | goal |`,
    '|---|---|---|---|---|',
    `| append + expose, per message | ${c.appendExpose.oursUs} µs | ${c.appendExpose.rawMapSetUs} µs (one Y.Map.set) | ${c.appendExpose.ratio}× | ≤ ${c.appendExpose.goal}× |`,
    `| heap per message | ${c.heapPerMessage.oursBytes} B | ${c.heapPerMessage.rawBytes} B | ${c.heapPerMessage.ratio}× | ≤ ${c.heapPerMessage.goal}× |`,
    `| encoded bytes per message | ${c.encodedPerMessage.oursBytes} B | ${c.encodedPerMessage.rawBytes} B | ${c.encodedPerMessage.ratio}× | ≤ ${c.encodedPerMessage.goal}× |`,
    `| cold load + view | ${c.coldLoad.oursMs} ms | ${c.coldLoad.applyUpdatePlusNaiveViewMs} ms (applyUpdate + naive view) | ${c.coldLoad.ratio}× | ≤ ${c.coldLoad.goal}× |`,
  ].join('\n')
}
const s = load('server')
// (results from before the same-run doveadm reference have no doveadmSync: left as they are until `pnpm bench server` runs)
if (s !== undefined && s.replication?.doveadmSync !== undefined) {
  tables.server = [
    '| node | result | reference | goal |',
    '|---|---|---|---|',
    `| durable appends, one node (${s.appendsDurable.concurrency} in flight) | ${s.appendsDurable.oursPerSec}/s | raw Yjs + same fsync pattern: ${s.appendsDurable.rawYjsFsyncPerSec}/s | |`,
    `| replicate ${s.replication.messages.toLocaleString('en')} messages (with bodies) to an empty peer | ${s.replication.messagesPerSec} msg/s, ${s.replication.wireBytesPerMessage} B/msg on the wire | doveadm sync (Dovecot ${s.replication.doveadmSync.version.split(' ')[0]}, same run): ${s.replication.doveadmSync.messagesPerSec} msg/s, ${s.replication.vsDoveadmSync}× | ≥ 10× |`,
    `| catch-up after a partition, ${s.catchUp.appendsPerSide.toLocaleString('en')} appends per side | ${s.catchUp.seconds} s, ${s.catchUp.fixups} fixups | | |`,
  ].join('\n')
}
const pgr = load('postgres')
if (pgr !== undefined) {
  tables.postgres = [
    `| region storage (one node, same run${pgr.loadAverage === undefined ? '' : `, load average ${pgr.loadAverage[0]}`}) | result | file store | ratio | goal |`,
    '|---|---|---|---|---|',
    `| durable appends on PostgreSQL (${pgr.concurrency} in flight, median of ${pgr.rounds} alternating rounds) | ${pgr.postgresPerSec}/s | ${pgr.filePerSec}/s | ${pgr.ratio}× | ≥ ${pgr.goal}× |`,
  ].join('\n')
}
const acc = load('accounts')
if (acc !== undefined) {
  const t = acc.touch
  tables.accounts = [
    `| one node process on PostgreSQL, --doc-budget ${acc.budgetMiB} MiB (load average ${acc.loadAverage[0]}) | result |`,
    '|---|---|',
    `| RSS at start (baseline: runtime, code, the users document of ${acc.accounts.toLocaleString('en')} accounts) | ${t.baseline.rss} MiB (heap ${t.baseline.heapUsed} MiB) |`,
    `| RSS after ${acc.accounts.toLocaleString('en')} accounts were touched (each INBOX opened once), after a GC | ${t.after.rss} MiB (heap ${t.after.heapUsed} MiB): baseline + ${+(t.after.rss - t.baseline.rss).toFixed(1)} MiB, goal ≤ baseline + ${acc.budgetMiB} MiB |`,
    `| highest RSS while touching (garbage not yet collected) | ${t.peakRss} MiB |`,
    `| registry at the end | ${t.documentMemory.documents.toLocaleString('en')} documents loaded, ${(t.documentMemory.heapEstimateBytes / 2 ** 20).toFixed(1)} MiB estimated heap, ${t.documentMemory.evicted.toLocaleString('en')} unloaded early |`,
    `| accounts loaded per second (one process, no leases, ${t.accounts.toLocaleString('en')} small accounts, 16 at a time) | ${t.accountsPerSec}/s |`,
  ].join('\n')
}
const pr = load('peer-restart')
if (pr !== undefined) {
  tables['peer-restart'] = [
    `| a region's process restarted, nothing changed (load average ${pr.loadAverage[0]}) | bytes on the peer link, both ways, until quiet | start to link open |`,
    '|---|---|---|',
    ...pr.rows.map(
      (r: any) =>
        `| ${r.restarted === 'pg' ? 'PostgreSQL' : 'file store'} region, ${r.accounts.toLocaleString('en')} accounts (${r.documents.toLocaleString('en')} documents) | ${r.bytes.toLocaleString('en')} B | ${r.seconds} s |`,
    ),
  ].join('\n')
}
const rg = load('region')
if (rg !== undefined && rg.summary !== undefined) tables.region = String(rg.summary)
const f = load('fastpath')
if (f !== undefined) {
  tables.fastpath = [
    '| link latency (each way) | append+expose per node | fixups, all links up | fixups, one node cut off (then healed) |',
    '|---|---|---|---|',
    ...f.map(
      (r: any) => `| ${r.delayMsPerDirection} ms | ${r.appendsPerNode} × ${r.appendExposeMs} ms | ${r.connectedFixups} | ${r.cutFixups} |`,
    ),
  ].join('\n')
}
const i = load('imap')
if (i !== undefined && Array.isArray(i.rows)) {
  tables.imap = [
    '| IMAP | mailweave | Dovecot | ratio |',
    '|---|---|---|---|',
    ...i.rows.map((r: any) => `| ${r.name} | ${r.ours} | ${r.dovecot} | ${r.ratio}× |`),
  ].join('\n')
}
const ic = load('imap-cold')
if (ic !== undefined && Array.isArray(ic.rows)) {
  tables['imap-cold'] = [
    `| mailweave, ${ic.messages.toLocaleString('en')}-message mailbox | SELECT | SELECT + FETCH 1:* (UID FLAGS ENVELOPE) |`,
    '|---|---|---|',
    ...ic.rows.map((r: any) => `| ${r.name} | ${r.selectMs} ms | ${r.selectFetchMs} ms |`),
  ].join('\n')
}
const l = load('lmtp')
if (l !== undefined && Array.isArray(l.rows)) {
  tables.lmtp = [
    '| LMTP into one node (250 after the fsync) | deliveries/s | messages/s |',
    '|---|---|---|',
    ...l.rows.map(
      (r: any) =>
        `| ${r.messages.toLocaleString('en')} messages, ${r.connections} connection${r.connections > 1 ? 's' : ''}, ${r.recipients} recipient${r.recipients > 1 ? 's' : ''} each (raw LMTP client) | ${r.deliveriesPerSec} | ${r.messagesPerSec} |`,
    ),
    typeof l.postfix === 'object'
      ? `| ${l.postfix.messages} queued messages, Postfix's LMTP client at its defaults (queue filled first, delivery timed) | ${l.postfix.messagesPerSec} | ${l.postfix.messagesPerSec} |`
      : `| Postfix | ${l.postfix} | |`,
  ].join('\n')
}
const b = load('browser')
if (b !== undefined && b.summary !== undefined) tables.browser = String(b.summary)

/** Horizontal bars of "mailweave vs reference" ratios (1 = parity), with the goal where there is one. */
function ratioChart(title: string, rows: { label: string; ratio: number; goal?: number; lowerIsBetter?: boolean }[]): string {
  const w = 720
  const rowH = 34
  const left = 300
  const h = 50 + rows.length * rowH + 30
  const max = Math.max(2, ...rows.map((r) => r.ratio), ...rows.map((r) => r.goal ?? 0)) * 1.1
  const x = (v: number) => left + (v / max) * (w - left - 40)
  const bars = rows.map((r, i) => {
    const y = 44 + i * rowH
    const good = r.goal === undefined ? r.ratio >= 1 : r.lowerIsBetter ? r.ratio <= r.goal : r.ratio >= r.goal
    const goal =
      r.goal === undefined
        ? ''
        : `<line x1="${x(r.goal)}" x2="${x(r.goal)}" y1="${y - 4}" y2="${y + 22}" stroke="#b45309" stroke-width="2" stroke-dasharray="4 3"/>`
    return `<text x="${left - 10}" y="${y + 14}" text-anchor="end" font-size="13">${r.label}</text><rect x="${left}" y="${y}" width="${Math.max(1, x(r.ratio) - left)}" height="18" rx="3" fill="${good ? '#2563eb' : '#dc2626'}"/><text x="${x(r.ratio) + 6}" y="${y + 14}" font-size="12">${r.ratio}×</text>${goal}`
  })
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="system-ui, sans-serif"><rect width="100%" height="100%" fill="#fff"/><text x="16" y="24" font-size="15" font-weight="600">${title}</text><line x1="${x(1)}" x2="${x(1)}" y1="36" y2="${h - 24}" stroke="#94a3b8"/><text x="${x(1)}" y="${h - 8}" font-size="11" text-anchor="middle" fill="#64748b">1× (parity)</text>${bars.join('')}</svg>\n`
}
mkdirSync('docs/img', { recursive: true })
if (c !== undefined) {
  writeFileSync(
    'docs/img/bench-core.svg',
    ratioChart('core vs raw Yjs (lower is better; dashed: goal)', [
      { label: 'append + expose time', ratio: c.appendExpose.ratio, goal: c.appendExpose.goal, lowerIsBetter: true },
      { label: 'heap per message', ratio: c.heapPerMessage.ratio, goal: c.heapPerMessage.goal, lowerIsBetter: true },
      { label: 'encoded bytes per message', ratio: c.encodedPerMessage.ratio, goal: c.encodedPerMessage.goal, lowerIsBetter: true },
      { label: 'cold load + view', ratio: c.coldLoad.ratio, goal: c.coldLoad.goal, lowerIsBetter: true },
    ]),
  )
}
if (i !== undefined && Array.isArray(i.rows)) {
  writeFileSync(
    'docs/img/bench-imap.svg',
    ratioChart(
      'IMAP: mailweave vs Dovecot (higher is better)',
      i.rows.map((r: any) => ({
        label: String(r.name)
          .replace(/\(.*\)/, '')
          .slice(0, 40),
        ratio: Number(r.ratio),
        goal: 1,
      })),
    ),
  )
}
if (s !== undefined) {
  writeFileSync(
    'docs/img/bench-replication.svg',
    ratioChart('replication vs doveadm sync (higher is better)', [
      { label: `${s.replication.messages} messages to an empty peer`, ratio: s.replication.vsDoveadmSync, goal: 10 },
    ]),
  )
}

for (const file of ['README.md', 'docs/benchmarks.md']) {
  if (!existsSync(file)) continue
  let text = readFileSync(file, 'utf8')
  for (const [name, table] of Object.entries(tables)) {
    if (file === 'README.md') console.log(`\n${table}`)
    const re = new RegExp(`(<!-- bench:${name} -->)[\\s\\S]*?(<!-- /bench:${name} -->)`)
    if (re.test(text)) text = text.replace(re, `$1\n${table}\n$2`)
  }
  writeFileSync(file, text)
}
