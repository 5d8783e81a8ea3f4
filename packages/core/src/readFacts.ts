import type * as Y from 'yjs'

/** Yjs's content ref of `ContentAny`, the only content kind mailweave writes facts in. */
export const CONTENT_ANY = 8

/**
 * The facts of a log array (a mailbox's or an account's): the values of its live
 * `ContentAny` items, in array order. Other content kinds (JSON, embeds, strings, nested
 * types, ...) are never written by mailweave; a hostile or buggy writer's are ignored here,
 * so they can never be ingested as facts.
 */
export function readFacts(arr: Y.Array<unknown>): unknown[] {
  const out: unknown[] = []
  for (let n = arr._start; n !== null; n = n.right) {
    if (n.deleted || n.content.getRef() !== CONTENT_ANY) continue
    for (const v of n.content.getContent()) out.push(v)
  }
  return out
}

/** The facts a Yjs array event added: like {@link readFacts}, `ContentAny` items only. */
export function addedFacts(e: Y.YArrayEvent<unknown>): unknown[] {
  const out: unknown[] = []
  for (const item of e.changes.added) {
    if (item.deleted || item.content.getRef() !== CONTENT_ANY) continue
    for (const v of item.content.getContent()) out.push(v)
  }
  return out
}
