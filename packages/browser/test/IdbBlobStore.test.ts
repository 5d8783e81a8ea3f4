import 'fake-indexeddb/auto'
import { describe, expect, it } from 'vitest'
import { createStore, set } from 'idb-keyval'
import { blobStoreConformance } from '@mailweave/core/conformance'
import { EdgeError, IdbBlobStore, sha256Hex } from '../src/index.ts'

let n = 0
const fresh = () => `test-blobs-${process.pid}-${n++}`
const bytes = (s: string) => new TextEncoder().encode(s)

blobStoreConformance('IdbBlobStore (fake-indexeddb)', async () => {
  const name = fresh()
  return { store: new IdbBlobStore(name), reopen: async () => new IdbBlobStore(name), cleanup: async () => undefined }
})

describe('IdbBlobStore', () => {
  it('refuses bytes that do not hash to their key', async () => {
    const s = new IdbBlobStore(fresh())
    const err = await s.put(sha256Hex(bytes('a')), bytes('b')).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(EdgeError)
    expect((err as EdgeError).code).toBe('CORRUPT_BODY')
    expect(await s.has(sha256Hex(bytes('a')))).toBe(false)
  })

  it('verifies on read: a corrupted entry is dropped and reported absent', async () => {
    const name = fresh()
    const s = new IdbBlobStore(name)
    const good = bytes('Subject: x\r\n\r\nbody\r\n')
    const key = sha256Hex(good)
    await s.put(key, good)
    // flip the stored bytes behind the store's back (a corrupted medium)
    await set(key, bytes('Subject: x\r\n\r\nBODY\r\n'), createStore(name, 'blobs'))
    expect(await s.get(key)).toBeUndefined()
    expect(s.corrupt).toBe(1)
    expect(await s.has(key)).toBe(false)
  })

  it('queues uploads in the same transaction as the body, and keeps them out of keys()', async () => {
    const name = fresh()
    const s = new IdbBlobStore(name)
    const a = bytes('first')
    const b = bytes('second')
    await s.put(sha256Hex(a), a, { upload: true })
    await s.put(sha256Hex(b), b)
    const reopened = new IdbBlobStore(name)
    expect((await reopened.uploads()).map((q) => q.hash)).toEqual([sha256Hex(a)])
    const keys: string[] = []
    for await (const k of reopened.keys()) keys.push(k)
    expect(keys.sort()).toEqual([sha256Hex(a), sha256Hex(b)].sort())
    await reopened.uploaded(sha256Hex(a))
    expect(await reopened.uploads()).toEqual([])
    expect(await reopened.get(sha256Hex(a))).toEqual(a)
  })
})
