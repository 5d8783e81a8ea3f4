import * as Y from 'yjs'
import { describe, expect, it } from 'vitest'
import { DELIVERY_WINDOW_MS, checkEdgeUpdate, deliveryKey, edgeClientId, openMailbox, type Mailbox } from '../src/index.ts'
import { MailboxState } from '../src/MailboxState.ts'
import { ModelClient } from '../../testkit/src/ModelClient.ts'
import { rawMessage } from './helpers/SimCluster.ts'

/** Two-way full sync between docs (what a healed link does). */
function sync(...docs: Y.Doc[]): void {
  for (const a of docs) for (const b of docs) if (a !== b) Y.applyUpdate(b, Y.encodeStateAsUpdate(a, Y.encodeStateVector(b)))
}

/** A node on a clock the test moves. */
function node(id: string, slot: number, clock: { t: number }, stride = 2): Mailbox {
  return openMailbox(new Y.Doc(), { replica: id, slot, stride, uidValidity: 99, now: () => clock.t })
}

const enc = new TextEncoder()
/** What an MTA hands over; the node prepends its own trace header before storing. */
const delivered = (id: string) =>
  enc.encode(`From: a@example.org\r\nTo: alice@example.org\r\nSubject: hi\r\nMessage-ID: <${id}@example.org>\r\n\r\nhello\r\n`)
const stored = (raw: Uint8Array, node: string) => new Uint8Array([...enc.encode(`Received: by ${node}; ${Math.random()}\r\n`), ...raw])
const guids = (mb: Mailbox) => mb.view().messages.map((m) => m.guid)

describe('deliveryKey', () => {
  it('is the same for one delivery on any node, and differs per recipient and per byte', () => {
    const raw = delivered('k1')
    const k = deliveryKey(raw, 'alice@example.org')!
    expect(k).toMatch(/^[0-9a-f]{64}$/)
    expect(deliveryKey(delivered('k1'), ' <Alice@Example.org> ')).toBe(k)
    expect(deliveryKey(raw, 'bob@example.org')).not.toBe(k)
    expect(deliveryKey(delivered('k2'), 'alice@example.org')).not.toBe(k)
    const oneByteMore = enc.encode(new TextDecoder().decode(raw) + '.')
    expect(deliveryKey(oneByteMore, 'alice@example.org')).not.toBe(k)
  })

  it('is undefined without a Message-ID (a retry cannot be told from a second identical message) and refuses a missing recipient', () => {
    expect(deliveryKey(enc.encode('Subject: no id\r\n\r\nbody\r\n'), 'alice@example.org')).toBeUndefined()
    expect(() => deliveryKey(delivered('k'), ' <> ')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
    expect(() => deliveryKey(delivered('k'), 'a\r\nb@x')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
  })
})

describe('one message, one copy, across regions (the delivery rule)', () => {
  it('the same delivery to two partitioned regions converges to the earlier copy; the other side sees one EXPUNGE', () => {
    const clock = { t: 1_000_000 }
    const A = node('A', 0, clock)
    const B = node('B', 1, clock)
    sync(A.doc, B.doc)
    const ca = new ModelClient('ca')
    const cb = new ModelClient('cb')
    const raw = delivered('split')
    const key = deliveryKey(raw, 'alice@example.org')!
    // partition: the MTA delivers to B, times out, fails over and delivers to A
    const b = B.append(stored(raw, 'B'), { delivery: key })
    clock.t += 30_000
    const a = A.append(stored(raw, 'A'), { delivery: key })
    ca.sync(A.expose())
    cb.sync(B.expose())
    expect([...ca.guids()]).toEqual([a])
    expect([...cb.guids()]).toEqual([b])
    sync(A.doc, B.doc)
    // every replica keeps b (appended first): a leaves the view as if expunged. b's uid is
    // below the UIDNEXT A's client was told, so rule 4 rebinds it above (as for any message)
    for (const m of [A, B]) {
      expect(m.message(a)).toMatchObject({ expunged: true, delivery: key, duplicateOf: b })
      expect(m.inspect().superseded).toEqual([{ guid: a, by: b }])
      expect(m.message(b)).toMatchObject({ expunged: false, duplicateOf: undefined })
    }
    const aUid = [...ca.cache.keys()]
    ca.sync(A.expose())
    sync(A.doc, B.doc)
    cb.sync(B.expose())
    expect(ca.gone).toEqual(new Set(aUid)) // A's client: one EXPUNGE (a's uid), then b as a new message
    expect([...ca.guids()]).toEqual([b])
    expect(ca.duplicates).toEqual([])
    expect([...cb.guids()]).toEqual([b])
    expect(cb.duplicates.map(([g]) => g)).toEqual([b]) // rule 4's duplicate-on-seen, not the delivery rule
    sync(A.doc, B.doc)
    expect(JSON.stringify(A.view().messages)).toBe(JSON.stringify(B.view().messages))
    expect(guids(A)).toEqual([b])
  })

  it('a client that saw both copies under two uids sees one EXPUNGE, and no uid changes content', () => {
    const clock = { t: 1_000_000 }
    const A = node('A', 0, clock)
    const B = node('B', 1, clock)
    sync(A.doc, B.doc)
    const raw = delivered('both')
    const key = deliveryKey(raw, 'alice@example.org')!
    const b = B.append(stored(raw, 'B'), { delivery: key })
    clock.t += 1000
    const a = A.append(stored(raw, 'A'), { delivery: key })
    // a relay delivers B's binding of b before b's message fact (Yjs may integrate them apart)
    const bUid = B.message(b)!.uid!
    const relay = new Y.Doc()
    relay.getArray('mailweave.log').push([['b', bUid, b, 'B']])
    sync(A.doc, relay)
    const ca = new ModelClient('ca')
    ca.sync(A.expose())
    expect(new Set(ca.guids())).toEqual(new Set([a, b]))
    const aUid = A.message(a)!.uid!
    sync(A.doc, B.doc)
    ca.sync(A.expose())
    expect([...ca.cache]).toEqual([[bUid, b]])
    expect(ca.gone).toEqual(new Set([aUid]))
    expect(ca.duplicates).toEqual([])
  })

  it('an MTA retry to the same node never shows the second copy', () => {
    const clock = { t: 5_000 }
    const A = node('A', 0, clock)
    const raw = delivered('retry')
    const key = deliveryKey(raw, 'alice@example.org')!
    const first = A.append(stored(raw, 'A'), { delivery: key })
    const c = new ModelClient('c')
    c.sync(A.expose())
    clock.t += 60_000
    const second = A.append(stored(raw, 'A'), { delivery: key })
    c.sync(A.expose())
    expect([...c.cache.values()]).toEqual([first])
    expect(A.message(second)).toMatchObject({ expunged: true, duplicateOf: first, uid: undefined })
    expect(A.strandedCount).toBe(0) // a superseded copy is never rebound
  })

  it("does not merge a user's own APPEND of identical bytes, two recipients' copies, or copies further apart than the window", () => {
    const clock = { t: 1_000_000 }
    const A = node('A', 0, clock)
    const raw = delivered('same')
    const own1 = A.append(raw)
    const own2 = A.append(raw)
    const alice = A.append(raw, { delivery: deliveryKey(raw, 'alice@example.org')! })
    const alias = A.append(raw, { delivery: deliveryKey(raw, 'alice.alias@example.org')! })
    const later = delivered('late')
    const lk = deliveryKey(later, 'alice@example.org')!
    const l1 = A.append(later, { delivery: lk })
    clock.t += DELIVERY_WINDOW_MS + 1
    const l2 = A.append(later, { delivery: lk })
    expect(new Set(guids(A))).toEqual(new Set([own1, own2, alice, alias, l1, l2]))
  })

  it('copies chained within the window are one message, whatever order their facts arrive in', () => {
    const clock = { t: 1_000_000 }
    const A = node('A', 0, clock, 3)
    const B = node('B', 1, clock, 3)
    const C = node('C', 2, clock, 3)
    const raw = delivered('chain')
    const key = deliveryKey(raw, 'alice@example.org')!
    const x = A.append(raw, { delivery: key })
    clock.t += DELIVERY_WINDOW_MS * 0.8
    const y = B.append(raw, { delivery: key })
    clock.t += DELIVERY_WINDOW_MS * 0.8
    const z = C.append(raw, { delivery: key })
    // x and z alone are further apart than the window: both stay
    sync(A.doc, C.doc)
    expect(new Set(guids(A))).toEqual(new Set([x, z]))
    // y links them: one message. z never comes back once superseded.
    sync(A.doc, B.doc, C.doc)
    for (const m of [A, B, C]) expect(guids(m)).toEqual([x])
    // every permutation of the facts gives the same state
    const facts = A.doc.getArray('mailweave.log').toArray()
    const reference = JSON.stringify(A.view().messages)
    let seed = 7
    for (let round = 0; round < 30; round++) {
      const shuffled = [...facts]
      for (let i = shuffled.length - 1; i > 0; i--) {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff
        const j = seed % (i + 1)
        ;[shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]]
      }
      const st = new MailboxState()
      // one fact per ingest (the incremental path) or all at once, then repeated
      if (round % 2 === 0) for (const f of shuffled) st.ingest([f])
      else st.ingest(shuffled)
      st.ingest(facts)
      expect(JSON.stringify(st.view.snapshot().toArray())).toBe(reference)
      expect([...st.superseded].map((r) => r.guid).sort()).toEqual([y, z].sort())
    }
  })

  it('flags set on a superseded copy carry over to the copy that stays; the latest change still wins', () => {
    const clock = { t: 1_000_000 }
    const A = node('A', 0, clock)
    const B = node('B', 1, clock)
    sync(A.doc, B.doc)
    const raw = delivered('flags')
    const key = deliveryKey(raw, 'alice@example.org')!
    const a = A.append(raw, { delivery: key })
    clock.t += 10
    const b = B.append(raw, { delivery: key, flags: ['$Important'] })
    clock.t += 10
    A.setFlags(a, { add: ['\\Flagged'] })
    clock.t += 10
    B.setFlags(b, { add: ['\\Seen'] }) // B's user read its copy during the partition
    sync(A.doc, B.doc)
    expect(A.view().messages).toEqual([{ uid: A.message(a)!.uid, guid: a, flags: ['$Important', '\\Flagged', '\\Seen'] }])
    clock.t += 10
    A.setFlags(a, { remove: ['\\Seen'] }) // the merged register is on: the removal is written and wins
    B.setFlags(b, { add: ['\\Answered'] }) // moot: b is superseded at B too
    sync(A.doc, B.doc)
    for (const m of [A, B]) expect(m.view().messages[0]!.flags).toEqual(['$Important', '\\Flagged'])
  })

  it('expunging the copy that stays does not bring a superseded one back', () => {
    const clock = { t: 1_000_000 }
    const A = node('A', 0, clock)
    const B = node('B', 1, clock)
    const raw = delivered('gone')
    const key = deliveryKey(raw, 'alice@example.org')!
    const a = A.append(raw, { delivery: key })
    clock.t += 5
    B.append(raw, { delivery: key })
    const cb = new ModelClient('cb')
    cb.sync(B.expose())
    A.expunge([a])
    sync(A.doc, B.doc)
    cb.sync(B.expose())
    expect(A.view().messages).toEqual([])
    expect(B.view().messages).toEqual([])
    expect(cb.cache.size).toBe(0)
  })

  it('refuses a malformed key, and keys from edge replicas, writing nothing', () => {
    const A = node('A', 0, { t: 1 })
    const before = Y.encodeStateAsUpdate(A.doc)
    for (const delivery of ['AB'.repeat(32), 'ab', 42 as unknown as string]) {
      expect(() => A.append(delivered('x'), { delivery })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
    }
    expect(Y.encodeStateAsUpdate(A.doc)).toEqual(before)
    const eDoc = new Y.Doc()
    sync(A.doc, eDoc)
    const E = openMailbox(eDoc, { replica: 'browser', stride: 2 })
    const k = deliveryKey(delivered('x'), 'alice@example.org')!
    expect(() => E.append(delivered('x'), { delivery: k })).toThrow(/only nodes receive deliveries/)
    // a hand-written keyed message fact from an edge is refused by the node
    const evil = new Y.Doc()
    evil.clientID = edgeClientId()
    Y.applyUpdate(evil, Y.encodeStateAsUpdate(eDoc))
    evil.getArray('mailweave.log').push([['m', 'f'.repeat(32), 'browser', 'a'.repeat(64), 5, 0, 0, 0, [], {}, k]])
    expect(checkEdgeUpdate(Y.encodeStateAsUpdate(evil), { doc: A.doc, kind: 'mailbox' })).toMatch(/delivery keys/)
    // a keyed fact with a key of the wrong form is malformed, ignored and counted
    const peer = new Y.Doc()
    peer.getArray('mailweave.log').push([['m', 'e'.repeat(32), 'P', 'a'.repeat(64), 5, 0, 0, 0, [], {}, 'not-a-key']])
    sync(A.doc, peer)
    expect(A.inspect().malformedFacts).toBe(1)
  })

  it("messages without a key take none of the delivery rule's paths", () => {
    const A = node('A', 0, { t: 1 })
    for (let i = 0; i < 10; i++) A.append(rawMessage(i))
    const st = (A as unknown as { state: MailboxState }).state
    expect(st.superseded.size).toBe(0)
    expect((st as unknown as { deliveries: Map<string, unknown> }).deliveries.size).toBe(0)
  })
})
