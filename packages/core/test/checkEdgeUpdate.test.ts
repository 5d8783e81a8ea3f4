import * as Y from 'yjs'
import { describe, expect, it } from 'vitest'
import {
  ACCOUNT_LOG,
  checkEdgeUpdate,
  edgeClientId,
  MAILBOX_LOG,
  nodeClientId,
  openMailbox,
  type EdgeUpdateContext,
  type Mailbox,
} from '../src/index.ts'
import { diff, foreignContents, writeRawItem } from './helpers/rawItems.ts'
import { rawMessage } from './helpers/SimCluster.ts'

function sync(...docs: Y.Doc[]): void {
  for (const a of docs) for (const b of docs) if (a !== b) Y.applyUpdate(b, diff(a, b))
}
function nodeDoc(): Y.Doc {
  const d = new Y.Doc()
  d.clientID = nodeClientId()
  return d
}
function edgeDoc(): Y.Doc {
  const d = new Y.Doc()
  d.clientID = edgeClientId()
  return d
}
/** A node A with one exposed message, and an edge replica synced with it. */
function setup(): { A: Mailbox; E: Mailbox; ctx: EdgeUpdateContext; guids: Set<string> } {
  const A = openMailbox(nodeDoc(), { replica: 'A', slot: 0, stride: 2, uidValidity: 9 })
  A.append(rawMessage(1))
  A.expose()
  const E = openMailbox(edgeDoc(), { replica: 'e', stride: 2 })
  sync(A.doc, E.doc)
  const guids = new Set(A.view().messages.map((m) => m.guid))
  return { A, E, ctx: { doc: A.doc, kind: 'mailbox', knowsGuid: (g) => guids.has(g) }, guids }
}

describe('checkEdgeUpdate', () => {
  it('accepts edge facts and node facts the receiver holds, refuses new node facts and deletions', () => {
    const { A, E, ctx } = setup()
    const guid = E.append(rawMessage('edge'))
    E.setFlags(guid, { add: ['\\Seen'] })
    E.expunge([guid])
    // the edge re-sends everything (node facts included) plus its own facts
    expect(checkEdgeUpdate(Y.encodeStateAsUpdate(E.doc), ctx)).toBeUndefined()
    // the same bytes to a receiver that lacks the node facts: refused
    expect(checkEdgeUpdate(Y.encodeStateAsUpdate(E.doc), { doc: new Y.Doc(), kind: 'mailbox' })).toMatch(/not an edge client id/)
    const evil = edgeDoc()
    evil.getArray('mailweave.log').push([['e', 'A', 0, 1000, []]])
    expect(checkEdgeUpdate(Y.encodeStateAsUpdate(evil), ctx)).toMatch(/'e' facts/)
    evil.getArray('mailweave.log').delete(0, 1)
    expect(checkEdgeUpdate(Y.encodeStateAsUpdate(evil), ctx)).toMatch(/delete/)
    expect(checkEdgeUpdate(new Uint8Array([1, 2, 3]), ctx)).toMatch(/does not decode/)
    void A
  })

  it('other Yjs content types bypass the edge check: node-only facts as ContentJSON, ContentEmbed, ... are refused', () => {
    const { A, E, ctx } = setup()
    for (const fact of [
      ['r', 'X', 4294967295],
      ['e', 'X', 0, 1000, []],
      ['b', 12, 'g', 'A'],
      ['c', 0, 'X'],
    ]) {
      for (const [name, make] of foreignContents(fact)) {
        const before = edgeDoc()
        Y.applyUpdate(before, Y.encodeStateAsUpdate(E.doc))
        writeRawItem(before, MAILBOX_LOG, make())
        const why = checkEdgeUpdate(diff(before, A.doc), ctx)
        expect(why, `${name} ${JSON.stringify(fact)}`).toMatch(name === 'ContentDeleted' ? /may not delete/ : new RegExp(name))
      }
    }
  })

  it('a node ignores facts carried in content kinds the protocol never writes (a ContentJSON reservation of 4294967295)', () => {
    const { A } = setup()
    const evil = edgeDoc()
    Y.applyUpdate(evil, Y.encodeStateAsUpdate(A.doc))
    writeRawItem(evil, MAILBOX_LOG, new Y.ContentJSON([['r', 'X', 4294967295]]))
    writeRawItem(evil, MAILBOX_LOG, new Y.ContentEmbed(['e', 'X', 0, 4000, []]))
    Y.applyUpdate(A.doc, diff(evil, A.doc))
    const before = A.view().uidNext
    A.append(rawMessage(2))
    const v = A.expose()
    expect(v.messages.map((m) => m.uid)).toEqual([2, 4])
    expect(v.uidNext).toBeLessThan(before + 10)
    expect(A.inspect().reservations).not.toHaveProperty('X')
    // a fresh load ignores them too
    const reloaded = openMailbox(cloneDoc(A.doc), { replica: 'A', slot: 0, stride: 2 })
    expect(reloaded.view().messages.map((m) => m.uid)).toEqual([2, 4])
  })

  it('refuses writes outside the edge root arrays, map entries and items placed next to unknown structs', () => {
    const { A, E, ctx } = setup()
    const other = edgeDoc()
    Y.applyUpdate(other, Y.encodeStateAsUpdate(E.doc))
    other.getArray('elsewhere').push([['m']])
    expect(checkEdgeUpdate(diff(other, A.doc), ctx)).toMatch(/may not write to 'elsewhere'/)
    const map = edgeDoc()
    Y.applyUpdate(map, Y.encodeStateAsUpdate(E.doc))
    writeRawItem(map, MAILBOX_LOG, new Y.ContentAny([['x', 'g', 'e']]), { parentSub: 'k' })
    expect(checkEdgeUpdate(diff(map, A.doc), ctx)).toMatch(/map entries/)
    // an item after a struct the node does not hold: its parent cannot be known
    const gap = edgeDoc()
    Y.applyUpdate(gap, Y.encodeStateAsUpdate(E.doc))
    gap.getArray(MAILBOX_LOG).push([['x', 'g', 'e']])
    const gapClient = gap.clientID
    gap.clientID = edgeClientId()
    gap.getArray(MAILBOX_LOG).push([['x', 'h', 'e']])
    // leave the first client's struct out of the update: the second now hangs off nothing known
    const sv = new Map(Y.decodeStateVector(Y.encodeStateVector(A.doc)))
    sv.set(gapClient, Y.getState(gap.store, gapClient))
    const secondOnly = Y.diffUpdate(Y.encodeStateAsUpdate(gap), encodeSv(sv))
    expect(checkEdgeUpdate(secondOnly, ctx)).toMatch(/parent is not a root array/)
  })

  it('client-id squatting: an edge may not add structs under a node client id', () => {
    const { A, E, ctx } = setup()
    const squat = edgeDoc()
    Y.applyUpdate(squat, Y.encodeStateAsUpdate(E.doc))
    // 50 allowed facts written under the node's own client id
    for (let i = 0; i < 50; i++) writeRawItem(squat, MAILBOX_LOG, new Y.ContentAny([['x', 'g' + i, 'e']]), { client: A.doc.clientID })
    expect(checkEdgeUpdate(diff(squat, A.doc), ctx)).toMatch(/not an edge client id/)
    // and under a node client id the receiver never heard of (a peer restarted during a partition)
    const unknown = edgeDoc()
    Y.applyUpdate(unknown, Y.encodeStateAsUpdate(E.doc))
    writeRawItem(unknown, MAILBOX_LOG, new Y.ContentAny([['x', 'g', 'e']]), { client: nodeClientId() })
    expect(checkEdgeUpdate(diff(unknown, A.doc), ctx)).toMatch(/not an edge client id/)
  })

  it('a second message fact for an existing guid: an edge may not re-use a guid', () => {
    const { A, E, ctx, guids } = setup()
    const [known] = [...guids]
    const fact = ['m', known!, 'e', 'a'.repeat(64), 5, 0, 1, 0, [], {}]
    E.doc.getArray(MAILBOX_LOG).insert(0, [fact])
    expect(checkEdgeUpdate(diff(E.doc, A.doc), ctx)).toMatch(/already names a message/)
    const twice = edgeDoc()
    const g = 'b'.repeat(32)
    twice.getArray(MAILBOX_LOG).push([
      ['m', g, 'e', 'a'.repeat(64), 5, 0, 1, 0, [], {}],
      ['m', g, 'e', 'c'.repeat(64), 5, 0, 1, 0, [], {}],
    ])
    expect(checkEdgeUpdate(Y.encodeStateAsUpdate(twice), ctx)).toMatch(/already names a message/)
  })

  it('account documents are validated: numeric names, ids like ../../x and unknown facts are refused', () => {
    const acct = nodeDoc()
    const ctx: EdgeUpdateContext = { doc: acct, kind: 'account' }
    const write = (fact: unknown[]) => {
      const e = edgeDoc()
      e.getArray(ACCOUNT_LOG).push([fact])
      return checkEdgeUpdate(Y.encodeStateAsUpdate(e), ctx)
    }
    expect(write(['mb', 'a'.repeat(24), 'Work', 7, 1, 'e'])).toBeUndefined()
    expect(write(['sub', 'Work', 1, 1, 'e'])).toBeUndefined()
    expect(write(['mb', 'a'.repeat(24), 42, 7, 1, 'e'])).toMatch(/malformed account fact/)
    expect(write(['mb', '../../x', 'Work', 7, 1, 'e'])).toMatch(/malformed account fact/)
    expect(write(['mb', 'a'.repeat(24), 'INBOX', 7, 1, 'e'])).toMatch(/malformed account fact/)
    expect(write(['del', 'INBOX', 1, 'e'])).toMatch(/malformed account fact/)
    expect(write(['m', 'a'.repeat(32), 'e', 'a'.repeat(64), 5, 0, 1, 0, [], {}])).toMatch(/malformed account fact/)
    // and a mailbox fact is not an account's, nor the other way round
    const e = edgeDoc()
    e.getArray(MAILBOX_LOG).push([['x', 'g', 'e']])
    expect(checkEdgeUpdate(Y.encodeStateAsUpdate(e), ctx)).toMatch(/may not write to 'mailweave.log'/)
  })
})

function cloneDoc(doc: Y.Doc): Y.Doc {
  const d = nodeDoc()
  Y.applyUpdate(d, Y.encodeStateAsUpdate(doc))
  return d
}

function encodeSv(sv: Map<number, number>): Uint8Array {
  // a state vector is varuint count, then (client, clock) pairs
  const out: number[] = []
  const varuint = (n: number) => {
    while (n > 0x7f) {
      out.push((n & 0x7f) | 0x80)
      n = Math.floor(n / 128)
    }
    out.push(n)
  }
  varuint(sv.size)
  for (const [c, k] of sv) {
    varuint(c)
    varuint(k)
  }
  return new Uint8Array(out)
}
