import 'fake-indexeddb/auto'
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { waitFor } from '@mailweave/testkit'
import { IdbDocStore } from '../src/index.ts'

let n = 0
const freshStore = () => new IdbDocStore(`test-docs-${process.pid}-${n++}`)
const items = (doc: Y.Doc) => doc.getArray<string>('a').toArray()

describe('IdbDocStore', () => {
  it('batches updates into one debounced write and loads them into a new document', async () => {
    const store = freshStore()
    const doc = new Y.Doc()
    const p = await store.attach(doc, 'd1', { debounceMs: 20 })
    for (let i = 0; i < 50; i++) doc.getArray<string>('a').push([`x${i}`])
    expect(p.pendingUpdates).toBe(50)
    await waitFor(() => p.pendingUpdates === 0 && p.writes === 1, 2000, 'the debounced write')
    expect((await store.stats('d1')).entries).toBe(1)
    const copy = new Y.Doc()
    const q = await store.attach(copy, 'd1')
    expect(items(copy)).toEqual(items(doc))
    expect(q.loadedEntries).toBe(1)
    // other documents of the store are separate
    const other = new Y.Doc()
    await store.attach(other, 'd10')
    expect(items(other)).toEqual([])
    expect(await store.docNames()).toEqual(['d1'])
    p.destroy()
    q.destroy()
  })

  it('writes at once above maxPendingBytes and flush() makes everything durable', async () => {
    const store = freshStore()
    const doc = new Y.Doc()
    const p = await store.attach(doc, 'big', { debounceMs: 60_000, maxPendingBytes: 1000 })
    doc.getArray<string>('a').push(['y'.repeat(2000)])
    await waitFor(() => p.writes === 1, 2000, 'the size-triggered write')
    doc.getArray<string>('a').push(['small'])
    expect(p.pendingUpdates).toBe(1)
    await p.flush()
    expect(p.pendingUpdates).toBe(0)
    expect((await store.stats('big')).entries).toBe(2)
    await p.close()
  })

  it('compacts into one snapshot without losing another tab’s concurrent entries', async () => {
    const store = freshStore()
    const tab1 = new Y.Doc()
    const tab2 = new Y.Doc()
    const p1 = await store.attach(tab1, 'shared', { compactAfter: 1000 })
    const p2 = await store.attach(tab2, 'shared', { compactAfter: 1000 })
    for (let i = 0; i < 10; i++) {
      tab1.getArray<string>('a').push([`t1-${i}`])
      await p1.flush()
    }
    tab2.getArray<string>('a').push(['t2-written-before-compaction'])
    await p2.flush()
    expect((await store.stats('shared')).entries).toBe(11)
    await p1.compact()
    // tab1's ten entries became one snapshot; tab2's entry (unknown to tab1) stays
    expect((await store.stats('shared')).entries).toBe(2)
    tab2.getArray<string>('a').push(['t2-after'])
    await p2.flush()
    const reload = new Y.Doc()
    await store.attach(reload, 'shared')
    const got = items(reload)
    expect(got.filter((x) => x.startsWith('t1-')).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `t1-${i}`).sort())
    expect(got).toContain('t2-written-before-compaction')
    expect(got).toContain('t2-after')
    p1.destroy()
    p2.destroy()
  })

  it('compacts automatically after compactAfter entries and keeps the content', async () => {
    const store = freshStore()
    const doc = new Y.Doc()
    const p = await store.attach(doc, 'auto', { compactAfter: 5 })
    for (let i = 0; i < 12; i++) {
      doc.getArray<string>('a').push([`v${i}`])
      await p.flush()
    }
    await waitFor(() => p.compactions >= 2, 2000, 'two automatic compactions')
    await p.flush()
    expect((await store.stats('auto')).entries).toBeLessThan(5)
    const reload = new Y.Doc()
    await store.attach(reload, 'auto')
    expect(items(reload)).toEqual(items(doc))
    p.destroy()
  })

  it('does not store updates it loaded, and records updates that arrive while loading', async () => {
    const store = freshStore()
    const a = new Y.Doc()
    const pa = await store.attach(a, 'gap')
    a.getArray<string>('a').push(['stored'])
    await pa.flush()
    const b = new Y.Doc()
    const loading = store.attach(b, 'gap')
    // an update arriving before the load finished (e.g. from a provider) must be persisted
    b.getArray<string>('a').push(['during-load'])
    const pb = await loading
    expect(items(b).sort()).toEqual(['during-load', 'stored'])
    await pb.flush()
    expect(pb.writes).toBe(1)
    const c = new Y.Doc()
    await store.attach(c, 'gap')
    expect(items(c).sort()).toEqual(['during-load', 'stored'])
  })
})
