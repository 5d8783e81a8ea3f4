import { compareStamp } from './Hlc.ts'
import { RangeSet } from './RangeSet.ts'
import { ViewSeq, type ViewEntry } from './ViewSeq.ts'
import { DELIVERY_WINDOW_MS, parseFact, type ConfigFact, type ExposureFact, type MessageFact } from './facts.ts'

/** One per-flag register: the latest stamp wins. */
interface FlagCell {
  on: boolean
  ms: number
  c: number
  replica: string
}

/** Everything known about one guid. */
export interface GuidRecord {
  readonly guid: string
  meta: MessageFact | undefined
  /** Every uid ever bound to this guid, ascending. */
  uids: number[]
  expunged: boolean
  flagCells: Map<string, FlagCell> | undefined
  flags: readonly string[]
  /** The uid this guid shows at in the view, or 0 when it is not in the view. */
  viewUid: number
}

/** One binding and whether rule 2 (docs/protocol.md) currently holds for it. */
export interface BindingRecord {
  readonly uid: number
  readonly guid: string
  readonly allocator: string
  valid: boolean
  /** Two guids claim this uid (a slot misconfiguration): valid for neither. */
  conflicted: boolean
}

/** What one ingest changed in the view (uids), for trackers. */
export interface ViewChange {
  readonly added: readonly number[]
  readonly removed: readonly number[]
  readonly flagsChanged: readonly number[]
}

const NO_FLAGS: readonly string[] = Object.freeze([])
/** The uids of a record never bound (shared: replaced, never pushed onto). */
const NO_UIDS = Object.freeze([]) as unknown as number[]
const BULK_THRESHOLD = 512

/**
 * The incrementally maintained index of a mailbox's facts: bindings, watermarks (W),
 * seen sets, reservations (R), flags, expunges, claims, and the view of rule 3 (rules: docs/protocol.md).
 * Ingesting is idempotent and order-independent: the same set of facts gives the same
 * state whatever the order or repetition, which is what makes the log insert-only safe.
 */
export class MailboxState {
  readonly records = new Map<string, GuidRecord>()
  readonly bindings = new Map<number, BindingRecord>()
  /** Every bound uid, ascending. */
  private sortedUids: number[] = []
  /**
   * W[X]: the end of X's contiguous chain of exposure facts (each names the W it raised
   * from). Seen[X] below it is final, so a binding's validity only ever goes from valid
   * to invalid.
   */
  readonly W = new Map<string, number>()
  /** Exposure facts waiting for their predecessor, per node, keyed by their `from`. */
  private readonly pendingExposures = new Map<string, Map<number, ExposureFact>>()
  /** Exposure facts overlapping an integrated range (a sign of lost durability). */
  forkedExposures = 0
  readonly seen = new Map<string, RangeSet>()
  readonly R = new Map<string, number>()
  readonly claims = new Map<number, Set<string>>()
  readonly configs: ConfigFact[] = []
  readonly stranded = new Set<GuidRecord>()
  /** Messages with a delivery key, per key, ascending by {@link deliveryOrder}. */
  private readonly deliveries = new Map<string, GuidRecord[]>()
  /**
   * The delivery rule: messages gone from the view because another message with the same
   * delivery key was appended before them (by {@link deliveryOrder}) at most
   * DELIVERY_WINDOW_MS earlier. Expunged or not, that earlier copy counts, so the set only
   * grows as facts arrive: a superseded message never comes back (S4).
   */
  readonly superseded = new Set<GuidRecord>()
  readonly view = new ViewSeq()
  maxUid = 0
  maxW = 0
  maxR = 0
  malformedFacts = 0
  /** Message facts for a guid that already had a different one (the lowest is kept). */
  duplicateMessageFacts = 0
  conflictedUids = 0
  /** Highest clock stamp observed in message and flag facts (feeds the local HLC). */
  maxStampMs = 0
  maxStampC = 0
  /**
   * Stamps above this (ms) are not taken into maxStamp: a replica with a clock far ahead
   * must not drag the local clock along (the owner sets it to wall time + allowed skew).
   */
  stampLimit = Infinity

  /** The winning configuration: lowest (uidValidity, replica). */
  get config(): ConfigFact | undefined {
    let best: ConfigFact | undefined
    for (const c of this.configs) if (best === undefined || c[2] < best[2] || (c[2] === best[2] && c[4] < best[4])) best = c
    return best
  }

  /** `max(every known uid + 1, every W, every R)`, the floor of rule 1. */
  get ceiling(): number {
    return Math.max(this.maxUid + 1, this.maxW, this.maxR, 1)
  }

  /** Rule 2: for every node X, uid >= W[X] or uid in Seen[X]. */
  isValid(uid: number): boolean {
    for (const [node, w] of this.W) {
      if (uid < w && !this.seen.get(node)?.has(uid)) return false
    }
    return true
  }

  /** Nodes whose Seen contains uid. */
  seenBy(uid: number): string[] {
    const out: string[] = []
    for (const [node, s] of this.seen) if (s.has(uid)) out.push(node)
    return out
  }

  record(guid: string): GuidRecord {
    let r = this.records.get(guid)
    if (r === undefined) {
      r = { guid, meta: undefined, uids: NO_UIDS, expunged: false, flagCells: undefined, flags: NO_FLAGS, viewUid: 0 }
      this.records.set(guid, r)
    }
    return r
  }

  /** Whether the guid names a message (its metadata or a binding is known). */
  knows(guid: string): boolean {
    const r = this.records.get(guid)
    return r !== undefined && (r.meta !== undefined || r.uids.length > 0)
  }

  /** Whether the message is out of the view for good: expunged, or superseded by the delivery rule. */
  gone(r: GuidRecord): boolean {
    return r.expunged || (this.superseded.size > 0 && this.superseded.has(r))
  }

  /**
   * The copies of r's delivery that are one message with it (its delivery key, and a chain
   * of append clocks at most DELIVERY_WINDOW_MS apart), ascending: the first one is the copy
   * the view keeps. Undefined for a message without a delivery key.
   */
  deliveryGroup(r: GuidRecord): GuidRecord[] | undefined {
    const key = deliveryKeyOf(r)
    const list = key === undefined ? undefined : this.deliveries.get(key)
    if (list === undefined) return undefined
    let lo = list.indexOf(r)
    let hi = lo
    while (lo > 0 && withinWindow(list[lo - 1]!, list[lo]!)) lo--
    while (hi < list.length - 1 && withinWindow(list[hi]!, list[hi + 1]!)) hi++
    return list.slice(lo, hi + 1)
  }

  /**
   * The flag register rule 6 shows for `flag` of r: its own, or, for a message with a
   * delivery key, the latest among every copy of its delivery group (flags set on a copy
   * later superseded carry over to the copy that stays).
   */
  flagCell(r: GuidRecord, flag: string): Readonly<FlagCell> | undefined {
    const group = this.deliveryGroup(r)
    if (group === undefined) return r.flagCells?.get(flag)
    let best: FlagCell | undefined
    for (const m of group) {
      const cell = m.flagCells?.get(flag)
      if (cell !== undefined && (best === undefined || compareStamp(cell.ms, cell.c, cell.replica, best.ms, best.c, best.replica) > 0))
        best = cell
    }
    return best
  }

  /** Ingests raw facts (untrusted); returns what changed in the view. */
  ingest(raw: readonly unknown[]): ViewChange {
    // A big batch (a load, a catch-up) skips per-fact change tracking: every binding is
    // revalidated once and the view rebuilt by one sort.
    const bulk = raw.length > BULK_THRESHOLD
    const dirty = new Set<GuidRecord>()
    const flagDirty = new Set<GuidRecord>()
    const recheck: number[] = []
    const raised: [from: number, to: number][] = []
    const newUids: number[] = []
    // delivery keys whose group gained a copy or a flag change (only mail delivered by an MTA)
    let deliveryKeys: Set<string> | undefined

    for (const v of raw) {
      const f = parseFact(v)
      if (f === undefined) {
        this.malformedFacts++
        continue
      }
      switch (f[0]) {
        case 'm': {
          const r = this.record(f[1])
          const old = r.meta
          if (old !== undefined) {
            // A second, different message fact for a guid (a buggy or hostile writer: nodes
            // refuse it from edges). The lowest fact wins, so the body a UID shows does not
            // depend on which fact arrived, or sits in the array, first.
            const d = compareMessageFacts(f, old)
            if (d >= 0) {
              if (d > 0) {
                this.duplicateMessageFacts++
                // its flags still count, as flag changes at its stamp: the same in any order
                for (const flag of f[8]) if (this.setFlag(r, flag, true, f[6], f[7], f[2]) && !bulk) flagDirty.add(r)
              }
              break
            }
            this.duplicateMessageFacts++
            const oldKey = deliveryKeyOf(r)
            if (oldKey !== undefined) {
              const list = this.deliveries.get(oldKey)!
              list.splice(list.indexOf(r), 1)
              ;(deliveryKeys ??= new Set()).add(oldKey)
            }
          }
          r.meta = f
          this.stamp(f[6], f[7])
          for (const flag of f[8]) if (this.setFlag(r, flag, true, f[6], f[7], f[2]) && !bulk) flagDirty.add(r)
          if (!bulk) dirty.add(r)
          if (f.length > 10) {
            const key = f[10]!
            addDelivery(this.deliveries, key, r)
            ;(deliveryKeys ??= new Set()).add(key)
          }
          break
        }
        case 'b': {
          const [, uid, guid, allocator] = f
          const existing = this.bindings.get(uid)
          if (existing !== undefined) {
            if (existing.guid !== guid && !existing.conflicted) {
              existing.conflicted = true
              this.conflictedUids++
              if (!bulk) recheck.push(uid)
            }
            break
          }
          this.bindings.set(uid, { uid, guid, allocator, valid: false, conflicted: false })
          const r = this.record(guid)
          // a literal, not push: push onto [] reserves 17 slots, ~60 B wasted per message
          if (r.uids.length === 0) r.uids = [uid]
          else insertSorted(r.uids, uid)
          newUids.push(uid)
          if (uid > this.maxUid) this.maxUid = uid
          if (!bulk) {
            recheck.push(uid)
            dirty.add(r)
          }
          break
        }
        case 'e': {
          const [, node, from, to] = f
          if (to > this.maxW) this.maxW = to
          const w = this.W.get(node) ?? 0
          if (from > w) {
            // an exposure whose predecessor has not arrived (a restarted node's facts need
            // not be causally linked to its old ones): it waits, so validity never flips back
            let pending = this.pendingExposures.get(node)
            if (pending === undefined) this.pendingExposures.set(node, (pending = new Map()))
            pending.set(from, f)
            break
          }
          if (from < w) {
            if (to > w) this.forkedExposures++ // cannot happen when facts are durable before they travel
            break
          }
          let next: ExposureFact | undefined = f
          let end = w
          let s = this.seen.get(node)
          if (s === undefined) this.seen.set(node, (s = new RangeSet()))
          while (next !== undefined) {
            const ranges = next[4]
            for (let i = 0; i < ranges.length; i += 2) s.addRange(ranges[i]!, ranges[i + 1]!)
            end = next[3]
            const pending = this.pendingExposures.get(node)
            next = pending?.get(end)
            if (next !== undefined) pending!.delete(end)
          }
          this.W.set(node, end)
          if (!bulk) raised.push([w, end])
          break
        }
        case 'r': {
          if (f[2] > (this.R.get(f[1]) ?? 0)) this.R.set(f[1], f[2])
          if (f[2] > this.maxR) this.maxR = f[2]
          break
        }
        case 'f': {
          const r = this.record(f[1])
          this.stamp(f[4], f[5])
          if (this.setFlag(r, f[2], f[3] === 1, f[4], f[5], f[6]) && !bulk) flagDirty.add(r)
          const key = deliveryKeyOf(r)
          if (key !== undefined) (deliveryKeys ??= new Set()).add(key)
          break
        }
        case 'x': {
          const r = this.record(f[1])
          if (!r.expunged) {
            r.expunged = true
            if (!bulk) dirty.add(r)
          }
          break
        }
        case 'c': {
          let s = this.claims.get(f[1])
          if (s === undefined) this.claims.set(f[1], (s = new Set()))
          s.add(f[2])
          break
        }
        case 'v':
          if (!this.configs.some((c) => c[2] === f[2] && c[3] === f[3] && c[4] === f[4])) this.configs.push(f)
          break
      }
    }

    if (deliveryKeys !== undefined) this.settleDeliveries(deliveryKeys, bulk ? undefined : dirty, bulk ? undefined : flagDirty)
    if (bulk) return this.recomputeAll(newUids)
    for (const u of newUids) insertSorted(this.sortedUids, u)
    for (const uid of recheck) this.revalidate(this.bindings.get(uid)!, dirty)
    for (const [from, to] of raised) this.revalidateRange(from, to, dirty)
    for (const r of flagDirty) this.refreshFlags(r)
    return this.updateView(dirty, flagDirty)
  }

  /** After a bulk ingest: revalidates every binding, recomputes every record, rebuilds the view. */
  private recomputeAll(newUids: number[]): ViewChange {
    for (const u of newUids) this.sortedUids.push(u)
    this.sortedUids.sort((a, b) => a - b)
    for (const b of this.bindings.values()) b.valid = !b.conflicted && this.isValid(b.uid)
    const added: number[] = []
    const removed: number[] = []
    const flagsChanged: number[] = []
    const entries: ViewEntry[] = []
    for (const r of this.records.values()) {
      const oldFlags = r.flags
      if (r.flagCells !== undefined || deliveryKeyOf(r) !== undefined) this.refreshFlags(r)
      const uid = this.viewUidOf(r)
      this.markStranded(r, uid)
      if (uid !== r.viewUid) {
        if (r.viewUid !== 0) removed.push(r.viewUid)
        if (uid !== 0) added.push(uid)
        r.viewUid = uid
      } else if (uid !== 0 && !sameFlags(oldFlags, r.flags)) flagsChanged.push(uid)
      if (uid !== 0) entries.push({ uid, guid: r.guid, flags: r.flags })
    }
    entries.sort((a, b) => a.uid - b.uid)
    this.view.build(entries)
    return { added, removed, flagsChanged }
  }

  private stamp(ms: number, c: number): void {
    if (ms > this.stampLimit) return
    if (ms > this.maxStampMs || (ms === this.maxStampMs && c > this.maxStampC)) {
      this.maxStampMs = ms
      this.maxStampC = c
    }
  }

  private setFlag(r: GuidRecord, flag: string, on: boolean, ms: number, c: number, replica: string): boolean {
    if (r.flagCells === undefined) r.flagCells = new Map()
    const cell = r.flagCells.get(flag)
    if (cell !== undefined && compareStamp(ms, c, replica, cell.ms, cell.c, cell.replica) <= 0) return false
    r.flagCells.set(flag, { on, ms, c, replica })
    return cell === undefined ? on : cell.on !== on
  }

  private refreshFlags(r: GuidRecord): void {
    const on: string[] = []
    const group = this.deliveryGroup(r)
    if (group === undefined) {
      for (const [flag, cell] of r.flagCells ?? []) if (cell.on) on.push(flag)
    } else {
      const names = new Set<string>()
      for (const m of group) for (const flag of m.flagCells?.keys() ?? []) names.add(flag)
      for (const flag of names) if (this.flagCell(r, flag)!.on) on.push(flag)
    }
    on.sort()
    r.flags = on.length === 0 ? NO_FLAGS : on
  }

  /**
   * The delivery rule for the groups of `keys`: every copy with an earlier copy (in
   * {@link deliveryOrder}) at most DELIVERY_WINDOW_MS before it is superseded, and every
   * copy shows its group's flags. Outside a bulk ingest, records whose view changes go into
   * `dirty` and `flagDirty`.
   */
  private settleDeliveries(keys: Set<string>, dirty: Set<GuidRecord> | undefined, flagDirty: Set<GuidRecord> | undefined): void {
    for (const key of keys) {
      const list = this.deliveries.get(key)!
      for (let i = 1; i < list.length; i++) {
        const r = list[i]!
        if (!this.superseded.has(r) && withinWindow(list[i - 1]!, r)) {
          this.superseded.add(r)
          dirty?.add(r)
        }
      }
      if (flagDirty === undefined) continue
      for (const r of list) {
        const before = r.flags
        this.refreshFlags(r)
        if (!sameFlags(before, r.flags)) flagDirty.add(r)
      }
    }
  }

  private revalidate(b: BindingRecord, dirty: Set<GuidRecord>): void {
    const valid = !b.conflicted && this.isValid(b.uid)
    if (valid !== b.valid) {
      b.valid = valid
      dirty.add(this.records.get(b.guid)!)
    }
  }

  /** Rechecks every binding with from <= uid < to. */
  private revalidateRange(from: number, to: number, dirty: Set<GuidRecord>): void {
    const u = this.sortedUids
    for (let i = lowerBound(u, from); i < u.length && u[i]! < to; i++) this.revalidate(this.bindings.get(u[i]!)!, dirty)
  }

  /** Rule 4: a live, known message (view uid `uid`) with no valid binding is stranded. */
  private markStranded(r: GuidRecord, uid: number): void {
    if (!this.gone(r) && uid === 0 && (r.meta !== undefined || r.uids.length > 0)) this.stranded.add(r)
    else this.stranded.delete(r)
  }

  /** Lowest valid binding of a live record, or 0. */
  private viewUidOf(r: GuidRecord): number {
    if (this.gone(r)) return 0
    for (const uid of r.uids) if (this.bindings.get(uid)!.valid) return uid
    return 0
  }

  private updateView(dirty: Set<GuidRecord>, flagDirty: Set<GuidRecord>): ViewChange {
    const added: number[] = []
    const removed: number[] = []
    const flagsChanged: number[] = []
    for (const r of dirty) {
      const uid = this.viewUidOf(r)
      this.markStranded(r, uid)
      if (uid === r.viewUid) continue
      if (r.viewUid !== 0) {
        removed.push(r.viewUid)
        this.view.remove(r.viewUid)
      }
      r.viewUid = uid
      if (uid !== 0) {
        added.push(uid)
        this.view.upsert({ uid, guid: r.guid, flags: r.flags })
      }
    }
    for (const r of flagDirty) {
      if (r.viewUid === 0) continue
      flagsChanged.push(r.viewUid)
      this.view.upsert({ uid: r.viewUid, guid: r.guid, flags: r.flags })
    }
    return { added, removed, flagsChanged }
  }
}

/** The delivery key of a message, or undefined (not delivered by an MTA, or metadata not known yet). */
/** Total order of message facts, field by field (arrays and headers by their JSON). */
function compareMessageFacts(a: MessageFact, b: MessageFact): number {
  for (let i = 1; i < Math.max(a.length, b.length); i++) {
    const x = a[i as 1]
    const y = b[i as 1]
    if (x === y) continue
    if (x === undefined) return -1
    if (y === undefined) return 1
    if (typeof x === 'number' && typeof y === 'number') return x - y
    const sx = typeof x === 'string' ? x : JSON.stringify(x)
    const sy = typeof y === 'string' ? y : JSON.stringify(y)
    if (sx !== sy) return sx < sy ? -1 : 1
  }
  return 0
}

function deliveryKeyOf(r: GuidRecord): string | undefined {
  const m = r.meta
  return m !== undefined && m.length > 10 ? m[10] : undefined
}

/** The delivery rule's order of copies: append clock (ms, counter), then guid. */
function deliveryOrder(a: GuidRecord, b: GuidRecord): number {
  const ma = a.meta!
  const mb = b.meta!
  return ma[6] - mb[6] || ma[7] - mb[7] || (a.guid < b.guid ? -1 : a.guid > b.guid ? 1 : 0)
}

/** Whether copy b (later in delivery order than a) was appended at most DELIVERY_WINDOW_MS after a. */
function withinWindow(a: GuidRecord, b: GuidRecord): boolean {
  return b.meta![6] - a.meta![6] <= DELIVERY_WINDOW_MS
}

/** Inserts r into its key's list, keeping delivery order (lists hold a handful of copies). */
function addDelivery(deliveries: Map<string, GuidRecord[]>, key: string, r: GuidRecord): void {
  const list = deliveries.get(key)
  if (list === undefined) {
    deliveries.set(key, [r])
    return
  }
  let i = list.length
  while (i > 0 && deliveryOrder(list[i - 1]!, r) > 0) i--
  list.splice(i, 0, r)
}

function sameFlags(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((f, i) => f === b[i])
}

function lowerBound(a: readonly number[], v: number): number {
  let lo = 0
  let hi = a.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (a[mid]! < v) lo = mid + 1
    else hi = mid
  }
  return lo
}

function insertSorted(a: number[], v: number): void {
  if (a.length === 0 || a[a.length - 1]! < v) {
    a.push(v)
    return
  }
  const i = lowerBound(a, v)
  if (a[i] !== v) a.splice(i, 0, v)
}
