import * as Y from 'yjs'
import { describe, expect, it } from 'vitest'
import { MemoryUpdateStore } from '@mailweave/core'
import { silentLogger } from '../src/index.ts'
import { DocRegistry } from '../src/DocRegistry.ts'
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
