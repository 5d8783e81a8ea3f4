import * as Y from 'yjs'
import { describe, expect, it } from 'vitest'
import { sha256 } from '@noble/hashes/sha2.js'
import { MemoryBlobStore, openMailbox, type Mailbox } from '../src/index.ts'
import { toHex } from '../src/hex.ts'
import { InvariantViolation, ModelClient } from '../../testkit/src/ModelClient.ts'
import { SimCluster, rawMessage } from './helpers/SimCluster.ts'

/** Two-way full sync between docs (what a healed link does). */
function sync(...docs: Y.Doc[]): void {
  for (const a of docs) for (const b of docs) if (a !== b) Y.applyUpdate(b, Y.encodeStateAsUpdate(a, Y.encodeStateVector(b)))
}

const uids = (mb: Mailbox) => mb.view().messages.map((m) => m.uid)

function node(id: string, slot: number, stride = 2, doc = new Y.Doc()): Mailbox {
  return openMailbox(doc, { replica: id, slot, stride, uidValidity: 99 })
}

describe('the two-node even/odd example of the original design', () => {
  it('renumbers exactly what landed below a watermark, duplicating what a client had seen', () => {
    const A = node('A', 0)
    const B = node('B', 1)
    sync(A.doc, B.doc)
    const a1 = A.append(rawMessage('a1'))
    const b1 = B.append(rawMessage('b1'))
    sync(A.doc, B.doc)
    // connected: both nodes agree; B (odd slot) gave b1 uid 1, A (even slot) gave a1 uid 2
    expect(uids(A)).toEqual([1, 2])
    expect(uids(B)).toEqual([1, 2])
    const ca = new ModelClient('ca')
    const cb = new ModelClient('cb')
    ca.sync(A.expose())
    cb.sync(B.expose())
    sync(A.doc, B.doc)
    // partition: each side appends two, each client is shown its side
    const a2 = A.append(rawMessage('a2'))
    const a3 = A.append(rawMessage('a3'))
    const b2 = B.append(rawMessage('b2'))
    const b3 = B.append(rawMessage('b3'))
    ca.sync(A.expose())
    cb.sync(B.expose())
    expect([...ca.cache.keys()]).toEqual([1, 2, 4, 6])
    expect(ca.uidNext).toBe(7)
    expect([...cb.cache.keys()]).toEqual([1, 2, 3, 5])
    expect(cb.uidNext).toBe(6)
    // heal: 3 and 5 are below W[A] = 7 and A never showed them; 4 is below W[B] = 6; 6 is fine
    sync(A.doc, B.doc)
    expect(A.strandedCount).toBe(3)
    expect(uids(A)).toEqual([1, 2, 6])
    expect(A.fixup()).toBe(3)
    expect(A.stats.fixupsDuplicate).toBe(3)
    expect(A.stats.fixupsSilent).toBe(0)
    sync(A.doc, B.doc)
    // deterministic order: lowest earlier uid first (3 -> 8, 4 -> 10, 5 -> 12), all above every watermark
    const byGuid = new Map(A.view().messages.map((m) => [m.guid, m.uid]))
    expect([b2, a2, b3].map((g) => byGuid.get(g))).toEqual([8, 10, 12])
    expect([b1, a1, a3].map((g) => byGuid.get(g))).toEqual([1, 2, 6])
    ca.sync(A.expose())
    cb.sync(B.expose())
    // each client re-downloads exactly the messages it had seen at a renumbered uid
    expect(ca.duplicates).toEqual([[a2, 4, 10]])
    expect(cb.duplicates).toEqual([
      [b2, 3, 8],
      [b3, 5, 12],
    ])
    expect(JSON.stringify(A.view().messages)).toBe(JSON.stringify(B.view().messages))
  })

  it('renumbers silently when no client saw the old uid', () => {
    const A = node('A', 0)
    const B = node('B', 1)
    sync(A.doc, B.doc)
    const ca = new ModelClient('ca')
    ca.sync(A.expose())
    const b1 = B.append(rawMessage('b1')) // uid 1, never shown
    A.append(rawMessage('a1')) // uid 2
    A.append(rawMessage('a2')) // uid 4
    ca.sync(A.expose()) // W[A] = 5
    sync(A.doc, B.doc)
    expect(A.fixup()).toBe(1)
    expect(A.stats).toMatchObject({ fixupsSilent: 1, fixupsDuplicate: 0 })
    ca.sync(A.expose())
    expect(A.message(b1)?.uid).toBe(6)
    expect(ca.duplicates).toEqual([])
  })
})

describe('edge replicas', () => {
  it('edge appends are bound by a node later, in append order, without fixups', () => {
    const A = node('A', 0, 3)
    const eDoc = new Y.Doc()
    sync(A.doc, eDoc)
    const E = openMailbox(eDoc, { replica: 'browser-1', stride: 3 })
    const g1 = E.append(rawMessage('draft 1'), { flags: ['\\Draft'] })
    const g2 = E.append(rawMessage('draft 2'))
    expect(E.view().messages).toEqual([])
    expect(E.strandedCount).toBe(2)
    expect(() => E.expose()).toThrow(expect.objectContaining({ code: 'EDGE_CANNOT_EXPOSE' }))
    sync(A.doc, eDoc)
    const v = A.expose()
    expect(v.messages.map((m) => m.guid)).toEqual([g1, g2])
    expect(v.messages[0]!.flags).toEqual(['\\Draft'])
    expect(A.stats).toMatchObject({ edgeBinds: 2, fixupsSilent: 0, fixupsDuplicate: 0 })
    sync(A.doc, eDoc)
    expect(E.view().messages.map((m) => m.uid)).toEqual(v.messages.map((m) => m.uid))
  })
})

describe('expunge', () => {
  it('an expunge during a partition wins over concurrent flag changes and never comes back', () => {
    const A = node('A', 0)
    const B = node('B', 1)
    sync(A.doc, B.doc)
    const g = A.append(rawMessage('x'))
    sync(A.doc, B.doc)
    const cb = new ModelClient('cb')
    cb.sync(B.expose())
    A.expunge([g])
    B.setFlags(g, { add: ['\\Flagged'] })
    sync(A.doc, B.doc)
    expect(A.view().messages).toEqual([])
    expect(B.view().messages).toEqual([])
    cb.sync(B.expose())
    expect(cb.gone.has(1 + 1)).toBe(true)
    B.setFlags(g, { remove: ['\\Flagged'] }) // moot, no error
    expect(A.message(g)?.expunged).toBe(true)
  })
})

describe('flags', () => {
  it('the latest change wins by hybrid logical clock, not by clientID', () => {
    let t = 1000
    const now = () => t
    const d1 = new Y.Doc()
    const d2 = new Y.Doc()
    d1.clientID = 2 // the higher clientID would win a plain Y.Map conflict
    d2.clientID = 1
    const A = openMailbox(d1, { replica: 'A', slot: 0, stride: 2, now })
    const g = A.append(rawMessage('f'))
    sync(d1, d2)
    const B = openMailbox(d2, { replica: 'B', slot: 1, stride: 2, now })
    A.setFlags(g, { add: ['\\Seen'] })
    t = 2000
    B.setFlags(g, { add: ['\\Flagged'], remove: ['\\Seen'] })
    sync(d1, d2)
    expect(A.view().messages[0]!.flags).toEqual(['\\Flagged'])
    expect(B.view().messages[0]!.flags).toEqual(['\\Flagged'])
  })
})

describe('restart', () => {
  it('a node restarted into a new Y.Doc (new clientID) never reuses a uid', () => {
    const d = new Y.Doc()
    const A = openMailbox(d, { replica: 'A', slot: 0, stride: 2 })
    A.append(rawMessage(1))
    A.append(rawMessage(2))
    const v = A.expose()
    const saved = Y.encodeStateAsUpdate(d)
    const d2 = new Y.Doc()
    expect(d2.clientID).not.toBe(d.clientID)
    Y.applyUpdate(d2, saved)
    const A2 = openMailbox(d2, { replica: 'A', slot: 0, stride: 2 })
    A2.append(rawMessage(3))
    const v2 = A2.expose()
    expect(v2.messages.map((m) => m.uid)).toEqual([...v.messages.map((m) => m.uid), 6])
    expect(v2.uidNext).toBeGreaterThan(v.uidNext)
  })
})

describe('the connected fast path', () => {
  function run(fastPath: boolean, seed: number) {
    const sim = new SimCluster({ nodes: 3, edges: 0, seed })
    const clients = sim.nodeIds().map((id) => ({ client: sim.addClient(id, id), node: id }))
    for (let i = 0; i < 200; i++) {
      const id = sim.pick(sim.nodeIds())
      sim.appended.add(sim.replicas.get(id)!.mailbox.append(rawMessage(i)))
      for (let k = 0; k < 3; k++) sim.deliverOne(false)
      sim.syncClient(sim.pick(clients), fastPath)
    }
    sim.healAll()
    sim.checkConvergence()
    const fixups = sim
      .nodeIds()
      .reduce((n, id) => n + sim.replicas.get(id)!.mailbox.stats.fixupsSilent + sim.replicas.get(id)!.mailbox.stats.fixupsDuplicate, 0)
    const dups = clients.reduce((n, c) => n + c.client.duplicates.length, 0)
    sim.destroy()
    return { fixups, dups }
  }

  it('with every link up, reserve-then-expose causes zero fixups and zero duplicates', () => {
    for (const seed of [1, 2, 3]) expect(run(true, seed)).toEqual({ fixups: 0, dups: 0 })
  })

  it('without the reservation the same schedule needs fixups (the fast path is what prevents them)', () => {
    const total = [1, 2, 3].reduce((n, seed) => n + run(false, seed).fixups, 0)
    expect(total).toBeGreaterThan(0)
  })
})

describe('roaming clients', () => {
  it('a client switching between partitioned nodes may miss messages until the heal, then gets them (measured)', () => {
    const A = node('A', 0)
    const B = node('B', 1)
    sync(A.doc, B.doc)
    const roamer = new ModelClient('roamer')
    const live: string[] = []
    let missedBelowUidNext = 0
    for (let i = 0; i < 10; i++) {
      live.push(A.append(rawMessage(`a${i}`)))
      live.push(B.append(rawMessage(`b${i}`)))
      const v = (i % 2 === 0 ? A : B).expose()
      try {
        roamer.sync(v)
      } catch (e) {
        // S3 and S4 are per-node promises: a roaming client across a partition is told uids below
        // its UIDNEXT, and sees uids vanish (as if expunged) and come back. Anything else fails.
        if (!(e instanceof InvariantViolation) || (e.invariant !== 'S3' && e.invariant !== 'S4')) throw e
        missedBelowUidNext++
        roamer.cache = new Map(v.messages.map((m) => [m.uid, m.guid]))
        roamer.uidNext = Math.max(roamer.uidNext, v.uidNext)
      }
    }
    sync(A.doc, B.doc)
    A.fixup()
    sync(A.doc, B.doc)
    const final = A.expose()
    const held = new Set(final.messages.map((m) => m.guid))
    for (const g of live) expect(held.has(g)).toBe(true)
    console.log(
      `roaming client: ${missedBelowUidNext} of 10 syncs across the partition broke S3/S4 for it; after the heal it holds all ${live.length} messages`,
    )
    expect(missedBelowUidNext).toBeGreaterThan(0)
  })
})

describe('bad input', () => {
  it('rejects bad options with typed errors and writes nothing', () => {
    const d = new Y.Doc()
    for (const opts of [
      { replica: 'A', slot: 2, stride: 2 },
      { replica: 'A', slot: -1, stride: 2 },
      { replica: 'A', slot: 0, stride: 0 },
      { replica: 'A', slot: 0.5, stride: 2 },
      { replica: '', slot: 0, stride: 2 },
    ]) {
      expect(() => openMailbox(d, opts)).toThrow(expect.objectContaining({ code: 'INVALID_OPTIONS' }))
    }
    expect(Y.encodeStateVector(d)).toEqual(Y.encodeStateVector(new Y.Doc()))
  })

  it('refuses a second node id on a taken slot, at open and when discovered after a sync', () => {
    const A = node('A', 0)
    const before = Y.encodeStateAsUpdate(A.doc)
    expect(() => openMailbox(A.doc, { replica: 'A2', slot: 0, stride: 2 })).toThrow(expect.objectContaining({ code: 'SLOT_CONFLICT' }))
    expect(Y.encodeStateAsUpdate(A.doc)).toEqual(before)
    // two node ids configured with one slot while partitioned
    const X = node('X', 1)
    const Z = node('Z', 1)
    sync(X.doc, Z.doc)
    expect(() => X.expose()).toThrow(/slot 1 is claimed by several node ids \(X, Z\)/)
    expect(() => Z.reserve()).toThrow(expect.objectContaining({ code: 'SLOT_CONFLICT' }))
    const g = X.append(rawMessage('kept')) // nothing is lost: stored unbound
    expect(X.message(g)?.bindings).toEqual([])
  })

  it('rejects a stride that differs from the mailbox', () => {
    const A = node('A', 0, 3)
    expect(() => openMailbox(A.doc, { replica: 'B', slot: 1, stride: 4 })).toThrow(expect.objectContaining({ code: 'STRIDE_MISMATCH' }))
  })

  it("an edge replica needs no stride: it learns the mailbox's; a node and a creation do need one", () => {
    const A = node('A', 0, 3)
    A.append(rawMessage(1))
    const eDoc = new Y.Doc()
    const E = openMailbox(eDoc, { replica: 'tab' })
    expect(E.stride).toBe(0) // not known before the first sync
    Y.applyUpdate(eDoc, Y.encodeStateAsUpdate(A.doc))
    expect(E.stride).toBe(3)
    const g = E.append(rawMessage(2))
    Y.applyUpdate(A.doc, Y.encodeStateAsUpdate(eDoc))
    expect(A.expose().messages.map((m) => m.guid)).toContain(g)
    // an edge that still passes a stride is not refused over it (it never allocates)
    expect(() => openMailbox(A.doc, { replica: 'tab2', stride: 4 }).destroy()).not.toThrow()
    expect(() => openMailbox(new Y.Doc(), { replica: 'B', slot: 1 })).toThrow(expect.objectContaining({ code: 'INVALID_OPTIONS' }))
    expect(() => openMailbox(new Y.Doc(), { replica: 'tab', create: true })).toThrow(expect.objectContaining({ code: 'INVALID_OPTIONS' }))
  })

  it('unknown guids and bad flags leave the state unchanged', () => {
    const A = node('A', 0)
    const g = A.append(rawMessage(1))
    const before = Y.encodeStateAsUpdate(A.doc)
    expect(() => A.setFlags('nope', { add: ['\\Seen'] })).toThrow(expect.objectContaining({ code: 'UNKNOWN_GUID' }))
    expect(() => A.expunge([g, 'nope'])).toThrow(expect.objectContaining({ code: 'UNKNOWN_GUID' }))
    expect(() => A.setFlags(g, { add: ['bad flag'] })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
    expect(() => A.setFlags(g, { add: ['\\Recent'] })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
    expect(Y.encodeStateAsUpdate(A.doc)).toEqual(before)
    expect(A.view().messages).toHaveLength(1)
  })

  it('corrupt and truncated update bytes are refused whole', async () => {
    const { applyUpdateChecked } = await import('../src/index.ts')
    const A = node('A', 0)
    A.append(rawMessage(1))
    const B = node('B', 1)
    const update = Y.encodeStateAsUpdate(A.doc)
    const before = Y.encodeStateAsUpdate(B.doc)
    for (const bad of [update.slice(0, update.length - 7), update.slice(0, 3), new Uint8Array([255, 255, 255, 255, 255, 1, 2])]) {
      expect(() => applyUpdateChecked(B.doc, bad)).toThrow(expect.objectContaining({ code: 'CORRUPT_UPDATE' }))
    }
    expect(Y.encodeStateAsUpdate(B.doc)).toEqual(before)
    applyUpdateChecked(B.doc, update)
    expect(uids(B)).toEqual([2])
  })

  it('malformed facts from a peer are ignored and counted, never half-applied', () => {
    const A = node('A', 0)
    const peer = new Y.Doc()
    peer.getArray('mailweave.log').push([['b', -1, 'g', 'P'], ['e', 'P'], 'junk', 42, ['m', 'g']])
    sync(A.doc, peer)
    expect(A.inspect().malformedFacts).toBe(5)
    expect(A.view().messages).toEqual([])
  })
})

describe('append', () => {
  it('stores the SHA-256 of the bytes, or the precomputed hash it is given, and refuses a malformed one before drawing a guid', async () => {
    const blobs = new MemoryBlobStore()
    let drawn = 0
    const randomBytes = (n: number) => {
      drawn += n
      return new Uint8Array(n).fill(drawn & 255)
    }
    const A = openMailbox(new Y.Doc(), { replica: 'A', slot: 0, stride: 2, uidValidity: 99, blobs, randomBytes })
    const raw = rawMessage('h')
    const digest = toHex(sha256(raw))
    const g1 = A.append(raw)
    expect(A.message(g1)?.hash).toBe(digest)
    const given = 'ab'.repeat(32)
    const g2 = A.append(raw, { hash: given })
    expect(A.message(g2)?.hash).toBe(given)
    await A.whenBlobsStored()
    expect(await blobs.has(digest)).toBe(true)
    expect(await blobs.has(given)).toBe(true)
    const before = Y.encodeStateAsUpdate(A.doc)
    const drawnBefore = drawn
    for (const hash of ['AB'.repeat(32), 'ab'.repeat(31), 'xy'.repeat(32)]) {
      expect(() => A.append(raw, { hash })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
    }
    expect(drawn).toBe(drawnBefore)
    expect(Y.encodeStateAsUpdate(A.doc)).toEqual(before)
    expect(A.stats.appends).toBe(2)
  })
})

describe('UIDVALIDITY', () => {
  it('is chosen once, non-zero, and replicated', () => {
    const A = openMailbox(new Y.Doc(), { replica: 'A', slot: 0, stride: 2 })
    const v = A.view().uidValidity
    expect(v).toBeGreaterThan(0)
    expect(v).toBeLessThanOrEqual(0xffffffff)
    const eDoc = new Y.Doc()
    const E = openMailbox(eDoc, { replica: 'e', stride: 2 })
    expect(E.view().uidValidity).toBe(0) // an edge replica never invents one
    sync(A.doc, eDoc)
    expect(E.view().uidValidity).toBe(v)
  })
})

describe('exposure chains', () => {
  it("a node's later exposure arriving before its earlier one (a restart's new clientID) never flips a binding's validity back", async () => {
    const { MailboxState } = await import('../src/MailboxState.ts')
    const st = new MailboxState()
    const m = (g: string) => ['m', g, 'B', 'h', 1, 0, 1, 0, [], {}]
    // B bound g5 at 5 and g3 at 3; A showed 5 (not 3), then raised its watermark again
    st.ingest([m('g5'), m('g3'), ['b', 5, 'g5', 'B'], ['b', 3, 'g3', 'B']])
    const e1 = ['e', 'A', 0, 6, [5, 5]]
    const e2 = ['e', 'A', 6, 10, []]
    st.ingest([e2]) // out of order: waits for its predecessor
    expect(st.W.get('A') ?? 0).toBe(0)
    expect(st.bindings.get(5)!.valid).toBe(true)
    expect(st.bindings.get(3)!.valid).toBe(true)
    expect(st.ceiling).toBeGreaterThanOrEqual(10) // allocation still respects every known watermark
    st.ingest([e1])
    expect(st.W.get('A')).toBe(10)
    expect(st.bindings.get(5)!.valid).toBe(true) // seen by A: stays valid, never flipped
    expect(st.bindings.get(3)!.valid).toBe(false) // below W[A], never shown by A: stranded
    st.ingest([e1, e2]) // repeats change nothing
    expect(st.bindings.get(3)!.valid).toBe(false)
    expect(st.forkedExposures).toBe(0)
  })
})
