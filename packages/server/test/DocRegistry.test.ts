import * as Y from 'yjs'
import { describe, expect, it } from 'vitest'
import { MemoryUpdateStore } from '@mailweave/core'
import { DocRegistry, silentLogger } from '../src/index.ts'
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
