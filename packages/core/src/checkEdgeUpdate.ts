import * as Y from 'yjs'

/** Fact kinds only nodes may write: bindings, exposures, reservations, claims, config. */
const NODE_ONLY = new Set(['b', 'e', 'r', 'c', 'v'])

/**
 * Why an update from an edge replica must be refused, or undefined when it is acceptable.
 * An edge replica may append messages, flag and expunge; it may never allocate, expose,
 * reserve, claim a slot, configure a mailbox, write a delivery key (a message with one can
 * supersede other copies: only a node receiving mail from an MTA writes them), or delete
 * anything (facts are insert-only).
 * Bytes that do not decode are refused too. Structs the receiver already holds (per its
 * state vector `known`, e.g. node facts an edge replica re-sends on reconnect) are not
 * judged: applying them changes nothing. Pure: nothing is applied.
 */
export function checkEdgeUpdate(update: Uint8Array, known: ReadonlyMap<number, number> = new Map()): string | undefined {
  let decoded: ReturnType<typeof Y.decodeUpdate>
  try {
    decoded = Y.decodeUpdate(update)
  } catch (e) {
    return `update does not decode (${e instanceof Error ? e.message : String(e)})`
  }
  // mailweave documents never delete, so any delete set is foreign
  if (decoded.ds.clients.size > 0) return 'edge replicas may not delete anything: facts are insert-only'
  for (const s of decoded.structs) {
    if (!(s instanceof Y.Item)) continue
    if (s.id.clock + s.length <= (known.get(s.id.client) ?? 0)) continue
    if (!(s.content instanceof Y.ContentAny)) continue
    for (const v of s.content.getContent()) {
      if (Array.isArray(v) && typeof v[0] === 'string' && NODE_ONLY.has(v[0])) return `edge replicas may not write '${v[0]}' facts (only nodes allocate, expose, reserve, claim or configure)`
      if (Array.isArray(v) && v[0] === 'm' && v.length > 10) return 'edge replicas may not write delivery keys (only nodes receive mail from an MTA)'
    }
  }
  return undefined
}
