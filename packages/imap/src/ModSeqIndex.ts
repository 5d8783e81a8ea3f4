import type { Mailbox, ViewChange } from '@mailweave/core'
import type { ModSeqSource } from './ImapBackend.ts'

/** Options of {@link ModSeqIndex}. */
export interface ModSeqIndexOptions {
  /** Lowest starting HIGHESTMODSEQ (e.g. a persisted one + 1); the clock-based start wins if higher. */
  readonly start?: bigint
  /** Expunge records kept for VANISHED (default 100,000); older ones are summarised. */
  readonly maxVanished?: number
  /** Wall clock in ms (tests inject one). */
  readonly now?: () => number
}

/** Mod-sequences per millisecond of the clock-based start: a restart never goes below an earlier value
 * unless the node averaged more than this many view changes per millisecond since its last start. */
const PER_MS = 1024n

/**
 * A node-local {@link ModSeqSource} kept in memory: one counter per mailbox, raised once per
 * view change the node observes (`Mailbox.onChange`), each message carrying the value of its
 * last change, and a bounded record of removed UIDs for VANISHED.
 *
 * It starts at `max(start, now_ms * 1024)`, with every message present then at that value and
 * no vanished history before it. So a node that keeps nothing across restarts stays correct:
 * HIGHESTMODSEQ still grows, a client resyncing from an older value gets every message as
 * changed and every UID gap as vanished (more traffic, nothing missed).
 */
export class ModSeqIndex implements ModSeqSource {
  readonly #base: bigint
  #highest: bigint
  /** Vanished history is complete for mod-sequences above this. */
  #floor: bigint
  readonly #perUid = new Map<number, bigint>()
  #vanished: Array<{ readonly uid: number; readonly modseq: bigint }> = []
  readonly #maxVanished: number
  readonly #unsubscribe: () => void

  constructor(mailbox: Mailbox, options: ModSeqIndexOptions = {}) {
    const clock = BigInt(Math.floor((options.now ?? Date.now)())) * PER_MS
    this.#base = options.start !== undefined && options.start > clock ? options.start : clock
    this.#highest = this.#base
    this.#floor = this.#base
    this.#maxVanished = Math.max(1, options.maxVanished ?? 100_000)
    this.#unsubscribe = mailbox.onChange((c) => this.#apply(c))
  }

  get highest(): bigint {
    return this.#highest
  }

  of(uid: number): bigint {
    return this.#perUid.get(uid) ?? this.#base
  }

  vanishedSince(since: bigint): Array<[number, number]> | undefined {
    if (since < this.#floor) return undefined
    let lo = 0
    let hi = this.#vanished.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (this.#vanished[mid]!.modseq <= since) lo = mid + 1
      else hi = mid
    }
    const uids: number[] = []
    for (let i = lo; i < this.#vanished.length; i++) {
      const v = this.#vanished[i]!
      // A uid that came back into the view after it left (out-of-order replication) is not gone.
      const back = this.#perUid.get(v.uid)
      if (back === undefined || back < v.modseq) uids.push(v.uid)
    }
    return toRanges(uids)
  }

  /** Stops following the mailbox. */
  dispose(): void {
    this.#unsubscribe()
  }

  #apply(c: ViewChange): void {
    const m = ++this.#highest
    for (const uid of c.removed) {
      this.#perUid.delete(uid)
      this.#vanished.push({ uid, modseq: m })
    }
    for (const uid of c.added) this.#perUid.set(uid, m)
    for (const uid of c.flagsChanged) this.#perUid.set(uid, m)
    if (this.#vanished.length > this.#maxVanished) {
      const drop = this.#vanished.length - Math.floor(this.#maxVanished / 2)
      this.#floor = this.#vanished[drop - 1]!.modseq
      this.#vanished = this.#vanished.slice(drop)
    }
  }
}

/** Sorted, merged inclusive ranges of `uids`. */
export function toRanges(uids: Iterable<number>): Array<[number, number]> {
  const sorted = [...new Set(uids)].sort((a, b) => a - b)
  const out: Array<[number, number]> = []
  for (const u of sorted) {
    const last = out[out.length - 1]
    if (last !== undefined && last[1] + 1 === u) last[1] = u
    else out.push([u, u])
  }
  return out
}
