import type * as Y from 'yjs'
import { readFacts } from './readFacts.ts'

/**
 * The account document's fact formats and mailbox-list rules: one account's mailboxes,
 * replicated as insert-only facts in the Y.Array {@link ACCOUNT_LOG}. Shared by the node
 * (which writes them) and edge replicas (which read them); both list mailboxes with
 * {@link listAccountMailboxes}, so they agree on every name. Facts that do not parse (a
 * numeric name, an id like `../../x`) are skipped, never listed.
 */

/** Name of the Y.Array holding an account document's facts. */
export const ACCOUNT_LOG = 'mailweave.account'
/** The id (and document suffix) of every account's INBOX: it always exists and cannot be deleted. */
export const INBOX_ID = 'INBOX'

/** A mailbox (re)named: the latest `(ms, replica)` names an id; UIDVALIDITY is the max proposed. */
export type MailboxFact = readonly [t: 'mb', id: string, name: string, uidValidity: number, ms: number, replica: string]
/** A mailbox deleted: wins forever over its id. */
export type DeleteFact = readonly [t: 'del', id: string, ms: number, replica: string]
/** A subscription change: the latest `(ms, replica)` wins per name. */
export type SubscribeFact = readonly [t: 'sub', name: string, on: 0 | 1, ms: number, replica: string]
/** Any fact of an account document. */
export type AccountFact = MailboxFact | DeleteFact | SubscribeFact

/** One live mailbox of an account. */
export interface MailboxEntry {
  id: string
  name: string
  /** UIDVALIDITY proposed when the mailbox was created (INBOX: what the lister was given). */
  uidValidity: number
}

/** Mailbox ids other than INBOX: 24 lowercase hex digits (a hash of name and generation). */
const ID_RE = /^[0-9a-f]{24}$/
const MAX_NAME = 512

/** Whether `name` may name a mailbox other than INBOX: 1-512 characters, no control characters. */
export function isValidMailboxName(name: unknown): name is string {
  return (
    typeof name === 'string' &&
    name.length > 0 &&
    name.length <= MAX_NAME &&
    !/[\x00-\x1f\x7f]/.test(name) &&
    name.toUpperCase() !== 'INBOX'
  )
}

/** Whether `id` is the id of a mailbox other than INBOX (safe as a document name suffix). */
export function isValidMailboxId(id: unknown): id is string {
  return typeof id === 'string' && ID_RE.test(id)
}

const isStamp = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
const isReplica = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 256
const isSubName = (v: unknown): v is string => typeof v === 'string' && (v === 'INBOX' || isValidMailboxName(v))

/** Returns `v` as an {@link AccountFact} when it is well formed, else undefined. */
export function parseAccountFact(v: unknown): AccountFact | undefined {
  if (!Array.isArray(v)) return undefined
  switch (v[0]) {
    case 'mb':
      return v.length === 6 &&
        isValidMailboxId(v[1]) &&
        isValidMailboxName(v[2]) &&
        typeof v[3] === 'number' &&
        Number.isInteger(v[3]) &&
        v[3] > 0 &&
        v[3] <= 0xffffffff &&
        isStamp(v[4]) &&
        isReplica(v[5])
        ? (v as unknown as MailboxFact)
        : undefined
    case 'del':
      return v.length === 4 && isValidMailboxId(v[1]) && isStamp(v[2]) && isReplica(v[3]) ? (v as unknown as DeleteFact) : undefined
    case 'sub':
      return v.length === 5 && isSubName(v[1]) && (v[2] === 0 || v[2] === 1) && isStamp(v[3]) && isReplica(v[4])
        ? (v as unknown as SubscribeFact)
        : undefined
    default:
      return undefined
  }
}

/** The well-formed facts among `raw`, in order. */
export function parseAccountFacts(raw: readonly unknown[]): AccountFact[] {
  const out: AccountFact[] = []
  for (const v of raw) {
    const f = parseAccountFact(v)
    if (f !== undefined) out.push(f)
  }
  return out
}

const stampGreater = (ms: number, rep: string, bms: number, brep: string) => ms > bms || (ms === bms && rep > brep)
const byName = (a: MailboxEntry, b: MailboxEntry) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)

/**
 * The live mailboxes the facts describe, INBOX first (with `inboxUidValidity`), then by
 * name: per id the latest `(ms, replica)` name wins and UIDVALIDITY is the highest
 * proposed; a deleted id is gone; when two ids share a name the lowest id keeps it and the
 * other is listed as `name (id prefix)`. A pure function of the set of facts.
 */
export function listAccountMailboxes(facts: readonly AccountFact[], inboxUidValidity: number): MailboxEntry[] {
  const latest = new Map<string, { name: string; uidValidity: number; ms: number; rep: string }>()
  const deleted = new Set<string>()
  for (const f of facts) {
    if (f[0] === 'mb') {
      const cur = latest.get(f[1])
      const uidValidity = Math.max(f[3], cur?.uidValidity ?? 0)
      if (cur === undefined || stampGreater(f[4], f[5], cur.ms, cur.rep)) latest.set(f[1], { name: f[2], uidValidity, ms: f[4], rep: f[5] })
      else cur.uidValidity = uidValidity
    } else if (f[0] === 'del') deleted.add(f[1])
  }
  const rest: MailboxEntry[] = []
  const taken = new Set(['INBOX'])
  for (const [id, e] of [...latest].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    if (deleted.has(id)) continue
    const name = taken.has(e.name) ? `${e.name} (${id.slice(0, 8)})` : e.name
    taken.add(name)
    rest.push({ id, name, uidValidity: e.uidValidity })
  }
  rest.sort(byName)
  return [{ id: INBOX_ID, name: 'INBOX', uidValidity: inboxUidValidity }, ...rest]
}

/** Subscribed mailbox names, sorted: per name the latest `(ms, replica)` change wins. */
export function listSubscriptions(facts: readonly AccountFact[]): string[] {
  const latest = new Map<string, { on: boolean; ms: number; rep: string }>()
  for (const f of facts) {
    if (f[0] !== 'sub') continue
    const cur = latest.get(f[1])
    if (cur === undefined || stampGreater(f[3], f[4], cur.ms, cur.rep)) latest.set(f[1], { on: f[2] === 1, ms: f[3], rep: f[4] })
  }
  return [...latest]
    .filter(([, v]) => v.on)
    .map(([k]) => k)
    .sort()
}

/** The well-formed facts of an account document (its log's `ContentAny` values that parse). */
export function accountFacts(doc: Y.Doc): AccountFact[] {
  return parseAccountFacts(readFacts(doc.getArray<unknown>(ACCOUNT_LOG)))
}
