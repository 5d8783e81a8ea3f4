import * as Y from 'yjs'
import { describe, expect, it } from 'vitest'
import { edgeClientId, MAILBOX_LOG, nodeClientId, openMailbox, type Mailbox } from '../src/index.ts'
import { Hlc, MAX_CLOCK_SKEW_MS } from '../src/Hlc.ts'
import { MAX_COUNTER, parseFact } from '../src/facts.ts'
import { diff } from './helpers/rawItems.ts'
import { rawMessage } from './helpers/SimCluster.ts'

function sync(...docs: Y.Doc[]): void {
  for (const a of docs) for (const b of docs) if (a !== b) Y.applyUpdate(b, diff(a, b))
}
function doc(client: number): Y.Doc {
  const d = new Y.Doc()
  d.clientID = client
  return d
}
const YEAR_2100 = Date.UTC(2100, 0, 1)

describe('clock poisoning', () => {
  it('a flag fact stamped in year 2100 with counter 0xffffffff leaves appends readable and flag changes effective', () => {
    const A = openMailbox(doc(nodeClientId()), { replica: 'A', slot: 0, stride: 2, uidValidity: 5 })
    const g1 = A.append(rawMessage(1))
    A.expose()
    // a browser whose clock says 2100 (or a hostile one) flags the message
    const E = doc(edgeClientId())
    sync(A.doc, E)
    E.getArray(MAILBOX_LOG).push([['f', g1, '\\Seen', 1, YEAR_2100, 0xffffffff, 'browser']])
    sync(A.doc, E)
    expect(A.view().messages[0]!.flags).toEqual(['\\Seen'])
    // the node's next facts are ones every parser accepts: the APPEND is readable at its UID
    const g2 = A.append(rawMessage(2))
    const v = A.expose()
    expect(v.messages.map((m) => m.guid)).toEqual([g1, g2])
    for (const f of A.doc.getArray(MAILBOX_LOG).toArray()) expect(parseFact(f), JSON.stringify(f)).toBeDefined()
    expect(A.message(g2)!.appendedAt).toBeLessThanOrEqual(Date.now() + MAX_CLOCK_SKEW_MS)
    // STORE works on both messages, including un-setting the flag stamped in 2100
    A.setFlags(g2, { add: ['\\Flagged'] })
    A.setFlags(g1, { remove: ['\\Seen'] })
    expect(A.view().messages.map((m) => m.flags)).toEqual([[], ['\\Flagged']])
    // and the outcome converges: a fresh load of the same facts, and another replica, agree
    const B = openMailbox(doc(nodeClientId()), { replica: 'B', slot: 1, stride: 2 })
    sync(A.doc, B.doc, E)
    const reloaded = openMailbox(cloneOf(A.doc), { replica: 'A', slot: 0, stride: 2 })
    expect(B.view().messages).toEqual(A.view().messages)
    expect(reloaded.view().messages).toEqual(A.view().messages)
  })

  it('the Hlc ignores stamps too far ahead of wall time, and its counter never passes what parseFact accepts', () => {
    let now = 1_000_000
    const h = new Hlc(() => now)
    h.observe(YEAR_2100, 0xffffffff)
    expect(h.tick()).toEqual([now, 0])
    expect(h.ignored).toBe(1)
    h.observe(now + 1000, MAX_COUNTER) // within the skew: adopted
    expect(h.tick()).toEqual([now + 1001, 0]) // the counter would overflow: ms moves on
    now += 5000
    expect(h.tick()).toEqual([now, 0])
    h.observe(now, 2 ** 40) // out of range: ignored
    expect(h.tick()).toEqual([now, 1])
  })
})

describe('a second message fact for an existing guid', () => {
  it('the body an acknowledged UID shows does not depend on array position', () => {
    const A = openMailbox(doc(nodeClientId()), { replica: 'A', slot: 0, stride: 2, uidValidity: 5 })
    const g = A.append(rawMessage('original'))
    A.append(rawMessage('other'))
    A.expose()
    const original = A.message(g)!.hash
    const forged = ['m', g, 'X', '0'.repeat(64), 3, 0, 0, 0, ['\\Deleted'], {}]
    // the same facts with the forged one at the start of the array, and at its end
    const front = cloneOf(A.doc)
    front.clientID = nodeClientId()
    front.getArray(MAILBOX_LOG).insert(0, [forged])
    const back = cloneOf(A.doc)
    back.clientID = nodeClientId()
    back.getArray(MAILBOX_LOG).push([forged])
    const seen = (d: Y.Doc): [string, readonly string[]] => {
      const m = openMailbox(cloneOf(d), { replica: 'A', slot: 0, stride: 2 })
      return [m.message(g)!.hash, m.message(g)!.flags]
    }
    expect(seen(front)).toEqual(seen(back))
    // incrementally, in either order, the same
    const inc: Mailbox[] = [front, back].map(() => openMailbox(doc(nodeClientId()), { replica: 'B', slot: 1, stride: 2 }))
    sync(inc[0]!.doc, front)
    sync(inc[1]!.doc, back)
    expect(inc[0]!.message(g)!.hash).toBe(inc[1]!.message(g)!.hash)
    expect(inc[0]!.message(g)!.flags).toEqual(inc[1]!.message(g)!.flags)
    expect(inc[0]!.message(g)!.hash).toBe(seen(front)[0])
    expect(inc[0]!.inspect().duplicateMessageFacts).toBe(1)
    void original
  })
})

function cloneOf(d: Y.Doc): Y.Doc {
  const c = doc(nodeClientId())
  Y.applyUpdate(c, Y.encodeStateAsUpdate(d))
  return c
}
