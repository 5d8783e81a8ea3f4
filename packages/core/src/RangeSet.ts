/**
 * A grow-only set of non-negative integers stored as sorted disjoint inclusive ranges.
 * `add` is O(1) amortised for values at or past the top (the common case: new UIDs)
 * and O(ranges) otherwise; `has` is O(log ranges).
 */
export class RangeSet {
  /** Flattened [start0, end0, start1, end1, ...], inclusive, sorted, non-adjacent. */
  private r: number[] = []

  get rangeCount(): number {
    return this.r.length / 2
  }

  /** Number of integers in the set. */
  get size(): number {
    let n = 0
    for (let i = 0; i < this.r.length; i += 2) n += this.r[i + 1]! - this.r[i]! + 1
    return n
  }

  has(v: number): boolean {
    const r = this.r
    let lo = 0
    let hi = r.length / 2 - 1
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      if (v < r[2 * mid]!) hi = mid - 1
      else if (v > r[2 * mid + 1]!) lo = mid + 1
      else return true
    }
    return false
  }

  /** Adds `v`; returns whether it was new. */
  add(v: number): boolean {
    return this.addRange(v, v)
  }

  /** Adds every integer of [from, to]; returns whether anything was new. */
  addRange(from: number, to: number): boolean {
    const r = this.r
    const n = r.length
    if (n === 0 || from > r[n - 1]! + 1) {
      r.push(from, to)
      return true
    }
    if (from >= r[n - 2]! && from <= r[n - 1]! + 1) {
      if (to <= r[n - 1]!) return false
      r[n - 1] = to
      return true
    }
    // general case: find first range whose end >= from - 1
    let i = 0
    while (i < n && r[i + 1]! < from - 1) i += 2
    let j = i
    let s = from
    let e = to
    while (j < n && r[j]! <= to + 1) {
      s = Math.min(s, r[j]!)
      e = Math.max(e, r[j + 1]!)
      j += 2
    }
    if (j - i === 2 && s === r[i] && e === r[i + 1]) return false
    r.splice(i, j - i, s, e)
    return true
  }

  /** The flattened ranges (a copy). */
  toRanges(): number[] {
    return this.r.slice()
  }

  /** Every value, ascending (for small sets and tests). */
  *values(): IterableIterator<number> {
    for (let i = 0; i < this.r.length; i += 2) for (let v = this.r[i]!; v <= this.r[i + 1]!; v++) yield v
  }
}

/** Compresses ascending integers into flattened inclusive ranges [s0, e0, s1, e1, ...]. */
export function toRanges(sortedValues: readonly number[]): number[] {
  const out: number[] = []
  for (const v of sortedValues) {
    const n = out.length
    if (n > 0 && out[n - 1] === v - 1) out[n - 1] = v
    else if (n === 0 || out[n - 1]! < v) out.push(v, v)
  }
  return out.slice() // exact capacity: these arrays are stored in the document
}
