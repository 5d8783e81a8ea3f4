import { createHash } from 'node:crypto'
import { appendFile, open, readdir, readFile, stat, truncate, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { defaultWriteOp, PackBlobStore, StorageError } from '../src/index.ts'
import type { PackBlobStoreOptions, WriteOp } from '../src/index.ts'
import { useTempDirs } from './fixtures/tempDirs.ts'

const tempDir = useTempDirs('pack')
const stores: PackBlobStore[] = []
const openStore = async (options: PackBlobStoreOptions) => {
  const store = await PackBlobStore.open(options)
  stores.push(store)
  return store
}
// registered after useTempDirs' hook, so it runs first: stores close before their dirs go
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close()
})

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')
/** Blob `i`: `size` bytes derived from i, so every test blob is distinct and replayable. */
const blobOf = (i: number, size = 1500) => {
  const out = new Uint8Array(size)
  for (let j = 0; j < size; j++) out[j] = (i * 131 + j * 7 + (j >> 8)) & 0xff
  if (size >= 4) new DataView(out.buffer).setUint32(0, i, true)
  return out
}
const same = (a: Uint8Array | undefined, b: Uint8Array) => a !== undefined && Buffer.from(a).equals(Buffer.from(b))
const keysOf = async (store: PackBlobStore) => {
  const out: string[] = []
  for await (const k of store.keys()) out.push(k)
  return out.sort()
}
const packPath = (dir: string, n = 0) => join(dir, 'packs', `${String(n).padStart(6, '0')}.pack`)
const putAll = (store: PackBlobStore, blobs: Uint8Array[]) => Promise.all(blobs.map((b) => store.put(sha(b), b)))

describe('PackBlobStore', () => {
  it('serves gets of one tick from joined reads, each blob verified and returned whole', async () => {
    const store = await openStore({ dir: await tempDir() })
    const blobs = Array.from({ length: 40 }, (_, i) => blobOf(i, 500 + i * 37))
    await Promise.all(blobs.map((b) => store.put(sha(b), b)))
    const later = blobOf(99) // a later commit: reopening verifies only the last one's records
    await store.put(sha(later), later)
    const got = await Promise.all([...blobs].reverse().map((b) => store.get(sha(b))))
    got.reverse().forEach((g, i) => expect(same(g, blobs[i]!)).toBe(true))
    // a returned blob is its own copy: changing it changes nothing stored
    const mine = got[3]!
    mine[0] = mine[0]! ^ 0xff
    expect(same(await store.get(sha(blobs[3]!)), blobs[3]!)).toBe(true)
    // a record damaged on disk fails alone; its neighbours in the same read still verify
    const dir = (store as unknown as { dir: string }).dir
    await store.close()
    const pack = await readFile(packPath(dir))
    const at = pack.indexOf(Buffer.from(blobs[10]!.subarray(0, 64)))
    pack[at + 100] = pack[at + 100]! ^ 0xff
    await writeFile(packPath(dir), pack)
    const reopened = await openStore({ dir })
    const again = await Promise.all(blobs.map((b) => reopened.get(sha(b))))
    again.forEach((g, i) => (i === 10 ? expect(g).toBeUndefined() : expect(same(g, blobs[i]!)).toBe(true)))
  })

  it('answers get for a put still being committed, and nothing once that commit failed', async () => {
    let armed = false
    let failNext = false
    let release: (() => void) | undefined
    const writeOp: WriteOp = async (file, data, position) => {
      // holds the first commit at its first write so the test can look at the store meanwhile
      if (armed && release === undefined) await new Promise<void>((r) => (release = r))
      if (failNext) throw Object.assign(new Error('no space'), { code: 'ENOSPC' })
      return defaultWriteOp(file, data, position)
    }
    const store = await openStore({ dir: await tempDir(), writeOp })
    armed = true
    const a = blobOf(1)
    const put = store.put(sha(a), a)
    const deadline = Date.now() + 5000
    while (release === undefined && Date.now() < deadline) await new Promise((r) => setImmediate(r))
    expect(release).toBeDefined()
    expect(same(await store.get(sha(a)), a)).toBe(true) // not durable yet, but readable
    expect(await store.has(sha(a))).toBe(false) // has() answers durable blobs only
    release!()
    await put
    expect(await store.has(sha(a))).toBe(true)
    failNext = true
    const b = blobOf(2)
    const failing = store.put(sha(b), b)
    expect(same(await store.get(sha(b)), b)).toBe(true)
    await expect(failing).rejects.toBeInstanceOf(StorageError)
    expect(await store.get(sha(b))).toBeUndefined()
  })

  it('answers get for a blob put as a file while a delete of its packed copy is being committed', async () => {
    const dir = await tempDir()
    const a = blobOf(1, 2000)
    const first = await openStore({ dir })
    await first.put(sha(a), a) // packed under the default threshold
    await first.close()
    let hold = false
    let release: (() => void) | undefined
    const writeOp: WriteOp = async (file, data, position) => {
      if (hold && release === undefined) await new Promise<void>((r) => (release = r))
      return defaultWriteOp(file, data, position)
    }
    const store = await openStore({ dir, writeOp, largeBlobBytes: 1000 })
    const deleting = store.delete(sha(a))
    const deadline = Date.now() + 5000
    hold = true
    while (release === undefined && Date.now() < deadline) await new Promise((r) => setImmediate(r))
    expect(release).toBeDefined() // the delete's commit is held at its first write
    hold = false
    try {
      await store.put(sha(a), a) // over the new threshold: one file, outside the packs
      expect(same(await store.get(sha(a)), a)).toBe(true)
    } finally {
      release!()
    }
    await deleting
    expect(same(await store.get(sha(a)), a)).toBe(true)
  })

  it('rejects a put whose key is not the SHA-256 of the bytes', async () => {
    const store = await openStore({ dir: await tempDir() })
    const blob = blobOf(1)
    for (const wrong of [sha(blobOf(2)), sha(blob).toUpperCase(), 'not-a-key', `${sha(blob)}00`]) {
      const err = await store.put(wrong, blob).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(StorageError)
      expect(err).toMatchObject({ code: 'HASH_MISMATCH' })
    }
    expect(await keysOf(store)).toEqual([])
  })

  it('group-commits concurrent puts and answers repeated puts without I/O', async () => {
    const dir = await tempDir()
    let writes = 0
    const writeOp: WriteOp = (file, data, position) => {
      writes++
      return defaultWriteOp(file, data, position)
    }
    const store = await openStore({ dir, writeOp })
    const opened = store.stats().fsyncCount
    const blobs = Array.from({ length: 200 }, (_, i) => blobOf(i, 100 + i))
    await putAll(store, blobs)
    // One tick's puts share a commit: one pack fsync, one dir fsync (new pack), one index fsync.
    expect(store.stats()).toMatchObject({ blobs: 200, commits: 1, fsyncCount: opened + 3 })
    const before = { writes, ...store.stats() }
    await putAll(store, blobs)
    expect({ writes, ...store.stats() }).toEqual(before)
    for (const [i, b] of blobs.entries()) expect(same(await store.get(sha(b)), b), `blob ${i}`).toBe(true)
  })

  it('applies puts and deletes of one key in call order, within a commit and across commits', async () => {
    const dir = await tempDir()
    const store = await openStore({ dir })
    const [a, b, c] = [blobOf(1), blobOf(2), blobOf(3)]
    await store.put(sha(c), c)
    // Same tick: a put-delete-put ends present, b put-delete ends absent, c delete-put ends present.
    await Promise.all([
      store.put(sha(a), a),
      store.delete(sha(a)),
      store.put(sha(a), a),
      store.put(sha(b), b),
      store.delete(sha(b)),
      store.delete(sha(c)),
      store.put(sha(c), c),
    ])
    const expected = [sha(a), sha(c)].sort()
    expect(await keysOf(store)).toEqual(expected)
    await store.close()
    const again = await openStore({ dir })
    expect(await keysOf(again)).toEqual(expected)
    for (const blob of [a, c]) expect(same(await again.get(sha(blob)), blob)).toBe(true)
  })

  it('keeps the index on disk: reopen answers has() without reading packs, and the packs hold the bytes', async () => {
    const dir = await tempDir()
    const blobs = Array.from({ length: 50 }, (_, i) => blobOf(i))
    await putAll(await openStore({ dir }), blobs)
    const index = await stat(join(dir, 'index.log'))
    expect(index.size).toBeLessThan(50 * 60 + 100)
    expect((await stat(packPath(dir))).size).toBe(50 * (1500 + 40))
    const again = await openStore({ dir })
    for (const b of blobs) expect(await again.has(sha(b))).toBe(true)
  })

  it('rolls over to a new pack when one is full', async () => {
    const dir = await tempDir()
    const store = await openStore({ dir, packBytes: 10_000 })
    const blobs = Array.from({ length: 20 }, (_, i) => blobOf(i))
    for (const chunk of [blobs.slice(0, 7), blobs.slice(7)]) await putAll(store, chunk)
    expect((await readdir(join(dir, 'packs'))).sort()).toEqual(['000000.pack', '000001.pack', '000002.pack', '000003.pack'])
    const again = await openStore({ dir, packBytes: 10_000 })
    for (const b of blobs) expect(same(await again.get(sha(b)), b)).toBe(true)
  })

  it('truncates a torn pack tail (unindexed bytes) on open, logging once', async () => {
    const dir = await tempDir()
    const blobs = [blobOf(1), blobOf(2)]
    await putAll(await openStore({ dir }), blobs)
    const size = (await stat(packPath(dir))).size
    await appendFile(packPath(dir), blobOf(3, 700)) // a put that crashed before its index entry
    const log = vi.fn()
    const store = await openStore({ dir, log })
    expect(log).toHaveBeenCalledTimes(1)
    expect(log.mock.calls[0]![1]).toMatchObject({ packsTruncated: [{ pack: 0, bytes: 700 }] })
    expect((await stat(packPath(dir))).size).toBe(size)
    for (const b of blobs) expect(same(await store.get(sha(b)), b)).toBe(true)
    const clean = vi.fn()
    await openStore({ dir, log: clean })
    expect(clean).not.toHaveBeenCalled()
  })

  it('drops index entries pointing past a truncated pack, and never appends to that pack again', async () => {
    const dir = await tempDir()
    const [a, b, c] = [blobOf(1), blobOf(2), blobOf(3, 900)]
    const first = await openStore({ dir })
    await first.put(sha(a), a)
    await first.put(sha(b), b)
    await first.close()
    await truncate(packPath(dir), 1540 + 600) // b's record cut in the middle
    const log = vi.fn()
    const store = await openStore({ dir, log })
    expect(log).toHaveBeenCalledTimes(1)
    expect(log.mock.calls[0]![1]).toMatchObject({ entriesLost: 1, packsTruncated: [{ pack: 0, bytes: 600 }] })
    expect(same(await store.get(sha(a)), a)).toBe(true)
    expect(await store.has(sha(b))).toBe(false)
    expect(await store.get(sha(b))).toBeUndefined()
    // c goes to a new pack: had it landed where b was, b's dead entry could cover its bytes.
    await store.put(sha(c), c)
    await store.close()
    expect((await readdir(join(dir, 'packs'))).sort()).toEqual(['000000.pack', '000001.pack'])
    const clean = vi.fn()
    const again = await openStore({ dir, log: clean })
    expect(clean).not.toHaveBeenCalled()
    expect(await keysOf(again)).toEqual([sha(a), sha(c)].sort())
    expect(same(await again.get(sha(c)), c)).toBe(true)
    await again.put(sha(b), b)
    expect(same(await again.get(sha(b)), b)).toBe(true)
  })

  it('verifies the last commit on open: records that never reached the disk are dropped, not served', async () => {
    const dir = await tempDir()
    const [a, b, c, d] = [blobOf(1), blobOf(2), blobOf(3), blobOf(4)]
    const first = await openStore({ dir })
    await first.put(sha(a), a)
    await putAll(first, [b, c]) // the last commit
    await first.close()
    // Index and pack are fsynced in parallel: simulate the index frame durable, c's blocks not.
    const file = await open(packPath(dir), 'r+')
    await file.write(new Uint8Array(1540), 0, 1540, 2 * 1540)
    await file.close()
    const log = vi.fn()
    const store = await openStore({ dir, log })
    expect(log).toHaveBeenCalledTimes(1)
    expect(log.mock.calls[0]![1]).toMatchObject({ entriesLost: 1, packsTruncated: [{ pack: 0, bytes: 1540 }] })
    expect(await keysOf(store)).toEqual([sha(a), sha(b)].sort())
    expect(await store.get(sha(c))).toBeUndefined()
    await putAll(store, [c, d]) // into a new pack: c's dead entry never covers new bytes
    await store.close()
    const quiet = vi.fn()
    const again = await openStore({ dir, log: quiet })
    expect(quiet).not.toHaveBeenCalled()
    expect((await readdir(join(dir, 'packs'))).sort()).toEqual(['000000.pack', '000001.pack'])
    for (const blob of [a, b, c, d]) expect(same(await again.get(sha(blob)), blob)).toBe(true)
  })

  it.each([
    ['torn last frame', async (path: string, size: number) => truncate(path, size - 5)],
    ['garbage after the last frame', async (path: string) => appendFile(path, Buffer.from('garbage!garbage!'))],
    [
      'flipped byte in the last frame',
      async (path: string, size: number) => {
        const file = await open(path, 'r+')
        await file.write(Uint8Array.of(0xee), 0, 1, size - 3)
        await file.close()
      },
    ],
  ])('recovers from a %s of the index, logging once', async (what, damage) => {
    const dir = await tempDir()
    const [a, b] = [blobOf(1), blobOf(2)]
    const first = await openStore({ dir })
    await first.put(sha(a), a)
    await first.put(sha(b), b)
    await first.close()
    const indexPath = join(dir, 'index.log')
    await damage(indexPath, (await stat(indexPath)).size)
    const log = vi.fn()
    const store = await openStore({ dir, log })
    expect(log).toHaveBeenCalledTimes(1)
    expect((log.mock.calls[0]![1] as { indexBytesDropped: number }).indexBytesDropped).toBeGreaterThan(0)
    expect(same(await store.get(sha(a)), a)).toBe(true)
    if (what === 'garbage after the last frame') expect(same(await store.get(sha(b)), b)).toBe(true)
    else {
      // b's entry is gone, so its record is an unindexed pack tail: truncated too.
      expect(await store.has(sha(b))).toBe(false)
      expect((await stat(packPath(dir))).size).toBe(1540)
    }
    await store.put(sha(b), b)
    await store.close()
    const clean = vi.fn()
    const again = await openStore({ dir, log: clean })
    expect(clean).not.toHaveBeenCalled()
    expect(await keysOf(again)).toEqual([sha(a), sha(b)].sort())
  })

  it('returns undefined for a corrupted payload byte, logs once, and remembers the drop across reopen', async () => {
    const dir = await tempDir()
    const [a, b] = [blobOf(1), blobOf(2)]
    const log = vi.fn()
    const store = await openStore({ dir, log })
    await putAll(store, [a, b])
    const pack = await readFile(packPath(dir))
    const bAt = pack.indexOf(Buffer.from(sha(b), 'hex')) + 32
    const file = await open(packPath(dir), 'r+')
    await file.write(Uint8Array.of(pack[bAt + 100]! ^ 1), 0, 1, bAt + 100)
    await file.close()
    const [r1, r2] = await Promise.all([store.get(sha(b)), store.get(sha(b))])
    expect([r1, r2]).toEqual([undefined, undefined])
    expect(log).toHaveBeenCalledTimes(1)
    expect(log.mock.calls[0]![1]).toMatchObject({ key: sha(b) })
    expect(await store.has(sha(b))).toBe(false)
    expect(same(await store.get(sha(a)), a)).toBe(true)
    await store.close()
    const quiet = vi.fn()
    const again = await openStore({ dir, log: quiet })
    expect(await again.has(sha(b))).toBe(false)
    expect(quiet).not.toHaveBeenCalled()
    await again.put(sha(b), b) // a new put repairs it
    expect(same(await again.get(sha(b)), b)).toBe(true)
  })

  it('stores blobs over largeBlobBytes one file each, outside the packs', async () => {
    const dir = await tempDir()
    const big = blobOf(9, 5000)
    const small = blobOf(8, 100)
    const store = await openStore({ dir, largeBlobBytes: 4096 })
    await putAll(store, [big, small])
    expect(await readdir(join(dir, sha(big).slice(0, 2)))).toEqual([sha(big)])
    expect((await stat(packPath(dir))).size).toBe(140)
    expect(await store.has(sha(big))).toBe(true)
    expect(same(await store.get(sha(big)), big)).toBe(true)
    const again = await openStore({ dir, largeBlobBytes: 4096 })
    expect(await keysOf(again)).toEqual([sha(big), sha(small)].sort())
    expect(same(await again.get(sha(big)), big)).toBe(true)
    await again.delete(sha(big))
    expect(await again.has(sha(big))).toBe(false)
    expect(await readdir(join(dir, sha(big).slice(0, 2)))).toEqual([])
  })

  it('rejects a failed write with a typed error and keeps earlier blobs intact', async () => {
    const dir = await tempDir()
    let failing: 'pack' | 'index' | undefined
    const writeOp: WriteOp = async (file, data, position) => {
      const isIndex = data.length < 200 // index frames here are small; pack records are 1540 bytes
      if (failing === (isIndex ? 'index' : 'pack')) {
        await defaultWriteOp(file, data.subarray(0, 3), position)
        throw Object.assign(new Error('simulated ENOSPC'), { code: 'ENOSPC' })
      }
      return defaultWriteOp(file, data, position)
    }
    const log = vi.fn()
    const store = await openStore({ dir, writeOp, log })
    const [a, b, c] = [blobOf(1), blobOf(2), blobOf(3)]
    await store.put(sha(a), a)
    const packSize = (await stat(packPath(dir))).size
    const indexSize = (await stat(join(dir, 'index.log'))).size
    for (const where of ['pack', 'index'] as const) {
      failing = where
      const results = await Promise.allSettled([store.put(sha(b), b), store.put(sha(c), c)])
      for (const r of results) expect(r).toMatchObject({ status: 'rejected', reason: { code: 'DISK_FULL', name: 'StorageError' } })
      expect(await store.has(sha(b))).toBe(false)
      expect((await stat(packPath(dir))).size).toBe(packSize)
      expect((await stat(join(dir, 'index.log'))).size).toBe(indexSize)
      expect(same(await store.get(sha(a)), a)).toBe(true)
    }
    failing = undefined
    await putAll(store, [b, c])
    await store.close()
    const again = await openStore({ dir, log })
    expect(log).not.toHaveBeenCalled()
    expect(await keysOf(again)).toEqual([sha(a), sha(b), sha(c)].sort())
  })

  it('compacts live blobs into a new pack generation, atomically, while puts and gets go on', async () => {
    const dir = await tempDir()
    const store = await openStore({ dir, packBytes: 40_000 })
    const blobs = Array.from({ length: 60 }, (_, i) => blobOf(i))
    await putAll(store, blobs)
    for (const b of blobs.slice(0, 40)) await store.delete(sha(b))
    const oldPacks = await readdir(join(dir, 'packs'))
    expect(oldPacks.length).toBe(3)
    const extra = Array.from({ length: 10 }, (_, i) => blobOf(100 + i))
    const live = blobs.slice(40)
    // Gets and puts racing the compaction see the right bytes (or, for unfinished puts, nothing).
    let compacted = false
    const compaction = store.compact().finally(() => (compacted = true))
    let rounds = 0
    const reading = (async () => {
      for (; !compacted && rounds < 10_000; rounds++) {
        const reads = await Promise.all(live.map((b) => store.get(sha(b))))
        reads.forEach((got, i) => expect(same(got, live[i]!), `live ${i} in round ${rounds}`).toBe(true))
      }
    })()
    const [result] = await Promise.all([compaction, putAll(store, extra), reading])
    expect(rounds).toBeGreaterThan(0)
    expect(result).toEqual({ blobs: 20, bytesBefore: 60 * 1540, bytesAfter: 20 * 1540 })
    const packs = await readdir(join(dir, 'packs'))
    expect(packs.filter((p) => oldPacks.includes(p))).toEqual([])
    const expected = [...live, ...extra]
    const check = async (s: PackBlobStore) => {
      expect(await keysOf(s)).toEqual(expected.map(sha).sort())
      for (const b of expected) expect(same(await s.get(sha(b)), b)).toBe(true)
    }
    await check(store)
    await store.close()
    const log = vi.fn()
    await check(await openStore({ dir, packBytes: 40_000, log }))
    expect(log).not.toHaveBeenCalled()
  })

  it('ignores the leftovers of a compaction interrupted before or after its rename', async () => {
    const dir = await tempDir()
    const blobs = Array.from({ length: 10 }, (_, i) => blobOf(i))
    const store = await openStore({ dir })
    await putAll(store, blobs)
    await store.close()
    // Before the rename: a new-generation pack and a temp index.
    await writeFile(packPath(dir, 1), blobOf(99, 3000))
    await writeFile(join(dir, 'index.log.tmp'), blobOf(98, 50))
    const log = vi.fn()
    const again = await openStore({ dir, log })
    expect(await readdir(join(dir, 'packs'))).toEqual(['000000.pack'])
    expect(await readdir(dir)).not.toContain('index.log.tmp')
    for (const b of blobs) expect(same(await again.get(sha(b)), b)).toBe(true)
    // After the rename: the old generation's packs are removed without complaint.
    await again.delete(sha(blobs[0]!))
    await again.compact()
    await again.close()
    await writeFile(packPath(dir, 0), blobOf(97, 3000))
    const quiet = vi.fn()
    const third = await openStore({ dir, log: quiet })
    expect(quiet).not.toHaveBeenCalled()
    expect(await readdir(join(dir, 'packs'))).toEqual(['000001.pack'])
    expect(await keysOf(third)).toEqual(blobs.slice(1).map(sha).sort())
  })

  it('rebuilds a lost index from the pack records', async () => {
    const dir = await tempDir()
    const blobs = Array.from({ length: 30 }, (_, i) => blobOf(i, 50 + i * 30))
    const store = await openStore({ dir, packBytes: 8000 })
    await putAll(store, blobs)
    await store.close()
    await unlink(join(dir, 'index.log'))
    const log = vi.fn()
    const again = await openStore({ dir, packBytes: 8000, log })
    expect(log).toHaveBeenCalledTimes(1)
    expect(log.mock.calls[0]![1]).toMatchObject({ blobs: 30 })
    expect(await keysOf(again)).toEqual(blobs.map(sha).sort())
    for (const b of blobs) expect(same(await again.get(sha(b)), b)).toBe(true)
    const extra = blobOf(500)
    await again.put(sha(extra), extra)
    await again.close()
    const quiet = vi.fn()
    expect((await keysOf(await openStore({ dir, packBytes: 8000, log: quiet }))).length).toBe(31)
    expect(quiet).not.toHaveBeenCalled()
  })

  it('rejects gets still queued when the store closes', async () => {
    const store = await openStore({ dir: await tempDir(), packBytes: 4000 })
    const blobs = [blobOf(1), blobOf(2), blobOf(3)] // two packs: reads in two runs
    for (const b of blobs) await store.put(sha(b), b)
    const gets = Promise.allSettled(blobs.map((b) => store.get(sha(b))))
    await store.close()
    for (const got of await gets) expect(got).toMatchObject({ status: 'rejected', reason: { code: 'IO', name: 'StorageError' } })
  })

  it('rejects use after close', async () => {
    const store = await openStore({ dir: await tempDir() })
    await store.close()
    const blob = blobOf(1)
    await expect(store.put(sha(blob), blob)).rejects.toMatchObject({ code: 'IO' })
    await expect(store.get(sha(blob))).rejects.toMatchObject({ code: 'IO' })
  })
})
