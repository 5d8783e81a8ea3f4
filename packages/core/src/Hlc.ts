/**
 * A hybrid logical clock: never goes backwards, stays close to wall time, and moves past
 * every clock value it has observed, so a later change (in causal order) always wins.
 */
export class Hlc {
  ms = 0
  c = 0
  constructor(private readonly now: () => number) {}

  /** The next timestamp for a local event. */
  tick(): [ms: number, c: number] {
    const wall = Math.floor(this.now())
    if (wall > this.ms) {
      this.ms = wall
      this.c = 0
    } else this.c++
    return [this.ms, this.c]
  }

  /** Moves past a remote timestamp. */
  observe(ms: number, c: number): void {
    if (ms > this.ms || (ms === this.ms && c > this.c)) {
      this.ms = ms
      this.c = c
    }
  }
}

/** Total order of (ms, c, replica) stamps: negative when a is earlier. */
export function compareStamp(aMs: number, aC: number, aR: string, bMs: number, bC: number, bR: string): number {
  return aMs - bMs || aC - bC || (aR < bR ? -1 : aR > bR ? 1 : 0)
}
