import type { MailboxView } from '@mailweave/core'
import type { SelectedMailbox } from './ImapSession.ts'
import { SequenceSet } from './wire/SequenceSet.ts'

/** A set listing `nums` in the given order, runs of consecutive numbers compressed (COPYUID needs the order kept). */
export function orderedSet(nums: readonly number[]): SequenceSet {
  const ranges: Array<{ start: number; end: number }> = []
  for (const n of nums) {
    const last = ranges[ranges.length - 1]
    if (last !== undefined && last.end + 1 === n) last.end = n
    else ranges.push({ start: n, end: n })
  }
  return SequenceSet.fromRanges(ranges)
}

/**
 * `uids` (of messages just appended) as an ordered set for APPENDUID / COPYUID when the durable
 * exposure `view` shows every one of them; undefined otherwise (then no code is sent).
 */
export function exposedSet(
  view: Pick<MailboxView, 'uidValidity' | 'seqOfUid'>,
  uids: ReadonlyArray<number | undefined>,
): SequenceSet | undefined {
  if (view.uidValidity === 0 || uids.some((u) => u === undefined || view.seqOfUid(u) === undefined)) return undefined
  return orderedSet(uids as number[])
}

/** Inclusive ranges as a sequence set (undefined when empty). */
export function rangeSet(ranges: ReadonlyArray<readonly [number, number]>): SequenceSet | undefined {
  return ranges.length === 0 ? undefined : SequenceSet.fromRanges(ranges.map(([start, end]) => ({ start, end })))
}

/** The part of sorted disjoint `ranges` inside `set` (with `*` = `max`). */
export function intersect(ranges: ReadonlyArray<readonly [number, number]>, set: SequenceSet, max: number): Array<[number, number]> {
  const other = set.resolve(max)
  const out: Array<[number, number]> = []
  let i = 0
  let j = 0
  while (i < ranges.length && j < other.length) {
    const [a1, a2] = ranges[i]!
    const [b1, b2] = other[j]!
    const lo = Math.max(a1, b1)
    const hi = Math.min(a2, b2)
    if (lo <= hi) out.push([lo, hi])
    if (a2 < b2) i++
    else j++
  }
  return out
}

/**
 * UIDs that vanished from `selected` since mod-sequence `since`, within `within` if given:
 * the node's record when it reaches back that far, otherwise every UID below the session's
 * UIDNEXT that it does not hold (RFC 7162 lets VANISHED (EARLIER) name UIDs the client never had).
 */
export function vanishedUids(selected: SelectedMailbox, since: bigint, within?: SequenceSet): SequenceSet | undefined {
  const { tracker, handle } = selected
  let ranges = handle.modseq.vanishedSince(since)
  if (ranges === undefined) {
    ranges = []
    let prev = 0
    for (let seq = 1; seq <= tracker.count; seq++) {
      const uid = tracker.at(seq)!.uid
      if (uid > prev + 1) ranges.push([prev + 1, uid - 1])
      prev = uid
    }
    if (tracker.uidNext - 1 > prev) ranges.push([prev + 1, tracker.uidNext - 1])
  } else {
    // Never a UID at or above the UIDNEXT this session was told.
    ranges = intersect(ranges, SequenceSet.fromRanges([{ start: 1, end: Math.max(1, tracker.uidNext - 1) }]), tracker.uidNext - 1)
  }
  if (within !== undefined) ranges = intersect(ranges, within, Math.max(1, tracker.uidNext - 1))
  return rangeSet(ranges)
}
