import { MAX_COUNTER } from './facts.ts'

/**
 * How far ahead of local wall time a remote stamp may be and still move this clock. A
 * replica with a wrong clock (a browser in year 2100) must not drag every node's clock
 * with it: beyond this its stamps are still ordered (and win their registers) but are not
 * adopted as "now".
 */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000

/**
 * A hybrid logical clock: never goes backwards, stays close to wall time, and moves past
 * every clock value it has observed within {@link MAX_CLOCK_SKEW_MS} of wall time, so a
 * later change (in causal order) wins. Every stamp it gives is one `parseFact` accepts:
 * the counter never passes {@link MAX_COUNTER} (the physical part moves on instead).
 */
export class Hlc {
  ms = 0
  c = 0
  /** Remote stamps not adopted because they were too far ahead or out of range. */
  ignored = 0
  constructor(private readonly now: () => number) {}

  /** The next timestamp for a local event. */
  tick(): [ms: number, c: number] {
    const wall = Math.floor(this.now())
    if (wall > this.ms) {
      this.ms = wall
      this.c = 0
    } else if (this.c >= MAX_COUNTER) {
      this.ms++
      this.c = 0
    } else this.c++
    return [this.ms, this.c]
  }

  /** Moves past a remote timestamp, unless it is too far ahead of wall time or out of range. */
  observe(ms: number, c: number): void {
    if (!(ms > this.ms || (ms === this.ms && c > this.c))) return
    if (!Number.isSafeInteger(ms) || !Number.isInteger(c) || c < 0 || c > MAX_COUNTER || ms > Math.floor(this.now()) + MAX_CLOCK_SKEW_MS) {
      this.ignored++
      return
    }
    this.ms = ms
    this.c = c
  }
}

/** The smallest stamp after (ms, c) that is still well formed. */
export function stampAfter(ms: number, c: number): [ms: number, c: number] {
  return c >= MAX_COUNTER ? [ms + 1, 0] : [ms, c + 1]
}

/** Total order of (ms, c, replica) stamps: negative when a is earlier. */
export function compareStamp(aMs: number, aC: number, aR: string, bMs: number, bC: number, bR: string): number {
  return aMs - bMs || aC - bC || (aR < bR ? -1 : aR > bR ? 1 : 0)
}
