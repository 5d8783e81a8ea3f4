import { describe, expect, it } from 'vitest'
import { toHex } from '../hex.ts'
import type { MetaStore } from '../MetaStore.ts'
import { StorageError } from '../StorageError.ts'
import { testBytes, withFixture } from './updateStoreConformance.ts'
import type { StoreFixture } from './updateStoreConformance.ts'

const hexOr = (b: Uint8Array | undefined) => (b === undefined ? undefined : toHex(b))

/**
 * Registers a vitest suite checking the MetaStore contract: absence, replace, delete,
 * binary and empty values, copying, invalid keys refused, concurrent puts to one key
 * ending with one of the written values, and (when `reopen` is given) persistence.
 */
export function metaStoreConformance<S extends MetaStore>(name: string, make: () => Promise<StoreFixture<S>>): void {
  const withStore = withFixture(make)

  describe(`MetaStore conformance: ${name}`, () => {
    it(
      'answers undefined for an absent key, then replaces and deletes',
      withStore(async ({ store }) => {
        expect(await store.get('resume')).toBeUndefined()
        await store.put('resume', Uint8Array.of(1, 2))
        await store.put('resume', Uint8Array.of(3))
        expect(hexOr(await store.get('resume'))).toEqual('03')
        await store.delete('resume')
        await store.delete('resume')
        expect(await store.get('resume')).toBeUndefined()
      }),
    )

    it(
      'keeps empty and binary values exact and copies bytes in and out',
      withStore(async ({ store }) => {
        const value = testBytes(70_000, 3)
        await store.put('big', value)
        await store.put('empty', new Uint8Array(0))
        const got = await store.get('big')
        got![0] = got![0]! ^ 0xff
        expect(hexOr(await store.get('big'))).toEqual(toHex(value))
        expect(hexOr(await store.get('empty'))).toEqual('')
      }),
    )

    it(
      'refuses invalid keys with a StorageError',
      withStore(async ({ store }) => {
        for (const key of ['', '../x', 'a/b', '.hidden', 'x'.repeat(65)]) {
          await expect(store.put(key, Uint8Array.of(1))).rejects.toBeInstanceOf(StorageError)
          await expect(store.get(key)).rejects.toBeInstanceOf(StorageError)
        }
      }),
    )

    it(
      'ends concurrent puts to one key with one of the values, and keeps keys apart',
      withStore(async (fx) => {
        const values = Array.from({ length: 20 }, (_, i) => testBytes(10 + i, i + 1))
        await Promise.all(values.map((v) => fx.store.put('race', v)))
        await fx.store.put('other', Uint8Array.of(9))
        const check = async (store: S) => {
          expect(values.map(toHex)).toContain(hexOr(await store.get('race')))
          expect(hexOr(await store.get('other'))).toEqual('09')
        }
        await check(fx.store)
        if (fx.reopen) await check(await fx.reopen())
      }),
    )

    it(
      'persists puts and deletes across reopen',
      withStore(async (fx) => {
        if (!fx.reopen) return
        await fx.store.put('a', Uint8Array.of(1))
        await fx.store.put('b', Uint8Array.of(2))
        await fx.store.delete('a')
        const store = await fx.reopen()
        expect(await store.get('a')).toBeUndefined()
        expect(hexOr(await store.get('b'))).toEqual('02')
      }),
    )
  })
}
