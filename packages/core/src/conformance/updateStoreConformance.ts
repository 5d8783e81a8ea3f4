import { describe, expect, it } from 'vitest'
import { toHex } from '../hex.ts'
import type { UpdateStore } from '../UpdateStore.ts'

/** A fresh store for one test; `reopen` closes nothing itself and opens the same data again. */
export interface StoreFixture<S> {
  store: S
  reopen?: () => Promise<S>
  cleanup: () => Promise<void>
}

/**
 * Wraps one test body: a fresh fixture from `make`, `fn` on it, then `close` (when given,
 * failures ignored) and the fixture's cleanup, also when `fn` fails.
 */
export function withFixture<S>(make: () => Promise<StoreFixture<S>>, close?: (store: S) => Promise<void>) {
  return (fn: (fx: StoreFixture<S>) => Promise<void>) => async () => {
    const fx = await make()
    try {
      await fn(fx)
    } finally {
      if (close) await close(fx.store).catch(() => {})
      await fx.cleanup()
    }
  }
}

/** Deterministic pseudo-random bytes (xorshift), so failures replay exactly. */
export function testBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length)
  let x = seed | 0 || 1
  for (let i = 0; i < length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values)
const plain = (records: Uint8Array[]): string[] => records.map(toHex)
const h = (...rows: number[][]): string[] => rows.map((r) => toHex(Uint8Array.from(r)))

/**
 * Registers a vitest suite checking the UpdateStore contract: round trips, ordering, many
 * documents, compaction, empty/absent documents, concurrency, binary payloads and (when
 * `reopen` is given) persistence across close/reopen.
 */
export function updateStoreConformance<S extends UpdateStore>(name: string, make: () => Promise<StoreFixture<S>>): void {
  const withStore = withFixture(make, (store) => store.close())
  // Reopens (if supported) after closing, returning the store to keep testing with.
  const cycle = async (fx: StoreFixture<S>, store: S): Promise<S> => {
    if (!fx.reopen) return store
    await store.close()
    const next = await fx.reopen()
    fx.store = next
    return next
  }

  describe(`UpdateStore conformance: ${name}`, () => {
    it(
      'round-trips records in append order',
      withStore(async ({ store }) => {
        await store.append('doc', bytes(1))
        await store.append('doc', bytes(2, 2))
        await store.append('doc', bytes(3, 3, 3))
        expect(plain(await store.load('doc'))).toEqual(h([1], [2, 2], [3, 3, 3]))
      }),
    )

    it(
      'returns [] for an absent document and does not list it',
      withStore(async ({ store }) => {
        expect(await store.load('never-written')).toEqual([])
        expect(await store.list()).not.toContain('never-written')
      }),
    )

    it(
      'keeps binary payloads exact, including empty and large updates',
      withStore(async (fx) => {
        const payloads = [
          new Uint8Array(0),
          Uint8Array.from({ length: 256 }, (_, i) => i),
          testBytes(100_000, 7),
          new Uint8Array(0),
          bytes(0, 0, 0, 0),
        ]
        for (const p of payloads) await fx.store.append('bin', p)
        expect(plain(await fx.store.load('bin'))).toEqual(plain(payloads))
        const store = await cycle(fx, fx.store)
        expect(plain(await store.load('bin'))).toEqual(plain(payloads))
      }),
    )

    it(
      'copies bytes in and out',
      withStore(async ({ store }) => {
        const input = bytes(1, 2, 3)
        await store.append('copy', input)
        input[0] = 99
        const [first] = await store.load('copy')
        expect(first && toHex(first)).toEqual('010203')
        first![1] = 99
        expect(plain(await store.load('copy'))).toEqual(h([1, 2, 3]))
      }),
    )

    it(
      'keeps many documents apart, whatever their names',
      withStore(async (fx) => {
        const names = [
          'acct/alice/INBOX',
          'acct/alice/inbox',
          'acct/bob/INBOX',
          '',
          '.',
          '..',
          '../escape',
          'a/../b',
          'a\\b',
          'sp ace',
          'ünïcødé/📬',
          'x'.repeat(300),
          'X'.repeat(300),
        ]
        for (let i = 0; i < 20; i++) names.push(`acct/user${i}/Folder ${i}`)
        await Promise.all(
          names.map(async (n, i) => {
            await fx.store.append(n, bytes(i))
            await fx.store.append(n, bytes(i, i))
          }),
        )
        const check = async (store: S) => {
          for (const [i, n] of names.entries()) expect(plain(await store.load(n)), n).toEqual(h([i], [i, i]))
          expect([...(await store.list())].sort()).toEqual([...names].sort())
        }
        await check(fx.store)
        await check(await cycle(fx, fx.store))
      }),
    )

    it(
      'compacts to one snapshot and keeps appending after it',
      withStore(async (fx) => {
        for (let i = 0; i < 10; i++) await fx.store.append('c', bytes(i))
        await fx.store.append('other', bytes(42))
        await fx.store.compact('c', bytes(100, 101))
        expect(plain(await fx.store.load('c'))).toEqual(h([100, 101]))
        await fx.store.append('c', bytes(11))
        await fx.store.append('c', new Uint8Array(0))
        expect(plain(await fx.store.load('c'))).toEqual(h([100, 101], [11], []))
        await fx.store.compact('c', bytes(200))
        await fx.store.append('c', bytes(12))
        const store = await cycle(fx, fx.store)
        expect(plain(await store.load('c'))).toEqual(h([200], [12]))
        expect(plain(await store.load('other'))).toEqual(h([42]))
        await store.append('c', bytes(13))
        expect(plain(await store.load('c'))).toEqual(h([200], [12], [13]))
      }),
    )

    it(
      'compacts an absent document into a listed one',
      withStore(async (fx) => {
        await fx.store.compact('fresh', bytes(5))
        const store = await cycle(fx, fx.store)
        expect(plain(await store.load('fresh'))).toEqual(h([5]))
        expect(await store.list()).toContain('fresh')
      }),
    )

    it(
      'orders operations by call: append, compact, append without awaiting',
      withStore(async ({ store }) => {
        await store.append('o', bytes(0))
        const ops = [store.append('o', bytes(1)), store.compact('o', bytes(9)), store.append('o', bytes(2)), store.append('o', bytes(3))]
        await Promise.all(ops)
        expect(plain(await store.load('o'))).toEqual(h([9], [2], [3]))
      }),
    )

    it(
      'makes concurrent appends all durable and in call order',
      withStore(async (fx) => {
        const n = 200
        const docs = ['p', 'q', 'r']
        await Promise.all(Array.from({ length: n }, (_, i) => fx.store.append(docs[i % docs.length]!, testBytes(1 + (i % 50), i + 1))))
        const expected = (d: number) =>
          Array.from({ length: n }, (_, i) => i)
            .filter((i) => i % docs.length === d)
            .map((i) => toHex(testBytes(1 + (i % 50), i + 1)))
        for (const [d, doc] of docs.entries()) expect(plain(await fx.store.load(doc))).toEqual(expected(d))
        const store = await cycle(fx, fx.store)
        for (const [d, doc] of docs.entries()) expect(plain(await store.load(doc))).toEqual(expected(d))
      }),
    )

    it(
      'persists across reopen',
      withStore(async (fx) => {
        if (!fx.reopen) return
        await fx.store.append('persist', bytes(1))
        await fx.store.append('persist', bytes(2))
        let store = await cycle(fx, fx.store)
        expect(plain(await store.load('persist'))).toEqual(h([1], [2]))
        await store.append('persist', bytes(3))
        store = await cycle(fx, store)
        expect(plain(await store.load('persist'))).toEqual(h([1], [2], [3]))
        expect(await store.list()).toEqual(['persist'])
      }),
    )
  })
}
