import type * as Y from 'yjs'
import { sha256 } from '@noble/hashes/sha2.js'
import { isBlobKey } from './blobKey.ts'
import type { BlobStore } from './BlobStore.ts'
import { compareStamp, Hlc, MAX_CLOCK_SKEW_MS, stampAfter } from './Hlc.ts'
import { MailboxState, type BindingRecord, type GuidRecord, type ViewChange } from './MailboxState.ts'
import { SnapshotView, type MailboxView } from './MailboxView.ts'
import { assert, MailweaveError } from './MailweaveError.ts'
import { toRanges } from './RangeSet.ts'
import { FACTS_VERSION, isDeliveryKey, isValidFlag, parseFact, type Fact, type ListHeaders, type MessageFact } from './facts.ts'
import { listHeaders } from './listHeaders.ts'
import { addedFacts, readFacts } from './readFacts.ts'
import { toHex } from './hex.ts'

/** Name of the Y.Array holding a mailbox's facts inside its document. */
const NO_FLAGS: readonly string[] = Object.freeze([])
export const MAILBOX_LOG = 'mailweave.log'
/** Name of the Y.Array of segment breaks (see `write`). */
export const SEGMENTS = 'mailweave.seg'
/** Local transactions per log segment. */
const SEGMENT_WRITES = 64

const MAX_UID = 0xffffffff
const MAX_STRIDE = 4096

/** Options of {@link openMailbox}. */
export interface OpenMailboxOptions {
  /** This replica's stable id (node id or edge replica id). */
  replica: string
  /** The residue class this node allocates from; omitted for an edge replica. */
  slot?: number
  /**
   * K: the number of slots, fixed per mailbox when it is created. Required for a node
   * (checked against the mailbox: `STRIDE_MISMATCH`) and to create a mailbox; an edge
   * replica never allocates and needs none.
   */
  stride?: number
  /** UIDVALIDITY to propose if this replica creates the mailbox (default: seconds now). */
  uidValidity?: number
  /** Write the mailbox configuration when the document has none (default: true for nodes). */
  create?: boolean
  /** Where bodies go; default an in-memory store. */
  blobs?: BlobStore
  /** Wall clock in ms (tests inject one). */
  now?: () => number
  /** Random bytes for guids (tests inject a seeded one). */
  randomBytes?: (n: number) => Uint8Array
}

/** Counters of what this replica did (not replicated). */
export interface MailboxStats {
  appends: number
  exposures: number
  /** Rebindings of messages nobody had seen at their old UID. */
  fixupsSilent: number
  /** Rebindings of messages some node had shown at their old UID (duplicate-on-seen). */
  fixupsDuplicate: number
  /** First bindings of messages appended by edge replicas (or while a slot conflicted). */
  edgeBinds: number
}

/** A message's metadata as stored in the document. */
export interface MessageInfo {
  guid: string
  origin: string
  hash: string
  size: number
  internalDate: Date
  appendedAt: number
  headers: ListHeaders
  flags: readonly string[]
  /** Out of the view for good: expunged, or superseded by another copy of its delivery. */
  expunged: boolean
  /** The delivery key it was appended with (mail from an MTA), or undefined. */
  delivery: string | undefined
  /** When another copy of the same delivery superseded it: that copy's guid (the one the view keeps). */
  duplicateOf: string | undefined
  /** Current view uid, or undefined when not in the view. */
  uid: number | undefined
  /** Every binding of the message, ascending: the UID history. */
  bindings: { uid: number; allocator: string; valid: boolean; seenBy: string[] }[]
}

/** A readable dump of the protocol state, for `inspect` and tests. */
export interface MailboxInspection {
  uidValidity: number
  stride: number
  ceiling: number
  claims: Record<number, string[]>
  watermarks: Record<string, number>
  reservations: Record<string, number>
  seen: Record<string, number[]>
  bindings: { uid: number; guid: string; allocator: string; valid: boolean; conflicted: boolean; state: BindingState }[]
  stranded: string[]
  /** Copies removed by the delivery rule, with the copy of the same delivery the view keeps. */
  superseded: { guid: string; by: string }[]
  malformedFacts: number
  /** Message facts for a guid that already had a different one (the lowest is kept). */
  duplicateMessageFacts: number
}

/**
 * What became of one binding, for people reading an inspection: `valid` (the message
 * shows at this uid), `expunged` (the message is gone: expunged, or moved to another
 * mailbox), `superseded` (a duplicate delivery the delivery rule removed), `renumbered`
 * (rule 4 moved the message to a higher uid), `stranded` (invalid, the message waits for
 * a new uid), `conflict` (two messages claim the uid: a slot misconfiguration).
 */
export type BindingState = 'valid' | 'expunged' | 'superseded' | 'renumbered' | 'stranded' | 'conflict'

/** Metadata-only append, for imports and replication of bodies stored elsewhere. */
export interface AppendOptions {
  flags?: string[]
  internalDate?: Date
  /**
   * The lowercase hex SHA-256 of the raw bytes, when the caller has computed it already (a
   * node hashes every body for its blob store): saves hashing the message twice. It is
   * checked for form only; a wrong value breaks content addressing, so pass only your own.
   */
  hash?: string
  /**
   * The delivery key (from `deliveryKey`) of a message a node received from an MTA. Copies
   * with one key appended within DELIVERY_WINDOW_MS of each other, on any nodes, become one
   * message in every replica: the first appended stays, the others leave the view as if
   * expunged, and their flags carry over. Never for a user's own APPEND or an import. Nodes
   * only: edge replicas may not write delivery keys.
   */
  delivery?: string
}

/**
 * One replica of one mailbox, over a caller-owned `Y.Doc`. Every method either applies
 * fully or throws a {@link MailweaveError} and leaves the document unchanged.
 */
export interface Mailbox {
  readonly replica: string
  readonly slot: number | undefined
  /** K: a node's configured stride; for an edge replica the mailbox's, 0 until its configuration is known. */
  readonly stride: number
  readonly doc: Y.Doc
  readonly stats: Readonly<MailboxStats>
  /** Appends a message; returns its guid. A node binds it at once (rule 1; the rules are docs/protocol.md's). */
  append(raw: Uint8Array, opts?: AppendOptions): string
  /** The view of rule 3, computed from the replicated state; writes nothing. */
  view(): MailboxView
  /**
   * Fixes stranded messages (rule 4), then records an exposure (rule 5) of every view
   * uid below `below` (default: all) and returns what the client may be told.
   */
  expose(opts?: { below?: number }): MailboxView
  /** Fixes stranded messages (rule 4); returns how many were rebound. */
  fixup(): number
  /** Publishes R[self] = ceiling and returns it (the connected fast path). */
  reserve(): number
  setFlags(guid: string, change: { add?: string[]; remove?: string[] }): void
  expunge(guids: string[]): void
  /** Metadata and UID history of a message, or undefined when unknown. */
  message(guid: string): MessageInfo | undefined
  /** Number of live messages waiting for a valid binding. */
  readonly strandedCount: number
  /** Calls `fn` after every change of the view; returns an unsubscribe function. */
  onChange(fn: (change: ViewChange) => void): () => void
  /** Resolves once every body appended so far is stored in the blob store. */
  whenBlobsStored(): Promise<void>
  inspect(): MailboxInspection
  /** Stops observing the document. */
  destroy(): void
}

const randomPool = new Uint8Array(4096)
let randomPos = randomPool.length
/** Cryptographic random bytes, drawn from a pool: one getRandomValues call costs ~20 µs. */
function defaultRandomBytes(n: number): Uint8Array {
  if (n > randomPool.length) return globalThis.crypto.getRandomValues(new Uint8Array(n))
  if (randomPos + n > randomPool.length) {
    globalThis.crypto.getRandomValues(randomPool)
    randomPos = 0
  }
  randomPos += n
  return randomPool.slice(randomPos - n, randomPos)
}

function bindingState(s: MailboxState, b: BindingRecord): BindingState {
  if (b.conflicted) return 'conflict'
  const r = s.records.get(b.guid)
  if (r?.expunged === true) return 'expunged'
  if (r !== undefined && s.superseded.has(r)) return 'superseded'
  if (b.valid) return 'valid'
  return r !== undefined && r.uids.some((u) => s.bindings.get(u)?.valid === true) ? 'renumbered' : 'stranded'
}

function invalid(message: string, details?: Record<string, unknown>): MailweaveError {
  return new MailweaveError('INVALID_OPTIONS', message, details)
}

function checkFlags(flags: readonly string[] | undefined): void {
  for (const f of flags ?? []) {
    if (!isValidFlag(f)) {
      throw new MailweaveError('INVALID_ARGUMENT', `invalid flag ${JSON.stringify(f)}: flags are IMAP atoms and \\Recent is not storable`)
    }
  }
}

class MailboxImpl implements Mailbox {
  readonly state = new MailboxState()
  readonly stats: MailboxStats = { appends: 0, exposures: 0, fixupsSilent: 0, fixupsDuplicate: 0, edgeBinds: 0 }
  private readonly log: Y.Array<unknown>
  private readonly segments: Y.Array<number>
  private writesInSegment = 0
  private readonly origin = Symbol('mailweave-local')
  private readonly hlc: Hlc
  private readonly randomBytes: (n: number) => Uint8Array
  private readonly listeners = new Set<(c: ViewChange) => void>()
  private readonly blobWrites = new Set<Promise<void>>()
  private blobError: unknown
  private readonly observer: (e: Y.YArrayEvent<unknown>, tr: Y.Transaction) => void

  constructor(
    readonly doc: Y.Doc,
    readonly replica: string,
    readonly slot: number | undefined,
    private readonly configuredStride: number | undefined,
    private readonly blobs: BlobStore | undefined,
    private readonly now: () => number,
    randomBytes: (n: number) => Uint8Array,
  ) {
    this.log = doc.getArray(MAILBOX_LOG)
    this.segments = doc.getArray(SEGMENTS)
    this.hlc = new Hlc(now)
    this.randomBytes = randomBytes
    this.ingest(readFacts(this.log))
    this.observer = (e, tr) => {
      if (tr.origin !== this.origin) this.ingest(addedFacts(e))
    }
    this.log.observe(this.observer)
  }

  private ingest(facts: readonly unknown[]): void {
    if (facts.length === 0) return
    this.state.stampLimit = Math.floor(this.now()) + MAX_CLOCK_SKEW_MS
    const change = this.state.ingest(facts)
    this.hlc.observe(this.state.maxStampMs, this.state.maxStampC)
    if (change.added.length + change.removed.length + change.flagsChanged.length > 0) for (const fn of this.listeners) fn(change)
  }

  /** Appends facts in one transaction and indexes them at once. */
  private write(facts: Fact[]): void {
    if (facts.length === 0) return
    // never write what our own reader (and every other replica's) would refuse
    for (const f of facts) assert(parseFact(f) !== undefined, `writing a malformed ${f[0]} fact`)
    this.doc.transact(() => {
      // Yjs merges consecutive pushes of one client into one item by concatenating their
      // content arrays, which makes each append O(log size). A tiny insert elsewhere every
      // SEGMENT_WRITES transactions breaks clock contiguity, capping items at one segment.
      if (++this.writesInSegment >= SEGMENT_WRITES) {
        this.writesInSegment = 0
        this.segments.push([0])
        // Y.Array#push walks from the highest search marker to the end; reading the last
        // element refreshes a marker there, so pushes stay O(segment), not O(log).
        if (this.log.length > 0) this.log.get(this.log.length - 1)
      }
      this.log.push(facts)
    }, this.origin)
    this.ingest(facts)
  }

  get stride(): number {
    return this.configuredStride ?? this.state.config?.[3] ?? 0
  }

  get strandedCount(): number {
    return this.state.stranded.size
  }

  private get uidValidity(): number {
    return this.state.config?.[2] ?? 0
  }

  /** Why this replica may not allocate now, or undefined when it may. */
  private allocationBlocker(): MailweaveError | undefined {
    if (this.slot === undefined)
      return new MailweaveError('EDGE_CANNOT_EXPOSE', `replica ${this.replica} is an edge replica: it never allocates or exposes UIDs`)
    const claimers = this.state.claims.get(this.slot)
    if (claimers !== undefined && claimers.size > 1) {
      return new MailweaveError(
        'SLOT_CONFLICT',
        `slot ${this.slot} is claimed by several node ids (${[...claimers].sort().join(', ')}): allocation refused until the configuration is fixed`,
        { slot: this.slot, claimers: [...claimers] },
      )
    }
    const cfg = this.state.config
    if (cfg !== undefined && cfg[3] !== this.stride)
      return new MailweaveError('STRIDE_MISMATCH', `mailbox stride is ${cfg[3]}, this node was configured with ${this.stride}`)
    return undefined
  }

  /** Rule 1: the smallest uid >= ceiling in this node's residue class. */
  private allocate(ceiling: number): number {
    const s = this.slot!
    const k = this.stride
    let uid = ceiling + ((s - (ceiling % k) + k) % k)
    if (uid < 1) uid += k
    if (uid > MAX_UID) throw new MailweaveError('UID_SPACE_EXHAUSTED', 'UID space exhausted: the mailbox needs a new UIDVALIDITY')
    return uid
  }

  append(raw: Uint8Array, opts: AppendOptions = {}): string {
    if (!(raw instanceof Uint8Array)) throw new MailweaveError('INVALID_ARGUMENT', 'append needs the raw message as a Uint8Array')
    checkFlags(opts.flags)
    const internalDate = opts.internalDate ?? new Date(this.now())
    if (!(internalDate instanceof Date) || Number.isNaN(internalDate.getTime()))
      throw new MailweaveError('INVALID_ARGUMENT', 'internalDate is not a valid Date')
    if (opts.hash !== undefined && !isBlobKey(opts.hash))
      throw new MailweaveError('INVALID_ARGUMENT', 'hash must be 64 lowercase hex digits (SHA-256)')
    if (opts.delivery !== undefined) {
      if (!isDeliveryKey(opts.delivery))
        throw new MailweaveError('INVALID_ARGUMENT', 'delivery must be a delivery key: 64 lowercase hex digits (see deliveryKey)')
      if (this.slot === undefined)
        throw new MailweaveError('INVALID_ARGUMENT', `replica ${this.replica} is an edge replica: only nodes receive deliveries`)
    }
    const guid = toHex(this.randomBytes(16))
    const hash = opts.hash ?? toHex(sha256(raw))
    const [ms, c] = this.hlc.tick()
    // most messages have no flags: one shared, frozen empty list instead of one array each
    const flags = opts.flags === undefined || opts.flags.length === 0 ? NO_FLAGS : [...new Set(opts.flags)].sort()
    const m: MessageFact =
      opts.delivery === undefined
        ? ['m', guid, this.replica, hash, raw.length, internalDate.getTime(), ms, c, flags, listHeaders(raw)]
        : ['m', guid, this.replica, hash, raw.length, internalDate.getTime(), ms, c, flags, listHeaders(raw), opts.delivery]
    this.write(this.allocationBlocker() === undefined ? [m, ['b', this.allocate(this.state.ceiling), guid, this.replica]] : [m])
    this.stats.appends++
    if (this.blobs !== undefined) {
      const p = this.blobs.put(hash, raw).catch((e: unknown) => {
        this.blobError = e
      })
      this.blobWrites.add(p)
      void p.finally(() => this.blobWrites.delete(p))
    }
    return guid
  }

  view(): MailboxView {
    return new SnapshotView(this.uidValidity, this.state.ceiling, this.state.view.snapshot())
  }

  fixup(): number {
    const blocker = this.allocationBlocker()
    if (blocker !== undefined) throw blocker
    if (this.state.stranded.size === 0) return 0
    const order = [...this.state.stranded].sort(fixupOrder)
    const facts: Fact[] = []
    let ceiling = this.state.ceiling
    for (const r of order) {
      const uid = this.allocate(ceiling)
      ceiling = uid + 1
      facts.push(['b', uid, r.guid, this.replica])
      if (r.uids.length === 0) this.stats.edgeBinds++
      else if (r.uids.some((u) => this.state.seenBy(u).length > 0)) this.stats.fixupsDuplicate++
      else this.stats.fixupsSilent++
    }
    this.write(facts)
    return order.length
  }

  reserve(): number {
    const blocker = this.allocationBlocker()
    if (blocker !== undefined) throw blocker
    const r = this.state.ceiling
    if (r > (this.state.R.get(this.replica) ?? 0)) this.write([['r', this.replica, r]])
    return r
  }

  expose(opts: { below?: number } = {}): MailboxView {
    this.fixup()
    const snap = this.state.view.snapshot()
    const w = this.state.W.get(this.replica) ?? 0
    const limit = opts.below === undefined ? Infinity : Math.max(opts.below, w)
    let end = snap.indexOfUid(limit === Infinity ? MAX_UID + 1 : limit)
    if (end < 0) end = ~end
    let start = snap.indexOfUid(w)
    if (start < 0) start = ~start
    const fresh: number[] = []
    for (let i = start; i < end; i++) fresh.push(snap.at(i)!.uid)
    const highest = end > 0 ? snap.at(end - 1)!.uid + 1 : 1
    const newW = Math.max(w, opts.below ?? highest, highest, 1)
    // every fresh uid is >= w and < newW; an exposure that raises nothing writes nothing
    if (newW > w) this.write([['e', this.replica, w, newW, toRanges(fresh)]])
    this.stats.exposures++
    return new SnapshotView(this.uidValidity, newW, snap, end)
  }

  setFlags(guid: string, change: { add?: string[]; remove?: string[] }): void {
    if (!this.state.knows(guid)) throw new MailweaveError('UNKNOWN_GUID', `no message ${guid} in this mailbox`, { guid })
    checkFlags(change.add)
    checkFlags(change.remove)
    const r = this.state.records.get(guid)!
    if (this.state.gone(r)) return // expunge wins: flag changes on an expunged (or superseded) message are moot
    const facts: Fact[] = []
    const want = new Map<string, boolean>()
    for (const f of change.remove ?? []) want.set(f, false)
    for (const f of change.add ?? []) want.set(f, true)
    for (const [flag, on] of want) {
      // Skip only a change this replica already holds; an explicit change of an unknown
      // register is written, so it can win over a concurrent older one (rule 6).
      const cell = this.state.flagCell(r, flag)
      if (cell?.on === on) continue
      let [ms, c] = this.hlc.tick()
      // A change made after seeing the register's value beats it, even a value stamped by a
      // clock far ahead that the HLC did not adopt (see MAX_CLOCK_SKEW_MS).
      if (cell !== undefined && compareStamp(ms, c, this.replica, cell.ms, cell.c, cell.replica) <= 0) [ms, c] = stampAfter(cell.ms, cell.c)
      facts.push(['f', guid, flag, on ? 1 : 0, ms, c, this.replica])
    }
    this.write(facts)
  }

  expunge(guids: string[]): void {
    for (const g of guids)
      if (!this.state.knows(g)) throw new MailweaveError('UNKNOWN_GUID', `no message ${g} in this mailbox`, { guid: g })
    const facts: Fact[] = []
    for (const g of new Set(guids)) if (!this.state.gone(this.state.records.get(g)!)) facts.push(['x', g, this.replica])
    this.write(facts)
  }

  message(guid: string): MessageInfo | undefined {
    if (!this.state.knows(guid)) return undefined
    const r = this.state.records.get(guid)!
    const m = r.meta
    const state = this.state
    return {
      guid,
      origin: m?.[2] ?? '',
      hash: m?.[3] ?? '',
      size: m?.[4] ?? 0,
      internalDate: new Date(m?.[5] ?? 0),
      appendedAt: m?.[6] ?? 0,
      headers: m?.[9] ?? {},
      flags: r.flags,
      expunged: state.gone(r),
      delivery: m?.[10],
      duplicateOf: state.superseded.has(r) ? state.deliveryGroup(r)![0]!.guid : undefined,
      uid: r.viewUid === 0 ? undefined : r.viewUid,
      // computed on access: listing flags and sizes (IMAP FETCH) never pays for it
      get bindings() {
        return r.uids.map((uid) => {
          const b = state.bindings.get(uid)!
          return { uid, allocator: b.allocator, valid: b.valid, seenBy: state.seenBy(uid) }
        })
      },
    }
  }

  onChange(fn: (change: ViewChange) => void): () => void {
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }

  async whenBlobsStored(): Promise<void> {
    while (this.blobWrites.size > 0) await Promise.all([...this.blobWrites])
    if (this.blobError !== undefined) {
      const e = this.blobError
      this.blobError = undefined
      throw e
    }
  }

  inspect(): MailboxInspection {
    const s = this.state
    const cfg = s.config
    return {
      uidValidity: cfg?.[2] ?? 0,
      stride: cfg?.[3] ?? this.stride,
      ceiling: s.ceiling,
      claims: Object.fromEntries([...s.claims].map(([slot, set]) => [slot, [...set].sort()])),
      watermarks: Object.fromEntries(s.W),
      reservations: Object.fromEntries(s.R),
      seen: Object.fromEntries([...s.seen].map(([n, rs]) => [n, rs.toRanges()])),
      bindings: [...s.bindings.values()]
        .sort((a, b) => a.uid - b.uid)
        .map((b) => ({
          uid: b.uid,
          guid: b.guid,
          allocator: b.allocator,
          valid: b.valid,
          conflicted: b.conflicted,
          state: bindingState(s, b),
        })),
      stranded: [...s.stranded].map((r) => r.guid).sort(),
      superseded: [...s.superseded]
        .map((r) => ({ guid: r.guid, by: s.deliveryGroup(r)![0]!.guid }))
        .sort((a, b) => (a.guid < b.guid ? -1 : 1)),
      malformedFacts: s.malformedFacts,
      duplicateMessageFacts: s.duplicateMessageFacts,
    }
  }

  destroy(): void {
    this.log.unobserve(this.observer)
    this.listeners.clear()
  }

  /** @internal used by openMailbox: writes the config and claim this replica needs. */
  init(create: boolean, uidValidity: number): void {
    const facts: Fact[] = []
    if (create && this.state.configs.length === 0) facts.push(['v', FACTS_VERSION, uidValidity, this.configuredStride!, this.replica])
    if (this.slot !== undefined && !this.state.claims.get(this.slot)?.has(this.replica)) facts.push(['c', this.slot, this.replica])
    this.write(facts)
  }
}

/** Rule 4's order: lowest earlier UID first, then messages with none by append time, then guid. */
function fixupOrder(a: GuidRecord, b: GuidRecord): number {
  const ua = a.uids[0]
  const ub = b.uids[0]
  if (ua !== undefined || ub !== undefined) {
    if (ua === undefined) return 1
    if (ub === undefined) return -1
    if (ua !== ub) return ua - ub
  }
  const ma = a.meta
  const mb = b.meta
  const d = (ma?.[6] ?? 0) - (mb?.[6] ?? 0) || (ma?.[7] ?? 0) - (mb?.[7] ?? 0)
  return d !== 0 ? d : a.guid < b.guid ? -1 : a.guid > b.guid ? 1 : 0
}

/**
 * Opens a mailbox replica over `doc`. With `slot` it is a node (allocates and exposes
 * UIDs); without, an edge replica (appends, flags, expunges only). Throws a
 * {@link MailweaveError} (and writes nothing) on bad options, a node's stride that differs from
 * the mailbox's, or a slot already claimed by another node id.
 */
export function openMailbox(doc: Y.Doc, options: OpenMailboxOptions): Mailbox {
  const { replica, slot, stride } = options
  const create = options.create ?? slot !== undefined
  if (typeof replica !== 'string' || replica.length === 0 || replica.length > 256)
    throw invalid('replica must be a non-empty string of at most 256 characters')
  if (stride === undefined && (slot !== undefined || create))
    throw invalid(slot !== undefined ? 'a node needs the stride (K) of its cluster' : 'creating a mailbox needs its stride (K)')
  if (stride !== undefined && (!Number.isInteger(stride) || stride < 1 || stride > MAX_STRIDE))
    throw invalid(`stride must be an integer in [1, ${MAX_STRIDE}], got ${String(stride)}`, { stride })
  if (slot !== undefined && (!Number.isInteger(slot) || slot < 0 || slot >= stride!))
    throw invalid(`slot must be an integer in [0, ${stride}), got ${String(slot)}`, { slot, stride })
  const uidValidity = options.uidValidity ?? Math.max(1, Math.floor((options.now ?? Date.now)() / 1000) >>> 0)
  if (!Number.isInteger(uidValidity) || uidValidity < 1 || uidValidity > MAX_UID)
    throw invalid('uidValidity must be a non-zero 32-bit unsigned integer', { uidValidity })
  const mb = new MailboxImpl(doc, replica, slot, stride, options.blobs, options.now ?? Date.now, options.randomBytes ?? defaultRandomBytes)
  const cfg = mb.state.config
  // an edge replica never allocates: the stride matters only to nodes
  if (slot !== undefined && cfg !== undefined && cfg[3] !== stride) {
    mb.destroy()
    throw new MailweaveError('STRIDE_MISMATCH', `mailbox was created with stride ${cfg[3]}, not ${stride}`, { stride: cfg[3] })
  }
  if (slot !== undefined) {
    const others = [...(mb.state.claims.get(slot) ?? [])].filter((r) => r !== replica)
    if (others.length > 0) {
      mb.destroy()
      throw new MailweaveError(
        'SLOT_CONFLICT',
        `slot ${slot} is already claimed by node ${others.join(', ')}; node ${replica} must use another slot`,
        { slot, claimers: others },
      )
    }
  }
  mb.init(create, uidValidity)
  return mb
}
