import * as Y from 'yjs'
import { describe, expect, it } from 'vitest'
import { MemoryUpdateStore } from '@mailweave/core'
import { waitFor } from '@mailweave/testkit'
import { silentLogger } from '../src/index.ts'
import { DocRegistry, docHeapEstimate } from '../src/DocRegistry.ts'
import type { Logger } from '../src/index.ts'

describe('DocRegistry loading', () => {
  it('replays every stored record in order, skipping an undecodable one and saying so', async () => {
    const store = new MemoryUpdateStore()
    const src = new Y.Doc()
    const updates: Uint8Array[] = []
    src.on('update', (u: Uint8Array) => updates.push(u))
    const arr = src.getArray<number>('a')
    for (let i = 0; i < 50; i++) arr.push([i])
    for (const [i, u] of updates.entries()) {
      await store.append('d', u)
      if (i === 20) await store.append('d', Uint8Array.of(0xff, 0xfe, 0x01, 0x00, 0x07)) // garbage that passed the frame CRC
    }
    const errors: unknown[] = []
    const log: Logger = { ...silentLogger(), error: (o: unknown) => void errors.push(o) } as Logger
    const registry = await DocRegistry.create(store, { log })
    const h = await registry.open('d')
    expect(h.doc.getArray<number>('a').toArray()).toEqual(Array.from({ length: 50 }, (_, i) => i))
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatchObject({ doc: 'd', bad: 1, records: 51 })
    h.release()
    await registry.close()
  })
})

describe('DocRegistry persistence failures', () => {
  it('retries an update whose append failed, and a later flush resolves only once it is stored (acknowledged data is never left pending behind it)', async () => {
    const inner = new MemoryUpdateStore()
    let down = false
    const store = Object.assign(Object.create(inner) as MemoryUpdateStore, {
      append: (name: string, u: Uint8Array) => (down ? Promise.reject(new Error('database down')) : inner.append(name, u)),
    })
    const registry = await DocRegistry.create(store, { log: silentLogger() })
    const h = await registry.open('d')
    const arr = h.doc.getArray<number>('a')
    arr.push([1])
    await registry.flush('d')
    down = true
    arr.push([2]) // not acknowledged: its flush rejects
    await expect(registry.flush('d')).rejects.toThrow(/could not store/)
    down = false
    arr.push([3]) // depends on [2] (same client, next clock): durable only once [2] is stored too
    await registry.flush('d')
    expect(await inner.load('d')).toHaveLength(3)
    h.release()
    await registry.close()
    const again = await DocRegistry.create(inner, { log: silentLogger() })
    const h2 = await again.open('d')
    expect(h2.doc.getArray<number>('a').toArray()).toEqual([1, 2, 3])
    expect(h2.doc.store.pendingStructs).toBeNull()
    h2.release()
    await again.close()
  })
})

describe('DocRegistry memory budget', () => {
  const fill = async (registry: DocRegistry, name: string, n: number) => {
    const h = await registry.open(name)
    const arr = h.doc.getArray<string>('a')
    for (let i = 0; i < n; i++) arr.push([`${name}-${i}-${'x'.repeat(40)}`])
    await registry.flush(name)
    return h
  }

  it('unloads the least recently released documents past the budget, never one in use, and every one reloads whole', async () => {
    const store = new MemoryUpdateStore()
    // one document of 20 pushes is ~1.3 KB encoded, counted at ~12.7 KB of heap: a 48 KB budget holds about three idle ones
    const registry = await DocRegistry.create(store, { log: silentLogger(), budgetBytes: 48_000 })
    const held = await fill(registry, 'held', 20)
    for (let d = 0; d < 30; d++) (await fill(registry, `doc${d}`, 20)).release()
    await waitFor(() => registry.memory().heapEstimateBytes <= 48_000, 10_000, 'loaded documents back within the budget')
    const loaded = registry.loadedNames()
    expect(loaded).toContain('held') // in use: never unloaded, even though the budget is exceeded
    expect(loaded).toContain('doc29') // the most recently released stays
    expect(loaded).not.toContain('doc0') // the least recently released went first
    expect(loaded.length).toBeLessThan(10)
    expect(registry.memory().evicted).toBeGreaterThan(20)
    for (let d = 0; d < 30; d++) {
      const h = await registry.open(`doc${d}`)
      expect(h.doc.getArray<string>('a').toArray()).toEqual(Array.from({ length: 20 }, (_, i) => `doc${d}-${i}-${'x'.repeat(40)}`))
      h.release()
    }
    held.release()
    await registry.close()
  })

  it('counts every loaded document at a fixed heap cost as well: many small documents stay within the budget', async () => {
    // 200 documents of ~60 encoded bytes (12 KB together) cost ~1.7 MB of heap; a 100 KB budget
    // counted in encoded bytes kept all of them loaded (what 100,000 small accounts did)
    const registry = await DocRegistry.create(new MemoryUpdateStore(), { log: silentLogger(), budgetBytes: 100_000 })
    for (let d = 0; d < 200; d++) (await fill(registry, `small${d}`, 1)).release()
    await waitFor(() => registry.memory().heapEstimateBytes <= 100_000, 10_000, 'small documents back within the budget')
    expect(registry.memory().loadedBytes).toBeLessThan(2_000)
    expect(registry.loadedNames().length).toBeLessThanOrEqual(Math.floor(100_000 / docHeapEstimate(0)))
    expect(registry.loadedNames()).toContain('small199')
    expect(registry.memory()).toMatchObject({ documents: registry.loadedNames().length, budgetBytes: 100_000 })
    await registry.close()
  })

  it('keeps every idle document until the idle timer without a budget', async () => {
    const registry = await DocRegistry.create(new MemoryUpdateStore(), { log: silentLogger() })
    for (let d = 0; d < 30; d++) (await fill(registry, `doc${d}`, 20)).release()
    expect(registry.loadedNames()).toHaveLength(30)
    expect(registry.memory()).toMatchObject({ budgetBytes: undefined, evicted: 0 })
    await registry.close()
  })
})
