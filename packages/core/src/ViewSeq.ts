/** One message as a view shows it. */
export interface ViewEntry {
  readonly uid: number
  readonly guid: string
  readonly flags: readonly string[]
}

const CHUNK = 256

/**
 * A sorted-by-uid sequence of {@link ViewEntry} with cheap immutable snapshots: chunks of
 * at most 512 entries (built at 256, split past 512), copied on write after a snapshot
 * shares them. Lookups by uid go through {@link ViewSnapshot.getUid}. Appending at the top
 * and taking a snapshot per change costs O(chunk + chunks), not O(messages).
 */
export class ViewSeq {
  private chunks: ViewEntry[][] = []
  /** Epoch in which each chunk was last copied; a chunk older than `epoch` is shared. */
  private chunkEpoch: number[] = []
  private dirEpoch = 0
  private epoch = 0
  private count = 0

  get size(): number {
    return this.count
  }

  /** Replaces everything with `sorted` (ascending by uid, unique). */
  build(sorted: readonly ViewEntry[]): void {
    this.chunks = []
    this.chunkEpoch = []
    for (let i = 0; i < sorted.length; i += CHUNK) {
      this.chunks.push(sorted.slice(i, i + CHUNK))
      this.chunkEpoch.push(this.epoch)
    }
    this.dirEpoch = this.epoch
    this.count = sorted.length
  }

  /** An immutable snapshot of the current sequence. */
  snapshot(): ViewSnapshot {
    const snap = new ViewSnapshot(this.chunks, this.count)
    this.epoch++
    return snap
  }

  /** Inserts or replaces the entry with `e.uid`. */
  upsert(e: ViewEntry): void {
    this.ownDir()
    const chunks = this.chunks
    if (chunks.length === 0) {
      chunks.push([e])
      this.chunkEpoch.push(this.epoch)
      this.count = 1
      return
    }
    let ci = findChunk(chunks, e.uid)
    if (ci === chunks.length) ci = chunks.length - 1
    const chunk = this.ownChunk(ci)
    const i = lowerBound(chunk, e.uid)
    if (chunk[i]?.uid === e.uid) {
      chunk[i] = e
      return
    }
    chunk.splice(i, 0, e)
    this.count++
    if (chunk.length > CHUNK * 2) {
      const tail = chunk.splice(CHUNK)
      chunks.splice(ci + 1, 0, tail)
      this.chunkEpoch.splice(ci + 1, 0, this.epoch)
    }
  }

  /** Removes the entry with `uid`; returns whether one was there. */
  remove(uid: number): boolean {
    const ci = findChunk(this.chunks, uid)
    const found = this.chunks[ci]
    if (found === undefined) return false
    const i = lowerBound(found, uid)
    if (found[i]?.uid !== uid) return false
    this.ownDir()
    const chunk = this.ownChunk(ci)
    chunk.splice(i, 1)
    this.count--
    if (chunk.length === 0) {
      this.chunks.splice(ci, 1)
      this.chunkEpoch.splice(ci, 1)
    }
    return true
  }

  private ownDir(): void {
    if (this.dirEpoch < this.epoch) {
      this.chunks = this.chunks.slice()
      this.chunkEpoch = this.chunkEpoch.slice()
      this.dirEpoch = this.epoch
    }
  }

  private ownChunk(ci: number): ViewEntry[] {
    const chunk = this.chunks[ci]!
    if (this.chunkEpoch[ci]! < this.epoch) {
      const copy = chunk.slice()
      this.chunks[ci] = copy
      this.chunkEpoch[ci] = this.epoch
      return copy
    }
    return chunk
  }
}

/** First chunk whose last uid is >= uid (chunks.length when none). */
function findChunk(chunks: readonly (readonly ViewEntry[])[], uid: number): number {
  let lo = 0
  let hi = chunks.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    const c = chunks[mid]!
    if (c[c.length - 1]!.uid < uid) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** First index whose uid is >= uid. */
function lowerBound(chunk: readonly ViewEntry[], uid: number): number {
  let lo = 0
  let hi = chunk.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (chunk[mid]!.uid < uid) lo = mid + 1
    else hi = mid
  }
  return lo
}

/**
 * An immutable sorted sequence of view entries. Sequence numbers are 1-based positions.
 * Snapshots share unchanged chunks, so comparing two snapshots can skip shared ones.
 */
export class ViewSnapshot implements Iterable<ViewEntry> {
  private offsets: number[] | undefined
  private flat: readonly ViewEntry[] | undefined

  constructor(
    /** @internal shared, never mutated */ readonly chunks: readonly (readonly ViewEntry[])[],
    readonly size: number,
  ) {}

  /** Every entry ascending by uid (materialised once, then cached). */
  toArray(): readonly ViewEntry[] {
    if (this.flat === undefined) this.flat = this.chunks.length === 1 ? this.chunks[0]! : ([] as ViewEntry[]).concat(...this.chunks)
    return this.flat
  }

  /** The entry at 0-based position `i`, or undefined. */
  at(i: number): ViewEntry | undefined {
    if (i < 0 || i >= this.size) return undefined
    if (this.flat !== undefined) return this.flat[i]
    const offs = this.offsetsOf()
    let lo = 0
    let hi = offs.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (offs[mid]! <= i) lo = mid
      else hi = mid - 1
    }
    return this.chunks[lo]![i - offs[lo]!]
  }

  /** 0-based position of `uid`, or the bitwise complement of its insertion point when absent. */
  indexOfUid(uid: number): number {
    const ci = findChunk(this.chunks, uid)
    const offs = this.offsetsOf()
    if (ci === this.chunks.length) return ~this.size
    const chunk = this.chunks[ci]!
    const i = lowerBound(chunk, uid)
    return chunk[i]?.uid === uid ? offs[ci]! + i : ~(offs[ci]! + i)
  }

  /** The entry with `uid`, or undefined. */
  getUid(uid: number): ViewEntry | undefined {
    const chunk = this.chunks[findChunk(this.chunks, uid)]
    if (chunk === undefined) return undefined
    const e = chunk[lowerBound(chunk, uid)]
    return e?.uid === uid ? e : undefined
  }

  /** Highest uid in the view, or 0. */
  get maxUid(): number {
    const last = this.chunks[this.chunks.length - 1]
    return last === undefined ? 0 : last[last.length - 1]!.uid
  }

  *[Symbol.iterator](): IterableIterator<ViewEntry> {
    for (const c of this.chunks) yield* c
  }

  private offsetsOf(): number[] {
    if (this.offsets === undefined) {
      const o: number[] = []
      let n = 0
      for (const c of this.chunks) {
        o.push(n)
        n += c.length
      }
      this.offsets = o
    }
    return this.offsets
  }
}
