import * as Y from 'yjs'
import { ACCOUNT_LOG, parseAccountFact } from './accountFacts.ts'
import { isValidFlag, parseFact, type Fact } from './facts.ts'
import { MAILBOX_LOG, SEGMENTS } from './Mailbox.ts'
import { CONTENT_ANY } from './readFacts.ts'
import { isEdgeClientId } from './clientIds.ts'

/** The kinds of document an edge replica writes to. */
export type EdgeDocKind = 'mailbox' | 'account'

/** What {@link checkEdgeUpdate} judges an update against. */
export interface EdgeUpdateContext {
  /**
   * The receiver's document: its state vector says which structs it already holds (those
   * are not judged: applying them changes nothing), and its items resolve the parent of a
   * new item that names only its neighbours.
   */
  doc: Y.Doc
  kind: EdgeDocKind
  /** Whether `guid` already names a message in the document (an edge may not re-use it). */
  knowsGuid?: (guid: string) => boolean
}

const HEX32 = /^[0-9a-f]{32}$/
const HEX64 = /^[0-9a-f]{64}$/
const HEADER_KEYS = new Set(['subject', 'from', 'to', 'date', 'messageId'])
const MAX_HEADER = 64 * 1024

/** Checks one fact an edge writes to a mailbox log; `guids` collects this update's new messages. */
type EdgeFactRule = (f: Fact, guids: Set<string>, ctx: EdgeUpdateContext) => string | undefined

/**
 * The fact kinds an edge replica may write to a mailbox log, each with its extra checks
 * (beyond {@link parseFact}'s). Everything else (bindings, exposures, reservations, claims,
 * configuration, unknown kinds) is node-only or foreign. Extend here when the protocol
 * gives edges a new fact or field.
 */
const EDGE_FACTS: Readonly<Record<string, EdgeFactRule>> = {
  m: (f, guids, ctx) => {
    const m = f as Extract<Fact, readonly ['m', ...unknown[]]>
    if (m.length > 10) return 'edge replicas may not write delivery keys (only nodes receive mail from an MTA)'
    if (!HEX32.test(m[1])) return 'a message guid must be 32 lowercase hex digits'
    if (!HEX64.test(m[3])) return 'a message hash must be 64 lowercase hex digits (SHA-256)'
    if (m[2].length === 0 || m[2].length > 256) return 'a message origin must be 1-256 characters'
    if (!m[8].every(isValidFlag)) return 'a message carries an invalid flag'
    const h = m[9] as Record<string, unknown>
    if (Array.isArray(h) || Object.entries(h).some(([k, v]) => !HEADER_KEYS.has(k) || typeof v !== 'string' || v.length > MAX_HEADER))
      return 'message headers must be an object of known string fields'
    if (guids.has(m[1]) || ctx.knowsGuid?.(m[1]) === true) return `guid ${m[1]} already names a message: an edge may not re-use it`
    guids.add(m[1])
    return undefined
  },
  f: (f) => (isValidFlag(f[2] as string) ? undefined : 'invalid flag name'),
  x: () => undefined,
}

/** The root types an edge may write to, per document kind, with the check of each value. */
const EDGE_ROOTS: Readonly<
  Record<EdgeDocKind, Readonly<Record<string, (v: unknown, guids: Set<string>, ctx: EdgeUpdateContext) => string | undefined>>>
> = {
  mailbox: {
    [MAILBOX_LOG]: (v, guids, ctx) => {
      const f = parseFact(v)
      if (f === undefined) return 'a malformed mailbox fact'
      const rule = EDGE_FACTS[f[0]]
      if (rule === undefined)
        return `edge replicas may not write '${f[0]}' facts (only nodes allocate, expose, reserve, claim or configure)`
      return rule(f, guids, ctx)
    },
    // segment breaks: tiny numeric markers (see Mailbox.write)
    [SEGMENTS]: (v) => (typeof v === 'number' ? undefined : 'segment markers are numbers'),
  },
  account: {
    [ACCOUNT_LOG]: (v) =>
      parseAccountFact(v) === undefined ? 'a malformed account fact (mailbox id, name, UIDVALIDITY, stamp or replica)' : undefined,
  },
}

const CONTENT_NAMES = [
  'GC',
  'ContentDeleted',
  'ContentJSON',
  'ContentBinary',
  'ContentString',
  'ContentEmbed',
  'ContentFormat',
  'ContentType',
  'ContentAny',
  'ContentDoc',
]

/**
 * Why an update from an edge replica must be refused, or undefined when it is acceptable.
 * An allowlist: every struct the receiver does not hold yet must be an item under an edge
 * client id (below 2^31, see {@link isEdgeClientId}), of `ContentAny`, in a root array
 * the document kind lets edges write (a mailbox's log and segment markers, an account's
 * log), placed next to items of that same array, and every value must be a well-formed
 * fact of a kind edges may write (messages with a new guid, flags, expunges; valid
 * account facts). Deletions, garbage-collected ranges, map entries, nested types and
 * every other content kind are refused, as are bytes that do not decode. Pure: nothing
 * is applied.
 */
export function checkEdgeUpdate(update: Uint8Array, ctx: EdgeUpdateContext): string | undefined {
  let decoded: ReturnType<typeof Y.decodeUpdate>
  try {
    decoded = Y.decodeUpdate(update)
  } catch (e) {
    return `update does not decode (${e instanceof Error ? e.message : String(e)})`
  }
  // mailweave documents never delete, so any delete set is foreign
  if (decoded.ds.clients.size > 0) return 'edge replicas may not delete anything: facts are insert-only'
  const store = ctx.doc.store
  const roots = EDGE_ROOTS[ctx.kind]
  const inUpdate = new Map<number, Y.Item[]>()
  for (const s of decoded.structs) {
    if (s instanceof Y.Item) {
      let list = inUpdate.get(s.id.client)
      if (list === undefined) inUpdate.set(s.id.client, (list = []))
      list.push(s)
    }
  }
  const rootOf = new Map<Y.Item, string | undefined>()
  /** The root type name an item integrates into, or undefined when not a root array. */
  const resolveRoot = (item: Y.Item, depth: number): string | undefined => {
    if (rootOf.has(item)) return rootOf.get(item)
    let root: string | undefined
    if (typeof item.parent === 'string') root = item.parent
    else if (item.parent === null && depth < 10_000) {
      const near = item.origin ?? item.rightOrigin
      if (near !== null) root = rootOfId(near, depth + 1)
    }
    rootOf.set(item, root)
    return root
  }
  const rootOfId = (id: Y.ID, depth: number): string | undefined => {
    if (id.clock < Y.getState(store, id.client)) {
      const held = Y.getItem(store, id)
      if (!(held instanceof Y.Item) || !(held.parent instanceof Y.AbstractType) || held.parent._item !== null) return undefined
      return Y.findRootTypeKey(held.parent)
    }
    const list = inUpdate.get(id.client)
    const other = list?.find((s) => s.id.clock <= id.clock && id.clock < s.id.clock + s.length)
    return other === undefined ? undefined : resolveRoot(other, depth)
  }

  const guids = new Set<string>()
  for (const s of decoded.structs) {
    if (s instanceof Y.Skip) continue
    if (s.id.clock + s.length <= Y.getState(store, s.id.client)) continue
    if (!(s instanceof Y.Item)) return 'edge replicas may not send garbage-collected (deleted) ranges'
    if (!isEdgeClientId(s.id.client))
      return `client id ${s.id.client} is not an edge client id (edges write under ids below 2^31; nodes own the rest)`
    if (s.parentSub !== null) return 'edge replicas may not write map entries'
    const ref = s.content.getRef()
    if (ref !== CONTENT_ANY) return `edge replicas may not write ${CONTENT_NAMES[ref] ?? `content ${ref}`} (facts are ContentAny)`
    const root = resolveRoot(s, 0)
    const check = root === undefined ? undefined : roots[root]
    if (check === undefined)
      return root === undefined ? 'an item whose parent is not a root array the node holds' : `edge replicas may not write to '${root}'`
    for (const v of s.content.getContent()) {
      const why = check(v, guids, ctx)
      if (why !== undefined) return why
    }
  }
  return undefined
}
