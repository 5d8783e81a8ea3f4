import * as Y from 'yjs'
import { describe, expect, it } from 'vitest'
import { EdgeCloseCode, isBlobKey, isEdgeRejection, MAILBOX_LOG, messageFactsInUpdate, openMailbox, readMessageFact } from '../src/index.ts'

const raw = (s: string) => new TextEncoder().encode(`Subject: ${s}\r\n\r\nbody ${s}\r\n`)
const HASH = 'a'.repeat(64)

describe('messageFactsInUpdate', () => {
  it('reads the message facts of an update with named fields, and nothing else', () => {
    const doc = new Y.Doc()
    const mb = openMailbox(doc, { replica: 'eu', slot: 0, stride: 3, uidValidity: 5 })
    const before = Y.encodeStateVector(doc)
    const guid = mb.append(raw('one'), { flags: ['\\Seen'], internalDate: new Date(1_700_000_000_000) })
    mb.expose()
    const facts = messageFactsInUpdate(Y.encodeStateAsUpdate(doc, before))
    expect(facts).toHaveLength(1)
    expect(facts[0]).toMatchObject({
      guid,
      origin: 'eu',
      size: raw('one').length,
      internalDate: 1_700_000_000_000,
      flags: ['\\Seen'],
      headers: { subject: 'one' },
    })
    expect(isBlobKey(facts[0]!.hash)).toBe(true)
    expect(facts[0]!.hash).toBe(mb.message(guid)?.hash)
  })

  it('skips malformed facts (any writer may put anything in a document) and undecodable bytes', () => {
    const doc = new Y.Doc()
    const log = doc.getArray(MAILBOX_LOG)
    const good = ['m', 'g1', 'edge', HASH, 3, 0, 1, 0, [], {}]
    log.push([
      ['m', 'g0', 'edge', 'not-a-hash', 3, 0, 1, 0, [], {}],
      ['m', 'g2', 'edge', HASH.toUpperCase(), 3, 0, 1, 0, [], {}],
      ['m', 'short'],
      'm',
      ['b', 1, 'g1', 'eu'],
      good,
    ])
    expect(messageFactsInUpdate(Y.encodeStateAsUpdate(doc)).map((f) => f.guid)).toEqual(['g1'])
    expect(messageFactsInUpdate(new Uint8Array([1, 2, 3, 250]))).toEqual([])
    expect(readMessageFact(good)?.hash).toBe(HASH)
    expect(readMessageFact(['m', 'g1', 'edge', HASH, -1, 0, 1, 0, [], {}])).toBeUndefined()
  })
})

describe('edge close codes', () => {
  it('a rejection is final (no reconnect loop); a shutdown is not', () => {
    expect([EdgeCloseCode.PROTOCOL_ERROR, EdgeCloseCode.UPDATE_REJECTED, EdgeCloseCode.TOO_LARGE].every(isEdgeRejection)).toBe(true)
    expect([EdgeCloseCode.SHUTTING_DOWN, 1000, 1006, 4001].some(isEdgeRejection)).toBe(false)
  })
})
