import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import * as prng from 'lib0/prng'
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import type { ChangeCursor, DocSyncFrame, Frame } from '../src/index.ts'
import {
  CloseCode,
  ProtocolError,
  answerDocStateVectors,
  answerSyncRequest,
  applyDocSync,
  applyPeerUpdate,
  decodeFrame,
  docSyncStep1,
  docSyncUpdate,
  encodeFrame,
  readDocSyncMessage,
  readFrame,
  writeDocSyncHeader,
  writeDocSyncStep1,
} from '../src/index.ts'

const snapshot = (doc: Y.Doc): { state: Uint8Array; json: unknown } => ({ state: Y.encodeStateAsUpdate(doc), json: doc.toJSON() })

/**
 * One node of an in-memory mesh of two: documents by name, a change counter
 * (the catch-up design of DOC_STATE_VECTORS), and an ordered outbox of encoded frames.
 */
class Node {
  readonly docs = new Map<string, Y.Doc>()
  readonly outbox: Uint8Array[] = []
  readonly replies = new Map<number, Frame>()
  readonly epoch: string
  seq = 0
  readonly changedAt = new Map<string, number>()
  /** The peer's cursor up to which this node holds all of the peer's changes. */
  peerCursor: ChangeCursor | undefined
  connected = true
  private nextRequestId = 1
  private pendingCursor = new Map<number, ChangeCursor>()

  constructor(
    readonly name: string,
    docNames: string[],
  ) {
    this.epoch = `epoch-${name}`
    for (const docName of docNames) {
      const doc = new Y.Doc()
      this.docs.set(docName, doc)
      doc.on('update', (update: Uint8Array, origin: unknown) => {
        this.changedAt.set(docName, ++this.seq)
        // Do not echo a peer's update back to it.
        if (origin !== 'peer' && this.connected) this.send(docSyncUpdate(docName, update))
      })
    }
  }

  doc(name: string): Y.Doc {
    const doc = this.docs.get(name)
    if (doc === undefined) throw new Error(`no doc ${name}`)
    return doc
  }

  send(frame: Frame): void {
    this.outbox.push(encodeFrame(frame))
  }

  syncRequest(docName: string, stateVector: Uint8Array | undefined): number {
    const requestId = this.nextRequestId++
    this.send({ type: 'syncRequest', requestId, docName, stateVector })
    return requestId
  }

  /** What changed here after the peer's cursor for us, as one DOC_STATE_VECTORS frame. */
  listChanges(since: ChangeCursor | undefined): Frame {
    const from = since?.epoch === this.epoch ? since.seq : 0
    const entries = [...this.changedAt]
      .filter(([, seq]) => seq > from)
      .map(([docName]) => ({ docName, stateVector: Y.encodeStateVector(this.doc(docName)) }))
    return { type: 'docStateVectors', cursor: { epoch: this.epoch, seq: this.seq }, entries }
  }

  receive(bytes: Uint8Array): void {
    const frame = decodeFrame(bytes)
    switch (frame.type) {
      case 'docSync': {
        const reply = applyDocSync(frame, this.doc(frame.docName), 'peer')
        if (reply !== undefined) this.send(reply)
        return
      }
      case 'docStateVectors': {
        for (const answer of answerDocStateVectors(frame, (name) => this.docs.get(name))) this.send(answer)
        this.pendingCursor.set(this.syncRequest('', undefined), frame.cursor)
        return
      }
      case 'syncRequest':
        this.send(answerSyncRequest(frame, this.docs.get(frame.docName)))
        return
      case 'syncReply': {
        this.replies.set(frame.requestId, frame)
        const cursor = this.pendingCursor.get(frame.requestId)
        if (cursor !== undefined) this.peerCursor = cursor
        if (frame.update !== undefined)
          applyDocSync(
            { type: 'docSync', docName: frame.docName, message: { kind: 'update', update: frame.update } },
            this.doc(frame.docName),
            'peer',
          )
        return
      }
      default:
        throw new Error(`unexpected ${frame.type}`)
    }
  }
}

/** Delivers every queued frame in order, both ways, until both outboxes are empty (bounded). */
const pump = (a: Node, b: Node): number => {
  let delivered = 0
  for (let round = 0; round < 10_000; round++) {
    const fromA = a.outbox.shift()
    if (fromA !== undefined) {
      b.receive(fromA)
      delivered++
      continue
    }
    const fromB = b.outbox.shift()
    if (fromB !== undefined) {
      a.receive(fromB)
      delivered++
      continue
    }
    return delivered
  }
  throw new Error('pump did not quiesce')
}

const handshake = (a: Node, b: Node): void => {
  for (const name of a.docs.keys()) a.send(docSyncStep1(name, a.doc(name)))
  for (const name of b.docs.keys()) b.send(docSyncStep1(name, b.doc(name)))
  pump(a, b)
}

const expectConverged = (a: Node, b: Node): void => {
  for (const name of a.docs.keys()) {
    // toJSON only shows types a replica has touched; name them on both sides first.
    const content = (doc: Y.Doc): unknown => ({ uids: doc.getMap('uids').toJSON(), log: doc.getArray('log').toJSON() })
    expect(content(a.doc(name)), name).toEqual(content(b.doc(name)))
    // Equal snapshots: same state vector and same delete set.
    expect(Y.equalSnapshots(Y.snapshot(a.doc(name)), Y.snapshot(b.doc(name))), name).toBe(true)
  }
}

describe('two Y.Docs synced purely through frames', () => {
  it('converge after step1/step2 and live updates, including concurrent edits', () => {
    const a = new Node('a', ['inbox', 'sent'])
    const b = new Node('b', ['inbox', 'sent'])
    a.connected = b.connected = false
    a.doc('inbox').getMap('uids').set('1', 'guid-a1')
    b.doc('inbox').getMap('uids').set('2', 'guid-b2')
    b.doc('sent').getArray('log').push(['b-only'])
    a.connected = b.connected = true
    handshake(a, b)
    expectConverged(a, b)
    expect(a.doc('inbox').getMap('uids').toJSON()).toEqual({ 1: 'guid-a1', 2: 'guid-b2' })

    // Concurrent edits on both sides before any delivery.
    a.doc('inbox').getMap('uids').set('3', 'guid-a3')
    b.doc('inbox').getMap('uids').set('4', 'guid-b4')
    b.doc('inbox').getMap('uids').delete('1')
    a.doc('sent').getArray('log').push(['a-too'])
    expect(pump(a, b)).toBeGreaterThan(0)
    expectConverged(a, b)
    expect(a.doc('inbox').getMap('uids').toJSON()).toEqual({ 2: 'guid-b2', 3: 'guid-a3', 4: 'guid-b4' })
  })

  it('readDocSyncMessage answers step1 and applies step2 like y-protocols', () => {
    const a = new Y.Doc()
    const b = new Y.Doc()
    a.getText('t').insert(0, 'hello')
    // b asks a: step1 from b, a answers with a step2.
    const request = encoding.createEncoder()
    writeDocSyncStep1(request, 'doc', b)
    const requestDecoder = decoding.createDecoder(encoding.toUint8Array(request))
    const header = readFrameHeader(requestDecoder)
    expect(header).toBe('doc')
    const reply = encoding.createEncoder()
    writeDocSyncHeader(reply, 'doc')
    expect(readDocSyncMessage(requestDecoder, reply, a, 'peer')).toBe('step1')
    const replyFrame = decodeFrame(encoding.toUint8Array(reply)) as DocSyncFrame
    expect(replyFrame.message.kind).toBe('step2')
    expect(applyDocSync(replyFrame, b, 'peer')).toBeUndefined()
    expect(b.getText('t').toString()).toBe('hello')
  })
})

/** Reads a DOC_SYNC frame's header, leaving `decoder` at the sync message body. */
const readFrameHeader = (decoder: decoding.Decoder): string => {
  expect(decoding.readVarUint(decoder)).toBe(1)
  expect(decoding.readVarUint(decoder)).toBe(2)
  return decoding.readVarString(decoder)
}

describe('corrupt updates', () => {
  const filled = (): Y.Doc => {
    const doc = new Y.Doc()
    doc.getMap('uids').set('1', 'guid-1')
    doc.getArray('seen').push([1, 2, 3])
    return doc
  }
  const corruptions = (): Array<[string, Uint8Array]> => {
    const other = new Y.Doc()
    other.getMap('uids').set('9', 'guid-9')
    other.getText('t').insert(0, 'a longer text so the update has some body to cut')
    const valid = Y.encodeStateAsUpdate(other)
    return [
      ['truncated', valid.subarray(0, valid.length - 3)],
      ['half', valid.subarray(0, Math.floor(valid.length / 2))],
      ['garbage', new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02])],
      ['empty', new Uint8Array(0)],
    ]
  }

  it('are rejected with UPDATE_REJECTED and leave the doc untouched', () => {
    for (const [label, bytes] of corruptions()) {
      const doc = filled()
      const before = snapshot(doc)
      let events = 0
      doc.on('update', () => events++)
      for (const kind of ['step2', 'update'] as const) {
        const frame = decodeFrame(encodeFrame({ type: 'docSync', docName: 'd', message: { kind, update: bytes } })) as DocSyncFrame
        let error: unknown
        try {
          applyDocSync(frame, doc, 'peer')
        } catch (caught) {
          error = caught
        }
        expect(error, label).toBeInstanceOf(ProtocolError)
        expect((error as ProtocolError).kind).toBe('updateRejected')
        expect((error as ProtocolError).closeCode).toBe(CloseCode.UPDATE_REJECTED)
      }
      expect(snapshot(doc), label).toEqual(before)
      expect(events, label).toBe(0)
    }
  })

  it('are rejected through readDocSyncMessage too, and a corrupt step1 state vector as well', () => {
    const doc = filled()
    const before = snapshot(doc)
    const [, bytes] = corruptions()[0]!
    const message = encoding.createEncoder()
    encoding.writeVarUint(message, 2)
    encoding.writeVarUint8Array(message, bytes)
    expect(() => readDocSyncMessage(decoding.createDecoder(encoding.toUint8Array(message)), encoding.createEncoder(), doc, 'peer')).toThrow(
      ProtocolError,
    )
    const step1: DocSyncFrame = { type: 'docSync', docName: 'd', message: { kind: 'step1', stateVector: new Uint8Array([5, 1]) } }
    expect(() => applyDocSync(step1, doc, 'peer')).toThrow(ProtocolError)
    expect(() => answerSyncRequest({ type: 'syncRequest', requestId: 1, docName: 'd', stateVector: new Uint8Array([9]) }, doc)).toThrow(
      ProtocolError,
    )
    expect(snapshot(doc)).toEqual(before)
  })

  it('mutated updates either apply or throw ProtocolError, never corrupting the doc when undecodable', () => {
    const seed = process.env.PEER_FUZZ_SEED !== undefined ? Number(process.env.PEER_FUZZ_SEED) : Math.floor(Math.random() * 2 ** 32)
    console.log(`network-peer update fuzz seed: PEER_FUZZ_SEED=${seed}`)
    const gen = prng.create(seed)
    const source = new Y.Doc()
    source.getMap('uids').set('7', 'guid-7')
    source.getArray('seen').push([7, 8])
    source.getText('t').insert(0, 'xyz')
    const valid = Y.encodeStateAsUpdate(source)
    let rejected = 0
    for (let round = 0; round < 300; round++) {
      const bytes = valid.slice()
      const at = prng.uint32(gen, 0, bytes.length - 1)
      bytes[at] = prng.uint32(gen, 0, 255)
      const cut = prng.real53(gen) < 0.3 ? bytes.subarray(0, prng.uint32(gen, 0, bytes.length)) : bytes
      const doc = filled()
      const before = snapshot(doc)
      try {
        applyPeerUpdate(doc, cut, 'peer')
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw new Error(`seed ${seed} round ${round}: ${String(error)}`)
        rejected++
        let decodable = true
        try {
          Y.decodeUpdate(cut)
        } catch {
          decodable = false
        }
        if (!decodable) expect(snapshot(doc), `seed ${seed} round ${round}`).toEqual(before)
      }
    }
    expect(rejected).toBeGreaterThan(0)
  })
})

describe('catch-up after a partition (DOC_STATE_VECTORS)', () => {
  it('lists only changed docs, converges including pure deletions, and advances the cursor', () => {
    const names = Array.from({ length: 40 }, (_, i) => `mbox-${i}`)
    const a = new Node('a', names)
    const b = new Node('b', names)
    for (const name of names)
      a.doc(name)
        .getArray('log')
        .push([`${name}-init`, 'x'])
    handshake(a, b)
    expectConverged(a, b)
    // Each side lists everything once, then holds the other's cursor.
    a.send(a.listChanges(b.peerCursor))
    b.send(b.listChanges(a.peerCursor))
    pump(a, b)
    expect(a.peerCursor).toEqual({ epoch: 'epoch-b', seq: b.seq })
    expect(b.peerCursor).toEqual({ epoch: 'epoch-a', seq: a.seq })

    // Partition: nothing is sent.
    a.connected = b.connected = false
    a.doc('mbox-1').getArray('log').push(['a-during-partition'])
    b.doc('mbox-2').getArray('log').push(['b-during-partition'])
    b.doc('mbox-3').getArray('log').delete(1, 1) // a deletion: invisible in a state vector
    a.doc('mbox-2').getArray('log').push(['a-concurrent'])

    // Heal: each side lists what changed after the cursor the other holds for it.
    a.connected = b.connected = true
    const fromA = a.listChanges(b.peerCursor)
    const fromB = b.listChanges(a.peerCursor)
    expect(fromA.type === 'docStateVectors' && fromA.entries.map((e) => e.docName).sort()).toEqual(['mbox-1', 'mbox-2'])
    expect(fromB.type === 'docStateVectors' && fromB.entries.map((e) => e.docName).sort()).toEqual(['mbox-2', 'mbox-3'])
    a.send(fromA)
    b.send(fromB)
    pump(a, b)
    expectConverged(a, b)
    expect(a.doc('mbox-3').getArray('log').toJSON()).toEqual(['mbox-3-init'])
    expect(a.doc('mbox-2').getArray('log').length).toBe(4)
    expect(a.peerCursor?.seq).toBe((fromB as { cursor: ChangeCursor }).cursor.seq)
  })
})

describe('verify before assigning (SYNC_REQUEST/SYNC_REPLY)', () => {
  it('the reply proves the earlier update was integrated and carries the peer state of that moment', () => {
    const x = new Node('x', ['inbox'])
    const p = new Node('p', ['inbox'])
    handshake(x, p)
    // The peer allocated something x has not seen yet (its live update is still queued).
    p.doc('inbox').getMap('bindings').set('uid-12', 'guid-p')
    const peerUpdate = p.outbox.splice(0)
    expect(peerUpdate.length).toBe(1)

    x.doc('inbox').getMap('R').set('x', 20) // reservation, sent as a live update
    const requestId = x.syncRequest('inbox', Y.encodeStateVector(x.doc('inbox')))
    // Deliver only x -> p, in order: the update, then the request.
    let integratedBeforeReply: unknown
    while (x.outbox.length > 0) {
      const bytes = x.outbox.shift()!
      if (readFrame(decoding.createDecoder(bytes)).type === 'syncRequest') integratedBeforeReply = p.doc('inbox').getMap('R').get('x')
      p.receive(bytes)
    }
    expect(integratedBeforeReply).toBe(20)
    // Now p -> x: the reply (its stale live update is dropped, the reply must suffice).
    const reply = p.outbox.splice(0)
    expect(reply.length).toBe(1)
    x.receive(reply[0]!)
    expect(x.replies.get(requestId)?.type).toBe('syncReply')
    expect(x.doc('inbox').getMap('bindings').get('uid-12')).toBe('guid-p')
  })
})
