/**
 * Yjs client ids are split in two halves so an edge replica can never write under a
 * client id a node owns, not even one the receiving node has not heard of yet (a peer
 * that restarted during a partition): nodes write under ids with the top bit set, edge
 * replicas (browsers, offline apps) under ids below 2^31. A node refuses edge updates
 * that add structs under any other id (see checkEdgeUpdate).
 */
const TOP = 0x80000000

function random31(): number {
  return globalThis.crypto.getRandomValues(new Uint32Array(1))[0]! & 0x7fffffff
}

/** Whether an edge replica may write under `client`. */
export function isEdgeClientId(client: number): boolean {
  return Number.isInteger(client) && client >= 0 && client < TOP
}

/** A fresh random client id for a node's document (top bit set). */
export function nodeClientId(): number {
  return (random31() | TOP) >>> 0
}

/** A fresh random client id for an edge replica's document (below 2^31). */
export function edgeClientId(): number {
  return random31()
}
