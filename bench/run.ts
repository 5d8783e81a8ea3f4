/**
 * `pnpm bench`: runs every benchmark in its own process (so heaps do not mix) and
 * prints the tables the README shows. Results land as JSON in bench/results/.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'

const only = process.argv[2]
const suites = [{ name: 'core', file: 'bench/core.ts' }].filter((s) => only === undefined || s.name === only)
for (const s of suites) {
  if (!existsSync(s.file)) continue
  process.stderr.write(`== bench ${s.name}\n`)
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', s.file], { stdio: ['ignore', 'inherit', 'inherit'], env: process.env })
  if (r.status !== 0) {
    process.stderr.write(`bench ${s.name} failed (${r.status})\n`)
    process.exitCode = 1
  }
}
if (existsSync('bench/results/core.json') && (only === undefined || only === 'core')) {
  const c = JSON.parse(readFileSync('bench/results/core.json', 'utf8'))
  console.log(`\n| core (${c.messages} messages) | mailweave | raw Yjs | ratio | goal |\n|---|---|---|---|---|`)
  console.log(`| append + expose, per message | ${c.appendExpose.oursUs} µs | ${c.appendExpose.rawMapSetUs} µs (Y.Map.set) | ${c.appendExpose.ratio}× | ≤ ${c.appendExpose.goal}× |`)
  console.log(`| heap per message | ${c.heapPerMessage.oursBytes} B | ${c.heapPerMessage.rawBytes} B | ${c.heapPerMessage.ratio}× | ≤ ${c.heapPerMessage.goal}× |`)
  console.log(`| encoded bytes per message | ${c.encodedPerMessage.oursBytes} B | ${c.encodedPerMessage.rawBytes} B | ${c.encodedPerMessage.ratio}× | ≤ ${c.encodedPerMessage.goal}× |`)
  console.log(`| cold load + view | ${c.coldLoad.oursMs} ms | ${c.coldLoad.applyUpdatePlusNaiveViewMs} ms (applyUpdate + naive view) | ${c.coldLoad.ratio}× | ≤ ${c.coldLoad.goal}× |`)
}
