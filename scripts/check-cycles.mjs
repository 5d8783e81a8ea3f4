// Fails when relative imports between source files form a cycle (packages and examples).
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'

const roots = ['packages', 'examples', 'test', 'bench'].filter((d) => {
  try {
    return statSync(d).isDirectory()
  } catch {
    return false
  }
})
const files = []
const walk = (dir) => {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist') continue
    const p = join(dir, name)
    if (statSync(p).isDirectory()) walk(p)
    else if (/\.(ts|tsx|mts)$/.test(name) && !name.endsWith('.d.ts')) files.push(resolve(p))
  }
}
roots.forEach(walk)
const known = new Set(files)
const edges = new Map()
const importRe = /(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\sfrom\s+)?['"](\.{1,2}\/[^'"]+)['"]/g
for (const f of files) {
  const src = readFileSync(f, 'utf8')
  const deps = []
  for (const m of src.matchAll(importRe)) {
    if (/^\s*(import|export)\s+type\s/.test(m[0])) continue // type-only imports vanish at runtime
    let target = resolve(dirname(f), m[1])
    const candidates = [target, target.replace(/\.js$/, '.ts'), target + '.ts', join(target, 'index.ts')]
    const hit = candidates.find((c) => known.has(c))
    if (hit) deps.push(hit)
  }
  edges.set(f, deps)
}
const state = new Map()
const stack = []
let cycles = 0
const visit = (f) => {
  state.set(f, 1)
  stack.push(f)
  for (const d of edges.get(f) ?? []) {
    if (state.get(d) === 1) {
      cycles++
      console.error('import cycle: ' + [...stack.slice(stack.indexOf(d)), d].map((x) => x.replace(process.cwd() + '/', '')).join(' -> '))
    } else if (!state.has(d)) visit(d)
  }
  stack.pop()
  state.set(f, 2)
}
files.forEach((f) => {
  if (!state.has(f)) visit(f)
})
if (cycles > 0) process.exit(1)
console.log(`no import cycles (${files.length} files)`)
