import * as Y from 'yjs'
import { isBlobKey } from './blobKey.ts'
import { parseFact, type ListHeaders } from './facts.ts'

/** A message fact as callers outside core read it: named fields, not tuple positions. */
export interface MessageFactInfo {
  guid: string
  /** The replica that appended the message. */
  origin: string
  /** The body's blob key (lowercase hex SHA-256). */
  hash: string
  size: number
  /** Milliseconds since the epoch. */
  internalDate: number
  flags: readonly string[]
  headers: ListHeaders
}

/**
 * Reads `v` as a message fact; undefined unless it is a well-formed one whose hash is a
 * valid blob key (any writer of a document may put anything in it).
 */
export function readMessageFact(v: unknown): MessageFactInfo | undefined {
  const f = parseFact(v)
  if (f?.[0] !== 'm' || !isBlobKey(f[3])) return undefined
  return { guid: f[1], origin: f[2], hash: f[3], size: f[4], internalDate: f[5], flags: f[8], headers: f[9] }
}

/**
 * The well-formed message facts a Yjs update of a mailbox document inserts, without
 * applying it (e.g. to fetch the bodies a peer's update announces). An update that does
 * not decode has none.
 */
export function messageFactsInUpdate(update: Uint8Array): MessageFactInfo[] {
  let decoded: ReturnType<typeof Y.decodeUpdate>
  try {
    decoded = Y.decodeUpdate(update)
  } catch {
    return []
  }
  const out: MessageFactInfo[] = []
  for (const s of decoded.structs) {
    if (!(s instanceof Y.Item) || !(s.content instanceof Y.ContentAny)) continue
    for (const v of s.content.getContent()) {
      const m = readMessageFact(v)
      if (m !== undefined) out.push(m)
    }
  }
  return out
}
