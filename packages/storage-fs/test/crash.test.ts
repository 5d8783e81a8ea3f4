import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect, it, vi } from 'vitest'
import { FileUpdateStore } from '../src/index.ts'
import { crashRecord } from './fixtures/crashRecord.ts'
import { runAndKill } from './fixtures/runAndKill.ts'

const fixture = fileURLToPath(new URL('./fixtures/appendLoop.ts', import.meta.url))
const ACKS_PER_ROUND = 300

it('keeps every acknowledged append, in order, across SIGKILL crashes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mailweave-crash-'))
  try {
    const acked = new Set<number>()
    for (let round = 0; round < 2; round++) {
      for (const i of await runAndKill(fixture, [dir], ACKS_PER_ROUND)) acked.add(i)
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
