import type { MailboxView, ViewChange, ViewEntry } from '@mailweave/core'
import type { ImapMailbox } from './ImapBackend.ts'
import type { SequenceSet } from './wire/SequenceSet.ts'
import { isWireFlag } from './wireFlags.ts'

/** The system flags every mailbox offers (`\Recent` is never stored, see README). */
export const SYSTEM_FLAGS: readonly string[] = ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft']

/** Something a selected session must tell its client, in order. */
export type TrackerEvent =
  | { readonly kind: 'expunge'; readonly seq: number; readonly uid: number }
  | { readonly kind: 'exists'; readonly count: number }
  /** New keywords appeared: the full `* FLAGS` list to send before the FETCHes that use them. */
  | { readonly kind: 'flags'; readonly flags: readonly string[] }
  | { readonly kind: 'fetch'; readonly seq: number; readonly uid: number; readonly flags: readonly string[] }

/**
 * One session's picture of its selected mailbox: the messages the client was told about, in
 * sequence order, with the flags it was told, and the UIDNEXT it was told. It follows the
 * mailbox through `Mailbox.onChange` and turns replicated changes into IMAP notifications
 * when the session asks ({@link sync}) — never on its own, so EXPUNGE only goes out when
 * RFC 3501 7.4.1 allows.
 *
 * Guarantees: UIDs and UIDNEXT only ever come from `ImapMailbox.expose()` views; a message
 * shows up only at a UID at or above the UIDNEXT the client was told, so a UID the client did
 * not see below its UIDNEXT (S3) or one it saw expunged (S4) is never shown; sequence numbers
 * change only through EXPUNGE and EXISTS sent to the client.
 */
export class MailboxTracker {
  /** Sequence order: entries[seq - 1]; flags as last told to the client. */
  #entries: ViewEntry[]
  /** UIDs removed from the mailbox whose EXPUNGE the client has not been sent yet. */
  readonly #gone = new Set<number>()
  readonly #removed = new Set<number>()
  readonly #flagged = new Set<number>()
  #grown = false
  #uidNext: number
  /** UIDVALIDITY of the first exposure (it never changes for a mailbox). */
  readonly uidValidity: number
  readonly #keywords: Set<string>
  readonly #unsubscribe: () => void
  /** Called (synchronously, after the fact) whenever the mailbox changed; for IDLE wake-ups. */
  onActivity: (() => void) | undefined

  private constructor(
    readonly handle: ImapMailbox,
    view: MailboxView,
    subscribe: (t: MailboxTracker) => () => void,
  ) {
    this.#entries = [...view.messages]
    this.#uidNext = view.uidNext
    this.uidValidity = view.uidValidity
    this.#keywords = new Set()
    for (const e of this.#entries) for (const f of e.flags) if (!f.startsWith('\\') && isWireFlag(f)) this.#keywords.add(f)
    this.#unsubscribe = subscribe(this)
  }

  /** Subscribes to changes, then takes the first exposure (so no change can slip between the two). */
  static async open(handle: ImapMailbox): Promise<MailboxTracker> {
    // Changes that arrive while the first exposure is in flight are replayed once the tracker exists.
    const box: { tracker?: MailboxTracker; pending: ViewChange[] } = { pending: [] }
    const unsubscribe = handle.onChange((c) => {
      try {
        if (box.tracker === undefined) box.pending.push(c)
        else box.tracker.note(c.added.length > 0, c.removed, c.flagsChanged)
      } catch {
        // A listener must never throw into the engine's ingest path.
      }
    })
    let view: MailboxView
    try {
      view = await handle.expose()
    } catch (e) {
      unsubscribe()
      throw e
    }
    const tracker = new MailboxTracker(handle, view, () => unsubscribe)
    box.tracker = tracker
    for (const c of box.pending) tracker.note(c.added.length > 0, c.removed, c.flagsChanged)
    return tracker
  }

  /** Records a change; cheap, synchronous, never throws. */
  private note(grown: boolean, removed: readonly number[], flagsChanged: readonly number[]): void {
    if (grown) this.#grown = true
    for (const u of removed) this.#removed.add(u)
    for (const u of flagsChanged) this.#flagged.add(u)
    this.onActivity?.()
  }

  /** The UIDNEXT the client was last told (or would be told now: never below that). */
  get uidNext(): number {
    return this.#uidNext
  }

  /** Number of messages the client knows (EXISTS), expunged-but-unannounced ones included. */
  get count(): number {
    return this.#entries.length
  }

  /** Keywords (non-system flags) announced in `* FLAGS`. */
  get keywords(): readonly string[] {
    return [...this.#keywords]
  }

  /** The full FLAGS list: system flags then keywords. */
  get flagList(): readonly string[] {
    return [...SYSTEM_FLAGS, ...this.#keywords]
  }

  /** Highest UID the client knows, or 0. */
  get maxUid(): number {
    return this.#entries[this.#entries.length - 1]?.uid ?? 0
  }

  /** Whether there is anything to tell the client (cheap). */
  get dirty(): boolean {
    return this.#grown || this.#removed.size > 0 || this.#flagged.size > 0 || this.#gone.size > 0
  }

  /** The message at `seq` as the client knows it. */
  at(seq: number): ViewEntry | undefined {
    return this.#entries[seq - 1]
  }

  /** The sequence number of `uid`, or undefined. */
  seqOf(uid: number): number | undefined {
    const i = this.#lowerBound(uid)
    return this.#entries[i]?.uid === uid ? i + 1 : undefined
  }

  /** Whether `uid` was expunged and the client has not been told yet. */
  isGone(uid: number): boolean {
    return this.#gone.has(uid)
  }

  /**
   * Sequence numbers named by `set` (message numbers, or UIDs when `uid`), ascending.
   * For message numbers, `tooHigh` is set when a range without `*` names a number above the
   * count (RFC 9051: BAD); UIDs that do not exist are simply skipped.
   */
  resolve(set: SequenceSet, uid: boolean): { seqs: number[]; tooHigh: boolean } {
    const seqs: number[] = []
    if (!uid) {
      const n = this.#entries.length
      let tooHigh = false
      // `5:*` means "5 to the last" and is clamped; only a range of plain numbers can be out of range.
      for (const r of set.ranges) if (r.start !== '*' && r.end !== '*' && (r.start > n || r.end > n)) tooHigh = true
      for (const [lo, hi] of set.resolve(n)) for (let s = lo; s <= hi; s++) seqs.push(s)
      return { seqs, tooHigh }
    }
    const max = this.maxUid
    for (const [lo, hi] of set.resolve(max)) {
      let i = this.#lowerBound(lo)
      while (i < this.#entries.length && this.#entries[i]!.uid <= hi) seqs.push(++i)
    }
    return { seqs, tooHigh: false }
  }

  #lowerBound(uid: number): number {
    let lo = 0
    let hi = this.#entries.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (this.#entries[mid]!.uid < uid) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  /**
   * The session told the client `flags` for `uid` (FETCH FLAGS, STORE): remember it, so
   * no unsolicited FETCH repeats it. Returns the new `* FLAGS` list if a keyword is new.
   */
  told(uid: number, flags: readonly string[]): readonly string[] | undefined {
    const seq = this.seqOf(uid)
    if (seq === undefined) return undefined
    const e = this.#entries[seq - 1]!
    if (!sameFlags(e.flags, flags)) this.#entries[seq - 1] = { uid: e.uid, guid: e.guid, flags }
    return this.#learn(flags)
  }

  #learn(flags: readonly string[]): readonly string[] | undefined {
    let grew = false
    for (const f of flags) {
      if (!f.startsWith('\\') && !this.#keywords.has(f) && isWireFlag(f)) {
        this.#keywords.add(f)
        grew = true
      }
    }
    return grew ? this.flagList : undefined
  }

  /**
   * Brings the client up to date: EXPUNGEs (only when `allowExpunge`; otherwise removed
   * messages stay in the sequence until a later call), then EXISTS for new messages (after
   * a fresh exposure), then FETCH FLAGS for flag changes. The events must be sent in order.
   */
  async sync(allowExpunge: boolean): Promise<TrackerEvent[]> {
    const events: TrackerEvent[] = []
    let added: ViewEntry[] = []
    if (this.#grown) {
      this.#grown = false
      let view: MailboxView
      try {
        view = await this.handle.expose()
      } catch (e) {
        this.#grown = true // try again at the next opportunity
        throw e
      }
      const snap = view.snapshot
      let i = snap.indexOfUid(this.#uidNext)
      if (i < 0) i = ~i
      for (; i < view.size; i++) added.push(snap.at(i)!)
      if (view.uidNext > this.#uidNext) this.#uidNext = view.uidNext
      // Entries at or above the old UIDNEXT can only be new unless an earlier sync already took them.
      const max = this.maxUid
      added = added.filter((e) => e.uid > max)
    }
    if (this.#removed.size > 0) {
      const now = this.handle.view().snapshot
      for (const uid of this.#removed) {
        const seq = this.seqOf(uid)
        if (seq === undefined) continue
        if (now.getUid(uid)?.guid !== this.#entries[seq - 1]!.guid) this.#gone.add(uid)
      }
      this.#removed.clear()
    }
    if (allowExpunge && this.#gone.size > 0) {
      // Highest first, so each number is still right when the client applies it.
      const seqs = [...this.#gone].map((u) => this.seqOf(u)!).sort((a, b) => b - a)
      for (const seq of seqs) events.push({ kind: 'expunge', seq, uid: this.#entries[seq - 1]!.uid })
      this.#entries = this.#entries.filter((e) => !this.#gone.has(e.uid))
      this.#gone.clear()
    }
    if (added.length > 0) {
      for (const e of added) this.#entries.push(e)
      const flags = this.#learn(added.flatMap((e) => e.flags))
      if (flags !== undefined) events.push({ kind: 'flags', flags })
      events.push({ kind: 'exists', count: this.#entries.length })
    }
    if (this.#flagged.size > 0) {
      const now = this.handle.view().snapshot
      const changed: number[] = []
      for (const uid of this.#flagged) {
        const seq = this.seqOf(uid)
        if (seq === undefined || this.#gone.has(uid)) continue
        const cur = now.getUid(uid)
        const known = this.#entries[seq - 1]!
        if (cur === undefined || cur.guid !== known.guid || sameFlags(cur.flags, known.flags)) continue
        this.#entries[seq - 1] = cur
        changed.push(seq)
      }
      this.#flagged.clear()
      changed.sort((a, b) => a - b)
      const flags = this.#learn(changed.flatMap((s) => this.#entries[s - 1]!.flags))
      if (flags !== undefined) events.push({ kind: 'flags', flags })
      for (const seq of changed) {
        const e = this.#entries[seq - 1]!
        events.push({ kind: 'fetch', seq, uid: e.uid, flags: e.flags })
      }
    }
    return events
  }

  /** Stops following the mailbox. */
  dispose(): void {
    this.#unsubscribe()
    this.onActivity = undefined
  }
}

/** Whether two flag lists hold the same flags, in any order. */
export function sameFlags(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a.every((f) => b.includes(f))
  return true
}
