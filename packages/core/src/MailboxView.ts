import type { ViewEntry, ViewSnapshot } from './ViewSeq.ts'

/**
 * The mailbox as IMAP sees it at one moment: immutable. `messages` is ascending by uid;
 * sequence number n is `messages[n - 1]`. Large views are materialised lazily, so taking
 * a view costs O(changes), not O(messages).
 */
export interface MailboxView {
  readonly uidValidity: number
  readonly uidNext: number
  readonly messages: ReadonlyArray<ViewEntry>
  /** Number of messages (same as `messages.length`, without materialising). */
  readonly size: number
  /** The message with sequence number `seq` (1-based), or undefined. */
  atSeq(seq: number): ViewEntry | undefined
  /** Sequence number (1-based) of `uid`, or undefined when it is not in this view. */
  seqOfUid(uid: number): number | undefined
  /** The underlying snapshot (shares structure with other views of the same mailbox). */
  readonly snapshot: ViewSnapshot
}

/** A {@link MailboxView} over a snapshot, optionally cut to its first `limit` entries. */
export class SnapshotView implements MailboxView {
  private cached: ReadonlyArray<ViewEntry> | undefined
  readonly size: number

  constructor(
    readonly uidValidity: number,
    readonly uidNext: number,
    readonly snapshot: ViewSnapshot,
    limit: number = snapshot.size,
  ) {
    this.size = Math.min(limit, snapshot.size)
  }

  get messages(): ReadonlyArray<ViewEntry> {
    if (this.cached === undefined) {
      const all = this.snapshot.toArray()
      this.cached = this.size === all.length ? all : all.slice(0, this.size)
    }
    return this.cached
  }

  atSeq(seq: number): ViewEntry | undefined {
    return seq >= 1 && seq <= this.size ? this.snapshot.at(seq - 1) : undefined
  }

  seqOfUid(uid: number): number | undefined {
    const i = this.snapshot.indexOfUid(uid)
    return i >= 0 && i < this.size ? i + 1 : undefined
  }
}
