import * as Y from 'yjs'

/**
 * Writes one Yjs item with arbitrary content at the end of root array `root` of `doc`,
 * under `client` (default the doc's own): what a hostile or buggy replica can put in an
 * update, whatever the Y.Array API would write.
 */
export function writeRawItem(
  doc: Y.Doc,
  root: string,
  content: Y.Item['content'],
  opts: { client?: number; parentSub?: string } = {},
): void {
  const saved = doc.clientID
  if (opts.client !== undefined) doc.clientID = opts.client
  try {
    doc.transact((tr) => {
      const parent = doc.getArray(root)
      let last = parent._start
      while (last !== null && last.right !== null) last = last.right
      const sub = opts.parentSub ?? null
      const left = sub === null ? last : null
      const item = new Y.Item(
        Y.createID(doc.clientID, Y.getState(doc.store, doc.clientID)),
        left,
        left?.lastId ?? null,
        null,
        null,
        parent,
        sub,
        content,
      )
      item.integrate(tr, 0)
    })
  } finally {
    doc.clientID = saved
  }
}

/** The update that brings a receiver at state vector `sv` to `doc`'s state. */
export function diff(doc: Y.Doc, from: Y.Doc): Uint8Array {
  return Y.encodeStateAsUpdate(doc, Y.encodeStateVector(from))
}

/** One instance of every Yjs content kind that is not ContentAny, carrying `fact` where it can. */
export function foreignContents(fact: unknown[]): [name: string, make: () => Y.Item['content']][] {
  return [
    ['ContentJSON', () => new Y.ContentJSON([fact])],
    ['ContentEmbed', () => new Y.ContentEmbed(fact as unknown as object)],
    ['ContentString', () => new Y.ContentString(JSON.stringify(fact))],
    ['ContentFormat', () => new Y.ContentFormat('f', fact as unknown as object)],
    ['ContentBinary', () => new Y.ContentBinary(new TextEncoder().encode(JSON.stringify(fact)))],
    ['ContentType', () => new Y.ContentType(new Y.Array())],
    ['ContentDoc', () => new Y.ContentDoc(new Y.Doc())],
    ['ContentDeleted', () => new Y.ContentDeleted(1)],
  ]
}
