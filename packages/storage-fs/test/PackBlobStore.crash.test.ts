import { createHash } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect, it, vi } from 'vitest'
import { PackBlobStore } from '../src/index.ts'
import { CRASH_LARGE_BLOB_BYTES, crashBlob } from './fixtures/crashBlob.ts'
import { runAndKill } from './fixtures/runAndKill.ts'

const fixture = fileURLToPath(new URL('./fixtures/putLoop.ts', import.meta.url))
const ACKS_PER_ROUND = 400
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')
const open = (dir: string, log: () => void) => PackBlobStore.open({ dir, log, largeBlobBytes: CRASH_LARGE_BLOB_BYTES, packBytes: 1 << 20 })

it('keeps every acknowledged put readable across SIGKILL crashes mid put stream', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mailweave-pack-crash-'))
  try {
    const acked = new Set<number>()
    const known = new Map<string, number>()
    for (let round = 0; round < 2; round++) {
      for (const i of await runAndKill(fixture, [dir, String(round * 1_000_000)], ACKS_PER_ROUND)) acked.add(i)
      const log = vi.fn()
      const store = await open(dir, log)
      const unreadable = []
      for (const i of acked)
        if (!Buffer.from((await store.get(sha(crashBlob(i)))) ?? []).equals(Buffer.from(crashBlob(i)))) unreadable.push(i)
      expect(unreadable).toEqual([])
      // Anything else present is an unacknowledged put that made it, whole: the child numbers its
      // puts in order with 32 in flight, so none is past the highest acknowledged one plus 32 (on a
      // loaded machine it acknowledges many more than ACKS_PER_ROUND before the kill lands).
      const highest = Math.max(...[...acked].filter((i) => i >= round * 1_000_000))
      for (let i = round * 1_000_000; i <= highest + 32; i++) known.set(sha(crashBlob(i)), i)
      const unexpected = []
      let present = 0
      for await (const key of store.keys()) {
        present++
        if (!known.has(key) || (await store.get(key)) === undefined) unexpected.push(key)
      }
      expect(unexpected).toEqual([])
      expect(present).toBeGreaterThanOrEqual(acked.size)
      expect(log.mock.calls.length).toBeLessThanOrEqual(1)
      await store.close()

      // Recovery left a clean store: a second open finds the same and warns about nothing.
      const clean = vi.fn()
      const again = await open(dir, clean)
      expect(again.stats().blobs).toBe(present)
      expect(clean).not.toHaveBeenCalled()
      await again.close()
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
