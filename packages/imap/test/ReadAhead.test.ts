import { describe, expect, it } from 'vitest'
import { ReadAhead } from '../src/mime/ReadAhead.ts'

describe('ReadAhead', () => {
  it('loads needed bodies ahead, within its count and byte bounds, each once, in order', async () => {
    const started: string[] = []
    const gates = new Map<string, () => void>()
    const load = (guid: string) => {
      started.push(guid)
      return new Promise<Uint8Array>((resolve) => gates.set(guid, () => resolve(new TextEncoder().encode(guid))))
    }
    // items 0..19; odd ones need no body; each body is 100 bytes
    const want = (i: number) => (i % 2 === 1 ? undefined : { guid: `g${i}`, size: 100 })
    const ahead = new ReadAhead(20, want, load, 4, 10_000)
    const first = ahead.body(0, 'g0')
    expect(started).toEqual(['g2', 'g4', 'g6', 'g8', 'g0']) // four ahead, then item 0 itself (asked first)
    gates.get('g0')!()
    expect(new TextDecoder().decode(await first)).toBe('g0')
    const second = ahead.body(2, 'g2') // prefetched: no new load; three still ahead, no refill yet
    expect(started).toHaveLength(5)
    gates.get('g2')!()
    expect(new TextDecoder().decode(await second)).toBe('g2')
    void ahead.body(4, 'g4') // down to half: refilled together (one tick, so the store can join the reads)
    expect(started.slice(5)).toEqual(['g10', 'g12'])
  })

  it('skipped items release their reads, and a failed read nobody collects is not an unhandled rejection', async () => {
    const started: string[] = []
    const load = (guid: string) => {
      started.push(guid)
      return guid === 'g1' ? Promise.reject(new Error('gone')) : Promise.resolve(new Uint8Array(1))
    }
    const ahead = new ReadAhead(10, (i) => ({ guid: `g${i}`, size: 1_000 }), load, 4, 2_500)
    await ahead.body(0, 'g0')
    // the byte bound (2,500) allowed three 1,000-byte reads ahead (g1..g3), then item 0 itself
    expect(started).toEqual(['g1', 'g2', 'g3', 'g0'])
    await ahead.body(5, 'g5') // items 1..4 skipped (e.g. CHANGEDSINCE filtered them)
    expect(started).toContain('g5')
    expect(started.filter((g) => g === 'g5')).toHaveLength(1)
  })
})
