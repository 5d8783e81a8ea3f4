import { createHash } from 'node:crypto'
import { readdir, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it, vi } from 'vitest'
import { defaultWriteOp, FileBlobStore, StorageError } from '../src/index.ts'
import type { WriteOp } from '../src/index.ts'
import { useTempDirs } from './fixtures/tempDirs.ts'

const tempDir = useTempDirs('blob')

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')
const blob = new TextEncoder().encode('Subject: hello\r\n\r\nbody\r\n')
const key = sha(blob)
const keysOf = async (store: FileBlobStore) => {
  const out: string[] = []
  for await (const k of store.keys()) out.push(k)
  return out
}

describe('FileBlobStore', () => {
  it('rejects a put whose key is not the SHA-256 of the bytes', async () => {
    const store = await FileBlobStore.open({ dir: await tempDir() })
    for (const wrong of [sha(Uint8Array.of(1)), key.toUpperCase(), 'not-a-key', `${key}00`]) {
      const err = await store.put(wrong, blob).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(StorageError)
      expect(err).toMatchObject({ code: 'HASH_MISMATCH' })
    }
    expect(await keysOf(store)).toEqual([])
  })

  it('stores blobs fanned out by the first two hex digits', async () => {
    const dir = await tempDir()
    const store = await FileBlobStore.open({ dir })
    await store.put(key, blob)
    expect(await readdir(join(dir, key.slice(0, 2)))).toEqual([key])
  })

  it.each([
    ['a flipped byte', (path: string) => writeFile(path, Buffer.from(blob).fill(0x41, 3, 4))],
    ['a truncated file', (path: string) => truncate(path, 4)],
  ])('returns undefined and logs for %s on disk, and a new put repairs it', async (_, damage) => {
    const dir = await tempDir()
    const log = vi.fn()
    const store = await FileBlobStore.open({ dir, log })
    await store.put(key, blob)
    await damage(join(dir, key.slice(0, 2), key))
    expect(await store.get(key)).toBeUndefined()
    expect(log).toHaveBeenCalledTimes(1)
    expect(log.mock.calls[0]![1]).toMatchObject({ key })
    expect(await store.has(key)).toBe(false)
    expect(await keysOf(store)).toEqual([])
    await store.put(key, blob)
    expect(Buffer.from((await store.get(key))!).equals(Buffer.from(blob))).toBe(true)
  })

  it('rejects a put on a full disk with DISK_FULL and leaves nothing behind', async () => {
    const dir = await tempDir()
    let armed = true
    const writeOp: WriteOp = async (file, data, position) => {
      if (!armed) return defaultWriteOp(file, data, position)
      await defaultWriteOp(file, data.subarray(0, 3), position)
      throw Object.assign(new Error('simulated ENOSPC'), { code: 'ENOSPC' })
    }
    const store = await FileBlobStore.open({ dir, writeOp })
    await expect(store.put(key, blob)).rejects.toMatchObject({ code: 'DISK_FULL' })
    expect(await store.has(key)).toBe(false)
    expect(await readdir(join(dir, key.slice(0, 2)))).toEqual([])
    armed = false
    await store.put(key, blob)
    expect(await store.has(key)).toBe(true)
  })

  it('removes temp files of interrupted puts on open', async () => {
    const dir = await tempDir()
    await (await FileBlobStore.open({ dir })).put(key, blob)
    await writeFile(join(dir, key.slice(0, 2), `${key}.abc.tmp`), Uint8Array.of(1))
    const store = await FileBlobStore.open({ dir })
    expect(await readdir(join(dir, key.slice(0, 2)))).toEqual([key])
    expect(await keysOf(store)).toEqual([key])
  })
})
