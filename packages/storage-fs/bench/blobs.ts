// Micro benchmark: durable puts/s with 32 in flight (FileBlobStore vs PackBlobStore, 3000 blobs of
// ~1.5 KB) and PackBlobStore open time with 50k blobs. Run: node --import tsx packages/storage-fs/bench/blobs.ts
import { createHash } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { BlobStore } from '@mailweave/core'
import { FileBlobStore, PackBlobStore } from '../src/index.ts'

const IN_FLIGHT = 32
const PUTS = Number(process.env.BENCH_PUTS ?? 3000)
const OPEN_BLOBS = Number(process.env.BENCH_OPEN_BLOBS ?? 50_000)

const blobOf = (i: number, seed: number): Uint8Array => {
  const out = new Uint8Array(1400 + (i % 200))
  let x = (i + 1) * 2654435761 + seed
  for (let j = 0; j < out.length; j++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[j] = x & 0xff
  }
  return out
}
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

/** Puts `count` blobs with IN_FLIGHT concurrent writers; resolves with puts per second. */
async function putRate(store: BlobStore, count: number, seed: number): Promise<number> {
  const blobs = Array.from({ length: count }, (_, i) => blobOf(i, seed))
  const keys = blobs.map(sha)
  let next = 0
  const start = performance.now()
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < count) {
        const i = next++
        await store.put(keys[i]!, blobs[i]!)
      }
    }),
  )
  return count / ((performance.now() - start) / 1000)
}

const dirs: string[] = []
const tempDir = async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mailweave-bench-blobs-'))
  dirs.push(dir)
  return dir
}

try {
  const file = await putRate(await FileBlobStore.open({ dir: await tempDir() }), PUTS, 1)
  const packStore = await PackBlobStore.open({ dir: await tempDir() })
  const pack = await putRate(packStore, PUTS, 2)
  const { commits, fsyncCount } = packStore.stats()
  await packStore.close()
  console.log(`puts/s, ${IN_FLIGHT} in flight, ${PUTS} blobs of ~1.5 KB:`)
  console.log(`  FileBlobStore  ${file.toFixed(0).padStart(7)}`)
  console.log(
    `  PackBlobStore  ${pack.toFixed(0).padStart(7)}  (${commits} group commits, ${fsyncCount} fsyncs, ${(PUTS / commits).toFixed(1)} puts/commit)`,
  )

  const dir = await tempDir()
  const filling = await PackBlobStore.open({ dir })
  const fillStart = performance.now()
  for (let at = 0; at < OPEN_BLOBS; at += 1000) {
    const batch = Array.from({ length: Math.min(1000, OPEN_BLOBS - at) }, (_, i) => blobOf(at + i, 3))
    await Promise.all(batch.map((b) => filling.put(sha(b), b)))
  }
  const fillMs = performance.now() - fillStart
  await filling.close()
  const openStart = performance.now()
  const opened = await PackBlobStore.open({ dir })
  const openMs = performance.now() - openStart
  console.log(`PackBlobStore open with ${opened.stats().blobs} blobs: ${openMs.toFixed(0)} ms (filled in ${(fillMs / 1000).toFixed(1)} s)`)
  await opened.close()
} finally {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true })
}
