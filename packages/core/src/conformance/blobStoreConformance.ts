import { describe, expect, it } from 'vitest'
import { sha256 } from '@noble/hashes/sha2.js'
import type { BlobStore } from '../BlobStore.ts'
import { toHex } from '../hex.ts'
import { testBytes, withFixture } from './updateStoreConformance.ts'
import type { StoreFixture } from './updateStoreConformance.ts'

/** Lowercase hex SHA-256 of `bytes`: the key a {@link BlobStore} holds them under. */
export function sha256Hex(bytes: Uint8Array): string {
  return toHex(sha256(bytes))
}

const collect = async (it: AsyncIterable<string>): Promise<string[]> => {
  const out: string[] = []
  for await (const k of it) out.push(k)
  return out.sort()
}

/**
 * Registers a vitest suite checking the BlobStore contract with correctly hashed keys: round
 * trips, absence, idempotent put, delete, keys, binary and empty blobs, concurrency, copying and
 * (when `reopen` is given) persistence across reopen.
 */
export function blobStoreConformance<S extends BlobStore>(name: string, make: () => Promise<StoreFixture<S>>): void {
  const withStore = withFixture(make)

  describe(`BlobStore conformance: ${name}`, () => {
    it(
      'round-trips blobs and reports absence as undefined/false',
      withStore(async ({ store }) => {
        const blob = testBytes(5000, 3)
        const key = await sha256Hex(blob)
        expect(await store.get(key)).toBeUndefined()
        expect(await store.has(key)).toBe(false)
        await store.put(key, blob)
        expect(await store.has(key)).toBe(true)
        expect(toHex((await store.get(key)) ?? Uint8Array.of(0xff))).toEqual(toHex(blob))
      }),
    )

    it(
      'stores empty and all-byte-value blobs',
      withStore(async ({ store }) => {
        for (const blob of [new Uint8Array(0), Uint8Array.from({ length: 256 }, (_, i) => i)]) {
          const key = await sha256Hex(blob)
          await store.put(key, blob)
          expect(toHex((await store.get(key)) ?? Uint8Array.of(0xff))).toEqual(toHex(blob))
        }
      }),
    )

    it(
      'treats a repeated put as a no-op and deletes idempotently',
      withStore(async ({ store }) => {
        const blob = testBytes(100, 5)
        const key = await sha256Hex(blob)
        await store.put(key, blob)
        await store.put(key, blob)
        expect(await collect(store.keys())).toEqual([key])
        await store.delete(key)
        await store.delete(key)
        expect(await store.get(key)).toBeUndefined()
        expect(await collect(store.keys())).toEqual([])
      }),
    )

    it(
      'copies bytes in and out',
      withStore(async ({ store }) => {
        const blob = testBytes(64, 9)
        const key = await sha256Hex(blob)
        await store.put(key, blob.slice())
        const got = await store.get(key)
        got![0] = got![0]! ^ 0xff
        expect(toHex((await store.get(key)) ?? Uint8Array.of(0xff))).toEqual(toHex(blob))
      }),
    )

    it(
      'handles many concurrent puts and lists every key',
      withStore(async (fx) => {
        const blobs = Array.from({ length: 60 }, (_, i) => testBytes(1 + i * 37, i + 11))
        const keys = await Promise.all(blobs.map(sha256Hex))
        await Promise.all(blobs.map((b, i) => fx.store.put(keys[i]!, b)))
        expect(await collect(fx.store.keys())).toEqual([...keys].sort())
        const store = fx.reopen ? await fx.reopen() : fx.store
        for (const [i, key] of keys.entries()) expect(toHex((await store.get(key)) ?? Uint8Array.of(0xff))).toEqual(toHex(blobs[i]!))
        expect(await collect(store.keys())).toEqual([...keys].sort())
      }),
    )

    it(
      'answers a get racing a put of the same key with undefined or the right bytes',
      withStore(async ({ store }) => {
        const blobs = Array.from({ length: 20 }, (_, i) => testBytes(200 + i * 91, i + 101))
        const keys = await Promise.all(blobs.map(sha256Hex))
        const seen = await Promise.all(
          blobs.map(async (b, i) => {
            const put = store.put(keys[i]!, b)
            const during = [store.get(keys[i]!), Promise.resolve().then(() => store.get(keys[i]!))]
            await put
            return [...(await Promise.all(during)), await store.get(keys[i]!)]
          }),
        )
        seen.forEach((gets, i) => {
          for (const got of gets.slice(0, -1)) if (got !== undefined) expect(toHex(got)).toEqual(toHex(blobs[i]!))
          expect(toHex(gets.at(-1) ?? Uint8Array.of(0xff))).toEqual(toHex(blobs[i]!))
        })
      }),
    )

    it(
      'keeps deletes and re-puts across reopen',
      withStore(async (fx) => {
        const blobs = Array.from({ length: 6 }, (_, i) => testBytes(300 + i, i + 201))
        const keys = await Promise.all(blobs.map(sha256Hex))
        for (const [i, b] of blobs.entries()) await fx.store.put(keys[i]!, b)
        await fx.store.delete(keys[0]!)
        await fx.store.delete(keys[1]!)
        await fx.store.put(keys[1]!, blobs[1]!)
        const store = fx.reopen ? await fx.reopen() : fx.store
        expect(await store.has(keys[0]!)).toBe(false)
        expect(await store.get(keys[0]!)).toBeUndefined()
        expect(toHex((await store.get(keys[1]!)) ?? Uint8Array.of(0xff))).toEqual(toHex(blobs[1]!))
        expect(await collect(store.keys())).toEqual(keys.slice(1).sort())
      }),
    )
  })
}
