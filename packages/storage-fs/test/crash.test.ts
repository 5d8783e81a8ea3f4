import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect, it, vi } from 'vitest'
import { FileUpdateStore } from '../src/index.ts'
import { crashRecord } from './fixtures/crashRecord.ts'

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url))
const fixture = fileURLToPath(new URL('./fixtures/appendLoop.ts', import.meta.url))
const ACKS_PER_ROUND = 300

/** Runs the append loop until it has acknowledged `acks` more records, then SIGKILLs it. */
async function runAndKill(dir: string, acks: number): Promise<Set<number>> {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, dir], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] })
  const acked = new Set<number>()
  let stderr = ''
  let partial = ''
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)))
  const enough = new Promise<void>((resolve, reject) => {
    const deadline = setTimeout(() => reject(new Error(`only ${acked.size} acks before the deadline; stderr: ${stderr}`)), 20_000)
    child.stdout.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split('\n')
      partial = lines.pop() ?? ''
      for (const line of lines) acked.add(Number(line))
      if (acked.size >= acks) {
        clearTimeout(deadline)
        resolve()
      }
    })
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    void exited.then((how) => reject(new Error(`child exited early (${how}); stderr: ${stderr}`)))
  })
  try {
    await enough
  } finally {
    child.kill('SIGKILL')
  }
  expect(await exited).toBe('SIGKILL')
  return acked
}

it('keeps every acknowledged append, in order, across SIGKILL crashes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mailweave-crash-'))
  try {
    const acked = new Set<number>()
    for (let round = 0; round < 2; round++) {
      for (const i of await runAndKill(dir, ACKS_PER_ROUND)) acked.add(i)
      const log = vi.fn()
      const store = await FileUpdateStore.open({ dir, log })
      const records = await store.load('crash/doc')
      await store.close()
      // A prefix of the call order, byte-exact, containing every acknowledged index.
      records.forEach((r, i) => expect(Buffer.from(r).equals(Buffer.from(crashRecord(i))), `record ${i}`).toBe(true))
      expect(records.length).toBeGreaterThan(Math.max(...acked))
      expect(log.mock.calls.length).toBeLessThanOrEqual(1)

      // Recovery left a clean log: a second open loads the same and warns about nothing.
      const clean = vi.fn()
      const again = await FileUpdateStore.open({ dir, log: clean })
      expect((await again.load('crash/doc')).length).toBe(records.length)
      expect(clean).not.toHaveBeenCalled()
      await again.close()
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
