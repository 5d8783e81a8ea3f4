import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import * as prng from 'lib0/prng'
import { describe, expect, it } from 'vitest'
import * as syncProtocol from 'y-protocols/sync'
import * as Y from 'yjs'
import type { Frame, FrameType } from '../src/index.ts'
import {
  CloseCode,
  DEFAULT_MAX_FRAME_BYTES,
  FrameTypeCode,
  PROTOCOL_VERSION,
  ProtocolError,
  assertFrameSize,
  closeCodeFor,
  closeReason,
  decodeFrame,
  encodeFrame,
  helloProofMessage,
  readFrame,
  writeDocSyncHeader,
  writeFrame,
} from '../src/index.ts'

const hash = (fill: number): string => fill.toString(16).padStart(2, '0').repeat(32)

const sampleDoc = (): Y.Doc => {
  const doc = new Y.Doc()
  doc.clientID = 1 // deterministic bytes across calls
  doc.getMap('m').set('k', 'välue ✓')
  doc.getArray('a').push([1, 2, 3])
  return doc
}

/** At least one sample of every frame type, with edge values (empty, optional absent/present, non-ASCII). */
const samples = (): Frame[] => {
  const doc = sampleDoc()
  const update = Y.encodeStateAsUpdate(doc)
  const sv = Y.encodeStateVector(doc)
  return [
    { type: 'hello', nodeId: 'node-eu-1', slot: 3, protocolVersion: 1, proof: new Uint8Array(32).fill(7), resume: undefined },
    { type: 'hello', nodeId: 'nœud-ü', slot: 0, protocolVersion: 9, proof: new Uint8Array(0), resume: { epoch: 'e-42', seq: 2 ** 40 } },
    { type: 'challenge', nonce: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]) },
    { type: 'docSync', docName: 'mbox/INBOX', message: { kind: 'step1', stateVector: sv } },
    { type: 'docSync', docName: 'mbox/Sent', message: { kind: 'step2', update } },
    { type: 'docSync', docName: '', message: { kind: 'update', update } },
    { type: 'docStateVectors', cursor: { epoch: 'x', seq: 0 }, entries: [] },
    {
      type: 'docStateVectors',
      cursor: { epoch: 'epoch-7', seq: 12345 },
      entries: [
        { docName: 'a', stateVector: sv },
        { docName: 'b', stateVector: new Uint8Array([0]) },
      ],
    },
    { type: 'syncRequest', requestId: 1, docName: 'mbox/INBOX', stateVector: sv },
    { type: 'syncRequest', requestId: 2 ** 31, docName: '', stateVector: undefined },
    { type: 'syncReply', requestId: 1, docName: 'mbox/INBOX', update },
    { type: 'syncReply', requestId: 0, docName: '', update: undefined },
    { type: 'blobWant', hashes: [] },
    { type: 'blobWant', hashes: [hash(0), hash(0xab), hash(0xff)] },
    { type: 'blobData', hash: hash(0x5c), bytes: new Uint8Array([0, 255, 128]) },
    { type: 'blobData', hash: hash(1), bytes: new Uint8Array(0) },
    { type: 'blobMissing', hash: hash(0x10) },
    { type: 'error', code: CloseCode.FORBIDDEN, message: 'not yours: «INBOX»' },
    { type: 'ping', id: 0 },
    { type: 'pong', id: 99999 },
  ]
}

const expectProtocolError = (fn: () => unknown, kind: ProtocolError['kind']): ProtocolError => {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(ProtocolError)
    expect((error as ProtocolError).kind).toBe(kind)
    expect((error as ProtocolError).closeCode).toBe(closeCodeFor(kind))
    return error as ProtocolError
  }
  throw new Error(`expected a ${kind} ProtocolError, nothing was thrown`)
}

describe('frame codec', () => {
  it('round-trips every frame type', () => {
    const seen = new Set<FrameType>()
    for (const frame of samples()) {
      const bytes = encodeFrame(frame)
      expect(bytes[0]).toBe(PROTOCOL_VERSION)
      expect(bytes[1]).toBe(FrameTypeCode[frame.type])
      expect(decodeFrame(bytes)).toEqual(frame)
      seen.add(frame.type)
    }
    expect([...seen].sort()).toEqual((Object.keys(FrameTypeCode) as FrameType[]).sort())
  })

  it('reads several frames back to back from one decoder', () => {
    const encoder = encoding.createEncoder()
    for (const frame of samples()) writeFrame(encoder, frame)
    const decoder = decoding.createDecoder(encoding.toUint8Array(encoder))
    const read: Frame[] = []
    while (decoding.hasContent(decoder)) read.push(readFrame(decoder))
    expect(read).toEqual(samples())
  })

  it('carries y-protocols sync messages byte for byte', () => {
    const doc = sampleDoc()
    const encoder = encoding.createEncoder()
    writeDocSyncHeader(encoder, 'mbox/INBOX')
    syncProtocol.writeSyncStep1(encoder, doc)
    const frame = decodeFrame(encoding.toUint8Array(encoder))
    expect(frame).toEqual({ type: 'docSync', docName: 'mbox/INBOX', message: { kind: 'step1', stateVector: Y.encodeStateVector(doc) } })

    const ours = encodeFrame({ type: 'docSync', docName: 'd', message: { kind: 'update', update: Y.encodeStateAsUpdate(doc) } })
    const theirs = encoding.createEncoder()
    writeDocSyncHeader(theirs, 'd')
    syncProtocol.writeUpdate(theirs, Y.encodeStateAsUpdate(doc))
    expect(ours).toEqual(encoding.toUint8Array(theirs))
  })

  it('decoded frames do not alias the input buffer', () => {
    const bytes = encodeFrame({ type: 'blobData', hash: hash(1), bytes: new Uint8Array([1, 2, 3]) })
    const frame = decodeFrame(bytes)
    bytes.fill(0)
    expect(frame).toEqual({ type: 'blobData', hash: hash(1), bytes: new Uint8Array([1, 2, 3]) })
  })
})

describe('reading bad bytes', () => {
  it('rejects an empty message', () => {
    expectProtocolError(() => decodeFrame(new Uint8Array(0)), 'malformed')
  })

  it('rejects another protocol version with VERSION_MISMATCH', () => {
    const bytes = encodeFrame({ type: 'ping', id: 1 })
    bytes[0] = 2
    const error = expectProtocolError(() => decodeFrame(bytes), 'versionMismatch')
    expect(error.closeCode).toBe(CloseCode.VERSION_MISMATCH)
    expectProtocolError(() => decodeFrame(new Uint8Array([0, 10, 1])), 'versionMismatch')
  })

  it('rejects unknown frame and sync message types', () => {
    expectProtocolError(() => decodeFrame(new Uint8Array([1, 99])), 'malformed')
    expectProtocolError(() => decodeFrame(new Uint8Array([1, FrameTypeCode.docSync, 1, 0x61, 7, 0])), 'malformed')
  })

  it('rejects every strict prefix of every frame (all fields are self-delimiting)', () => {
    for (const frame of samples()) {
      const bytes = encodeFrame(frame)
      for (let cut = 0; cut < bytes.length; cut++) expectProtocolError(() => decodeFrame(bytes.subarray(0, cut)), 'malformed')
    }
  })

  it('never reads past the end of a view into a larger buffer', () => {
    // A truncated frame whose declared lengths point into the bytes that follow it.
    const whole = encodeFrame({ type: 'blobData', hash: hash(2), bytes: new Uint8Array(64).fill(9) })
    const pooled = new Uint8Array(whole.length + 100)
    pooled.set(whole, 10)
    const view = pooled.subarray(10, 10 + whole.length - 20)
    expectProtocolError(() => decodeFrame(view), 'malformed')
    expect(decodeFrame(pooled.subarray(10, 10 + whole.length))).toEqual(decodeFrame(whole))
  })

  it('rejects trailing bytes', () => {
    const bytes = encodeFrame({ type: 'pong', id: 5 })
    expectProtocolError(() => decodeFrame(new Uint8Array([...bytes, 0])), 'malformed')
  })

  it('rejects invalid UTF-8 names, bad optional flags and impossible counts', () => {
    expectProtocolError(() => decodeFrame(new Uint8Array([1, FrameTypeCode.blobMissing])), 'malformed')
    expectProtocolError(() => decodeFrame(new Uint8Array([1, FrameTypeCode.docSync, 2, 0xc3, 0x28, 2, 1, 0])), 'malformed')
    expectProtocolError(() => decodeFrame(new Uint8Array([1, FrameTypeCode.syncRequest, 1, 0, 2])), 'malformed')
    // lib0 reads varUints up to 2^56; anything past 2^53 would not round-trip.
    const unsafe = encoding.createEncoder()
    encoding.writeVarUint(unsafe, 1)
    encoding.writeVarUint(unsafe, FrameTypeCode.ping)
    encoding.writeVarUint(unsafe, 2 ** 54)
    expectProtocolError(() => decodeFrame(encoding.toUint8Array(unsafe)), 'malformed')
    // 2^35 hashes announced in a 10-byte frame: refused before any loop or allocation.
    const forged = encoding.createEncoder()
    encoding.writeVarUint(forged, 1)
    encoding.writeVarUint(forged, FrameTypeCode.blobWant)
    encoding.writeVarUint(forged, 2 ** 35)
    expectProtocolError(() => decodeFrame(encoding.toUint8Array(forged)), 'malformed')
  })

  it('enforces the maximum frame size on both sides', () => {
    const frame: Frame = { type: 'blobData', hash: hash(3), bytes: new Uint8Array(1000) }
    const bytes = encodeFrame(frame)
    expectProtocolError(() => decodeFrame(bytes, 999), 'tooLarge')
    expectProtocolError(() => encodeFrame(frame, 999), 'tooLarge')
    expect(decodeFrame(bytes, bytes.length)).toEqual(frame)
    expect(() => assertFrameSize(DEFAULT_MAX_FRAME_BYTES)).not.toThrow()
    expectProtocolError(() => assertFrameSize(DEFAULT_MAX_FRAME_BYTES + 1), 'tooLarge')
  })

  it('refuses to write out-of-range fields', () => {
    const encoder = encoding.createEncoder()
    expect(() => writeFrame(encoder, { type: 'ping', id: -1 })).toThrow(RangeError)
    expect(() => writeFrame(encoder, { type: 'ping', id: 1.5 })).toThrow(RangeError)
    expect(() => writeFrame(encoder, { type: 'blobMissing', hash: 'ABC' })).toThrow(RangeError)
    expect(() => writeFrame(encoder, { type: 'blobMissing', hash: hash(0xab).toUpperCase() })).toThrow(RangeError)
    expect(() =>
      writeFrame(encoder, { type: 'docSync', docName: 'bad\ud800', message: { kind: 'update', update: new Uint8Array([0, 0]) } }),
    ).toThrow(RangeError)
    expect(() => writeFrame(encoder, { type: 'challenge', nonce: new Uint8Array(5000) })).toThrow(RangeError)
  })
})

describe('close codes and errors', () => {
  it('maps every error kind to its own named close code in the application range', () => {
    const kinds: ProtocolError['kind'][] = [
      'malformed',
      'authFailed',
      'versionMismatch',
      'updateRejected',
      'tooLarge',
      'forbidden',
      'slotConflict',
      'duplicateConnection',
    ]
    const codes = kinds.map(closeCodeFor)
    expect(new Set(codes).size).toBe(kinds.length)
    for (const code of codes) expect(code >= 4000 && code <= 4999).toBe(true)
    expect(closeCodeFor('malformed')).toBe(4000)
    expect(closeCodeFor('authFailed')).toBe(4001)
    expect(closeCodeFor('versionMismatch')).toBe(4002)
    expect(closeCodeFor('updateRejected')).toBe(4003)
    expect(closeCodeFor('tooLarge')).toBe(4004)
    expect(closeCodeFor('forbidden')).toBe(4005)
  })

  it('cuts close reasons to 123 UTF-8 bytes without splitting a character', () => {
    const reason = closeReason(new ProtocolError('malformed', 'é'.repeat(200)))
    expect(new TextEncoder().encode(reason).length).toBeLessThanOrEqual(123)
    expect(reason).toBe('é'.repeat(61))
    expect(closeReason(new Error('short'))).toBe('short')
  })

  it('binds the HELLO proof input to nonce, node id and slot', () => {
    const nonce = new Uint8Array([1, 2, 3])
    const base = helloProofMessage(nonce, 'a', 1)
    expect(helloProofMessage(nonce, 'a', 1)).toEqual(base)
    expect(helloProofMessage(nonce, 'b', 1)).not.toEqual(base)
    expect(helloProofMessage(nonce, 'a', 2)).not.toEqual(base)
    expect(helloProofMessage(new Uint8Array([1, 2, 4]), 'a', 1)).not.toEqual(base)
  })
})

describe('fuzz', () => {
  const seed = process.env.PEER_FUZZ_SEED !== undefined ? Number(process.env.PEER_FUZZ_SEED) : Math.floor(Math.random() * 2 ** 32)
  // Printed so a failure can be replayed with PEER_FUZZ_SEED=<seed>.
  console.log(`network-peer fuzz seed: PEER_FUZZ_SEED=${seed}`)
  const codes = Object.values(FrameTypeCode)

  /** Decoding either yields a frame the writer accepts and that round-trips, or a ProtocolError; nothing else. */
  const check = (bytes: Uint8Array, round: number): 'frame' | 'error' => {
    let frame: Frame
    try {
      frame = decodeFrame(bytes)
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw new Error(`seed ${seed} round ${round}: ${String(error)} for [${bytes.join(',')}]`)
      return 'error'
    }
    expect(decodeFrame(encodeFrame(frame)), `seed ${seed} round ${round}`).toEqual(frame)
    return 'frame'
  }

  it('random bytes never crash the decoder', () => {
    const gen = prng.create(seed)
    const outcomes = { frame: 0, error: 0 }
    for (let round = 0; round < 3000; round++) {
      const bytes = prng.uint8Array(gen, prng.uint32(gen, 0, 48))
      // Mostly valid headers, so the fuzz reaches the frame bodies.
      if (bytes.length > 0 && prng.real53(gen) < 0.8) bytes[0] = PROTOCOL_VERSION
      if (bytes.length > 1 && prng.real53(gen) < 0.8) bytes[1] = prng.oneOf(gen, codes)
      outcomes[check(bytes, round)]++
    }
    expect(outcomes.error).toBeGreaterThan(0)
  })

  it('mutated valid frames never crash the decoder', () => {
    const gen = prng.create(seed + 1)
    const valid = samples().map((frame) => encodeFrame(frame))
    const outcomes = { frame: 0, error: 0 }
    for (let round = 0; round < 3000; round++) {
      const bytes = [...prng.oneOf(gen, valid)]
      const mutations = prng.uint32(gen, 1, 3)
      for (let m = 0; m < mutations; m++) {
        const at = prng.uint32(gen, 0, Math.max(0, bytes.length - 1))
        switch (prng.uint32(gen, 0, 3)) {
          case 0:
            bytes[at] = prng.uint32(gen, 0, 255)
            break
          case 1:
            bytes[at] = (bytes[at] ?? 0) ^ (1 << prng.uint32(gen, 0, 7))
            break
          case 2:
            bytes.splice(at, 1)
            break
          case 3:
            bytes.splice(at, 0, prng.uint32(gen, 0, 255))
            break
        }
      }
      outcomes[check(new Uint8Array(bytes), round)]++
    }
    // Both outcomes must occur, or the mutations are not exercising anything.
    expect(outcomes.frame).toBeGreaterThan(0)
    expect(outcomes.error).toBeGreaterThan(0)
  })
})
