/** What {@link ReadAhead} needs to know of item `i`: its body to load, or undefined when it needs none. */
export type ReadAheadWant = (i: number) => { readonly guid: string; readonly size: number } | undefined

interface Pending {
  readonly promise: Promise<Uint8Array | undefined>
  readonly size: number
}

/**
 * Loads the bodies a command will need a few items ahead of it, so that reading message
 * N+1..N+k from storage overlaps with parsing and answering message N. A mailbox listing
 * whose envelopes are not cached yet reads 10,000 bodies: one at a time, each read is a
 * thread-pool round trip the command waits for. At most `maxCount` bodies and about
 * `maxBytes` are held at once; items must be asked for in increasing order.
 */
export class ReadAhead {
  readonly #pending = new Map<number, Pending>()
  #next = 0
  #bytes = 0

  constructor(
    private readonly count: number,
    private readonly want: ReadAheadWant,
    private readonly load: (guid: string) => Promise<Uint8Array | undefined>,
    private readonly maxCount = 64,
    private readonly maxBytes = 8 << 20,
  ) {}

  /** The body of item `i` (message `guid`), from the read started ahead of time when there is one. */
  body(i: number, guid: string): Promise<Uint8Array | undefined> {
    // items skipped since (filtered out by the caller) release their reads
    for (const [k, p] of this.#pending) {
      if (k >= i) break
      this.#release(k, p)
    }
    const mine = this.#pending.get(i)
    if (mine !== undefined) this.#release(i, mine)
    if (this.#next <= i) this.#next = i + 1
    // refill by halves: reads started together can be served together (PackBlobStore joins
    // the reads of one tick into one when their records are neighbours)
    if (this.#pending.size <= this.maxCount / 2) this.#fill()
    return mine?.promise ?? this.load(guid)
  }

  #release(k: number, p: Pending): void {
    this.#pending.delete(k)
    this.#bytes -= p.size
  }

  #fill(): void {
    while (this.#next < this.count && this.#pending.size < this.maxCount && this.#bytes < this.maxBytes) {
      const i = this.#next++
      const w = this.want(i)
      if (w === undefined) continue
      const promise = this.load(w.guid)
      // a read nobody collects (the item was skipped) must not become an unhandled rejection
      promise.catch(() => undefined)
      this.#pending.set(i, { promise, size: w.size })
      this.#bytes += w.size
    }
  }
}
