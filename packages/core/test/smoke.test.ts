import * as Y from 'yjs'
import { describe, expect, it } from 'vitest'
import { openMailbox } from '../src/index.ts'

const msg = (s: string) => new TextEncoder().encode(`Subject: ${s}\r\nFrom: a@example.org\r\n\r\nbody ${s}\r\n`)

describe('smoke', () => {
  it('appends, exposes, syncs between two nodes', () => {
    const a = new Y.Doc()
    const b = new Y.Doc()
    const ma = openMailbox(a, { replica: 'A', slot: 0, stride: 2, uidValidity: 7 })
    const g1 = ma.append(msg('one'))
    const v1 = ma.expose()
    expect(v1.messages.map((m) => m.uid)).toEqual([2])
    expect(v1.uidNext).toBe(3)
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a))
    const mb = openMailbox(b, { replica: 'B', slot: 1, stride: 2 })
    mb.append(msg('two'))
    const vb = mb.expose()
    expect(vb.messages.map((m) => [m.uid, m.guid === g1])).toEqual([
      [2, true],
      [3, false],
    ])
    expect(vb.uidValidity).toBe(7)
  })
})
