/** One `a:b` (or single `a`) element of a sequence set; `'*'` stands for the largest number in use. */
export interface SequenceRange {
  readonly start: number | '*'
  readonly end: number | '*'
}

const MAX_NUMBER = 0xffff_ffff
const NZ_NUMBER = /^[1-9][0-9]{0,9}$/

/**
 * An IMAP sequence set (RFC 9051 `sequence-set`) for message sequence numbers or UIDs.
 * Immutable; `*` is kept symbolic until a caller supplies the current maximum, and every
 * query clamps to `1..max` so a client-sent `1:4294967295` never expands beyond what exists.
 */
export class SequenceSet {
  /** The ranges exactly as written (order and overlaps preserved). */
  readonly ranges: readonly SequenceRange[]

  private constructor(ranges: readonly SequenceRange[]) {
    this.ranges = ranges
  }

  /** Parses `sequence-set` text such as `1:4,7,9:*`; `undefined` when the syntax is invalid. */
  static parse(text: string): SequenceSet | undefined {
    if (text.length === 0) return undefined
    const ranges: SequenceRange[] = []
    for (const element of text.split(',')) {
      const bounds = element.split(':')
      if (bounds.length > 2) return undefined
      const start = parseSeqNumber(bounds[0] ?? '')
      const end = bounds.length === 2 ? parseSeqNumber(bounds[1] ?? '') : start
      if (start === undefined || end === undefined) return undefined
      ranges.push({ start, end })
    }
    return new SequenceSet(ranges)
  }

  /** A compact set covering exactly `numbers` (each a positive 32-bit integer), e.g. `1:3,5`. */
  static fromNumbers(numbers: Iterable<number>): SequenceSet {
    const sorted = [...new Set(numbers)].sort((a, b) => a - b)
    const ranges: SequenceRange[] = []
    for (const n of sorted) {
      if (!Number.isInteger(n) || n < 1 || n > MAX_NUMBER) throw new RangeError(`not a sequence number: ${n}`)
      const last = ranges[ranges.length - 1]
      if (last !== undefined && last.end === n - 1) ranges[ranges.length - 1] = { start: last.start, end: n }
      else ranges.push({ start: n, end: n })
    }
    return new SequenceSet(ranges)
  }

  /** A set made of the given ranges (numbers must be positive 32-bit integers). */
  static fromRanges(ranges: readonly SequenceRange[]): SequenceSet {
    for (const r of ranges) {
      for (const b of [r.start, r.end]) {
        if (b !== '*' && (!Number.isInteger(b) || b < 1 || b > MAX_NUMBER)) throw new RangeError(`not a sequence number: ${b}`)
      }
    }
    return new SequenceSet([...ranges])
  }

  /** Whether the set mentions `*` (its meaning then depends on the mailbox state). */
  get hasStar(): boolean {
    return this.ranges.some((r) => r.start === '*' || r.end === '*')
  }

  /**
   * The set as sorted, merged, inclusive `[low, high]` intervals with `*` replaced by `max`
   * and everything clamped to `1..max` (so `5:*` with max 3 yields `[[3, 3]]`, as RFC 9051 requires).
   */
  resolve(max: number): Array<[number, number]> {
    const raw: Array<[number, number]> = []
    for (const r of this.ranges) {
      const a = r.start === '*' ? max : r.start
      const b = r.end === '*' ? max : r.end
      const lo = Math.max(1, Math.min(a, b))
      const hi = Math.min(max, Math.max(a, b))
      if (lo <= hi) raw.push([lo, hi])
    }
    raw.sort((x, y) => x[0] - y[0])
    const merged: Array<[number, number]> = []
    for (const [lo, hi] of raw) {
      const last = merged[merged.length - 1]
      if (last !== undefined && lo <= last[1] + 1) last[1] = Math.max(last[1], hi)
      else merged.push([lo, hi])
    }
    return merged
  }

  /** Whether `n` is in the set, with `*` meaning `max` and only `1..max` counting as members. */
  contains(n: number, max: number): boolean {
    if (n < 1 || n > max) return false
    for (const r of this.ranges) {
      const a = r.start === '*' ? max : r.start
      const b = r.end === '*' ? max : r.end
      if (n >= Math.min(a, b) && n <= Math.max(a, b)) return true
    }
    return false
  }

  /** Every member in ascending order, without duplicates, within `1..max` (at most `max` numbers). */
  expand(max: number): number[] {
    const out: number[] = []
    for (const [lo, hi] of this.resolve(max)) for (let n = lo; n <= hi; n++) out.push(n)
    return out
  }

  /** The `sequence-set` wire form, e.g. `1:3,5,7:*`. */
  toString(): string {
    return this.ranges.map((r) => (r.start === r.end ? String(r.start) : `${r.start}:${r.end}`)).join(',')
  }
}

function parseSeqNumber(text: string): number | '*' | undefined {
  if (text === '*') return '*'
  if (!NZ_NUMBER.test(text)) return undefined
  const n = Number(text)
  return n <= MAX_NUMBER ? n : undefined
}
