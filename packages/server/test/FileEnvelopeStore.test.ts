import { appendFileSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { MemoryEnvelopeStore } from '@mailweave/imap'
import type { EnvelopeStore } from '@mailweave/imap'
import { silentLogger } from '../src/index.ts'
import { FileEnvelopeStore } from '../src/FileEnvelopeStore.ts'

const dirs: string[] = []
/** Stores the conformance tests leave open (the interface has no close). */
const opened: FileEnvelopeStore[] = []
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close()
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})
const hash = (i: number) => i.toString(16).padStart(64, '0')
const env = (i: number) => new TextEncoder().encode(`("date ${i}" "subject ${i}" NIL NIL NIL NIL NIL NIL NIL "<${i}@x>")`)
const text = (entries: Array<[string, Uint8Array]>) => entries.map(([h, b]) => `${h.slice(-4)}=${new TextDecoder().decode(b)}`)

// every adapter: what was added and flushed is loaded back, a later entry for a hash wins
const adapters: Array<[string, () => Promise<{ store: EnvelopeStore; reopen: () => Promise<EnvelopeStore> }>]> = [
  [
    'memory',
    async () => {
      const store = new MemoryEnvelopeStore()
      return { store, reopen: async () => store }
    },
  ],
  [
    'file',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'mailweave-envelopes-'))
      dirs.push(dir)
      const store = await FileEnvelopeStore.open({ dir, capacity: 100, log: silentLogger() })
      return {
        store,
        reopen: async () => {
          await store.close()
          const again = await FileEnvelopeStore.open({ dir, capacity: 100, log: silentLogger() })
          opened.push(again)
          return again
        },
      }
    },
  ],
]

describe.each(adapters)('EnvelopeStore conformance: %s', (_name, make) => {
  it('loads back what was added, the newest entry of a hash last', async () => {
    const { store, reopen } = await make()
    expect(await store.load()).toEqual([])
    store.add([
      [hash(1), env(1)],
      [hash(2), env(2)],
    ])
    store.add([[hash(1), env(11)]])
    await store.flush()
    const again = await reopen()
    expect(text(await again.load())).toEqual(
      text([
        [hash(2), env(2)],
        [hash(1), env(11)],
      ]),
    )
    await again.flush()
  })
})

describe('FileEnvelopeStore', () => {
  it('keeps its log bounded while running: rewritten to the newest entries after 2 x capacity writes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailweave-envelopes-'))
    dirs.push(dir)
    const store = await FileEnvelopeStore.open({ dir, capacity: 10, log: silentLogger() })
    const logSize = () =>
      statSync(
        join(
          dir,
          readdirSync(dir).find((f) => f.endsWith('.log'))!,
        ),
      ).size
    let largest = 0
    for (let i = 0; i < 200; i++) {
      store.add([[hash(i), env(i)]])
      await store.flush()
      largest = Math.max(largest, logSize())
    }
    // 200 entries of ~80 bytes each were written; the log never held much more than 2 x 10 of them
    expect(largest).toBeLessThan(40 * 120)
    const loaded = await store.load()
    expect(loaded.map(([h]) => h).slice(-10)).toEqual(Array.from({ length: 10 }, (_, i) => hash(190 + i)))
    await store.close()
  })

  it('compacts to the newest entries, and drops a torn tail', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailweave-envelopes-'))
    dirs.push(dir)
    let store = await FileEnvelopeStore.open({ dir, capacity: 10, log: silentLogger() })
    for (let i = 0; i < 30; i++) {
      store.add([[hash(i), env(i)]])
      await store.flush() // one record each: more than the compaction threshold of records
    }
    await store.close()
    const file = readdirSync(dir).find((f) => f.endsWith('.log'))!
    appendFileSync(join(dir, file), Buffer.from([9, 9, 9, 9, 1, 2])) // a write cut short by a crash
    store = await FileEnvelopeStore.open({ dir, capacity: 10, log: silentLogger() })
    const newest = Array.from({ length: 10 }, (_, i) => hash(20 + i))
    const loaded = (await store.load()).map(([h]) => h)
    expect(loaded.slice(-10)).toEqual(newest) // the torn record is gone, every whole one is there
    expect(loaded.length).toBeLessThanOrEqual(20) // 30 written, compacted on the way
    await store.close()
    store = await FileEnvelopeStore.open({ dir, capacity: 10, log: silentLogger() })
    expect((await store.load()).map(([h]) => h).slice(-10)).toEqual(newest)
    await store.close()
  })
})
