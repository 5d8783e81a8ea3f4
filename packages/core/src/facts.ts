/**
 * The mailbox log's fact formats (protocol version 1). Every fact is a small tuple,
 * appended once to the document's log and never changed or removed: the state is the
 * set of facts, so replaying them in any order, or twice, gives the same state.
 */

/** Protocol version written into config facts. */
export const FACTS_VERSION = 1

/** Header fields a mailbox list shows, kept in the document (bodies are blobs). */
export interface ListHeaders {
  subject?: string
  from?: string
  to?: string
  date?: string
  messageId?: string
}

/**
 * A message: immutable metadata. `hlc` orders appends; `flags` are set at that clock.
 * `delivery`, present only on messages a node received from an MTA, is the message's
 * delivery key (see `deliveryKey`): copies with one key delivered within
 * {@link DELIVERY_WINDOW_MS} of each other are one message (`MailboxState.superseded`).
 */
export type MessageFact = readonly [
  t: 'm',
  guid: string,
  origin: string,
  hash: string,
  size: number,
  internalDate: number,
  hlcMs: number,
  hlcC: number,
  flags: readonly string[],
  headers: ListHeaders,
  delivery?: string,
]
/** A binding: node `allocator` gave `uid` to `guid`. */
export type BindingFact = readonly [t: 'b', uid: number, guid: string, allocator: string]
/**
 * An exposure by `node` raising W[node] from `from` to `to` (> from) and adding `seen`
 * (flattened inclusive ranges, all within [from, to)) to Seen[node]. Facts of one node
 * chain by from/to; a replica integrates a fact only once its predecessor arrived.
 */
export type ExposureFact = readonly [t: 'e', node: string, from: number, to: number, seen: readonly number[]]
/** A reservation: R[node] := max(R, r). */
export type ReservationFact = readonly [t: 'r', node: string, r: number]
/** A flag change: latest (hlcMs, hlcC, replica) wins per (guid, flag). */
export type FlagFact = readonly [t: 'f', guid: string, flag: string, on: 0 | 1, hlcMs: number, hlcC: number, replica: string]
/** An expunge: wins over everything, forever. */
export type ExpungeFact = readonly [t: 'x', guid: string, replica: string]
/** A slot claim: node `replica` allocates from residue class `slot`. */
export type ClaimFact = readonly [t: 'c', slot: number, replica: string]
/** Mailbox configuration proposal; the lowest (uidValidity, replica) wins. */
export type ConfigFact = readonly [t: 'v', version: number, uidValidity: number, stride: number, replica: string]

/** Any fact of the log. */
export type Fact = MessageFact | BindingFact | ExposureFact | ReservationFact | FlagFact | ExpungeFact | ClaimFact | ConfigFact

/**
 * Two copies of one delivery (same delivery key) whose append clocks are at most this far
 * apart are one message. Five days: Postfix's default `maximal_queue_lifetime`, the longest
 * an MTA keeps retrying a delivery. Part of the protocol: every replica must use the same.
 */
export const DELIVERY_WINDOW_MS = 5 * 24 * 60 * 60 * 1000

/** Whether `v` has the form of a delivery key: 64 lowercase hex digits (a SHA-256). */
export const isDeliveryKey = (v: unknown): v is string => typeof v === 'string' && v.length === 64 && /^[0-9a-f]{64}$/.test(v)

const isStr = (v: unknown): v is string => typeof v === 'string'
const isUint = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)
/** A clock's physical part: an integer ms (a stamp the clock can move past by adding 1). */
const isMs = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v)

/** The highest counter a stamp may carry (what {@link parseFact} accepts). */
export const MAX_COUNTER = 0xffffffff

const FLAG_RE = /^\\?[!#$&'+\-.0-9:;<=>?@A-Z^_`a-z|~\u0080-\uffff]+$/

/** Whether `f` is a storable flag: an IMAP atom, optionally with a leading backslash, not \\Recent. */
export function isValidFlag(f: unknown): f is string {
  return typeof f === 'string' && f.length <= 1024 && FLAG_RE.test(f) && f.toLowerCase() !== '\\recent'
}

/**
 * Returns `v` as a {@link Fact} when it is well formed, else `undefined`. Facts from
 * peers are data, not trusted: a malformed one is ignored, never half-applied.
 */
export function parseFact(v: unknown): Fact | undefined {
  if (!Array.isArray(v)) return undefined
  switch (v[0]) {
    case 'm':
      return (v.length === 10 || (v.length === 11 && isDeliveryKey(v[10]))) &&
        isStr(v[1]) &&
        isStr(v[2]) &&
        isStr(v[3]) &&
        isUint(v[4]) &&
        isNum(v[5]) &&
        isMs(v[6]) &&
        isUint(v[7]) &&
        Array.isArray(v[8]) &&
        v[8].every(isStr) &&
        typeof v[9] === 'object' &&
        v[9] !== null
        ? (v as unknown as MessageFact)
        : undefined
    case 'b':
      return v.length === 4 && isUint(v[1]) && v[1] > 0 && isStr(v[2]) && isStr(v[3]) ? (v as unknown as BindingFact) : undefined
    case 'e':
      return v.length === 5 &&
        isStr(v[1]) &&
        isUint(v[2]) &&
        isUint(v[3]) &&
        v[3] > v[2] &&
        Array.isArray(v[4]) &&
        v[4].length % 2 === 0 &&
        v[4].every(isUint) &&
        v[4].every((u: number) => u >= v[2] && u < v[3])
        ? (v as unknown as ExposureFact)
        : undefined
    case 'r':
      return v.length === 3 && isStr(v[1]) && isUint(v[2]) ? (v as unknown as ReservationFact) : undefined
    case 'f':
      return v.length === 7 && isStr(v[1]) && isStr(v[2]) && (v[3] === 0 || v[3] === 1) && isMs(v[4]) && isUint(v[5]) && isStr(v[6])
        ? (v as unknown as FlagFact)
        : undefined
    case 'x':
      return v.length === 3 && isStr(v[1]) && isStr(v[2]) ? (v as unknown as ExpungeFact) : undefined
    case 'c':
      return v.length === 3 && isUint(v[1]) && isStr(v[2]) ? (v as unknown as ClaimFact) : undefined
    case 'v':
      return v.length === 5 && isUint(v[1]) && isUint(v[2]) && v[2] > 0 && isUint(v[3]) && v[3] > 0 && isStr(v[4])
        ? (v as unknown as ConfigFact)
        : undefined
    default:
      return undefined
  }
}
