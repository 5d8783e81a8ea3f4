import { createHash } from 'node:crypto'
import { isBlobKey, type BlobStore } from '@mailweave/core'
import type { PeerLogLevel } from './PeerHost.ts'
import type { PeerLink } from './PeerLink.ts'
import type { BlobDataFrame, BlobMissingFrame } from './PeerProtocol.ts'

interface Waiter {
  resolve: (stored: boolean) => void
  timer: NodeJS.Timeout | undefined
}

interface Wanted {
  waiters: Set<Waiter>
  /** Peers that said they lack it (or sent bad bytes, or did not answer) since the last round. */
  tried: Set<string>
  asking: PeerLink | undefined
  timer: NodeJS.Timeout | undefined
  storing: boolean
}

/** What a {@link BlobFetcher} needs from its network (internal to the package). */
export interface BlobFetcherEnv {
  readonly blobs: BlobStore
  readonly retryMs: number
  openLinks(): PeerLink[]
  log(level: PeerLogLevel, msg: string, fields?: Record<string, unknown>): void
}

/**
 * Fetches wanted blobs from peers, one peer at a time: on BLOB_MISSING, bad bytes or
 * no answer within `retryMs` it asks the next open peer; once every open peer was
 * tried it starts over after `retryMs`, and a peer that (re)connects is asked again.
 * Bytes are stored only when they hash (SHA-256) to the key they were sent under.
 */
export class BlobFetcher {
  private readonly wanted = new Map<string, Wanted>()
  private rejected = 0
  private closed = false

  constructor(private readonly env: BlobFetcherEnv) {}

  /** Blobs wanted and not stored yet. */
  get missing(): number {
    return this.wanted.size
  }

  /** Blob replies dropped because their bytes did not hash to their key. */
  get rejectedCount(): number {
    return this.rejected
  }

  /**
   * Resolves true once `hash` is in the store (at once when it already is), false when
   * `timeoutMs` passes first or the fetcher closes. A blob nobody waits for any more is
   * no longer fetched.
   */
  async want(hash: string, timeoutMs?: number): Promise<boolean> {
    if (!isBlobKey(hash)) throw new RangeError(`blob hash must be 64 lowercase hex digits, got ${JSON.stringify(hash)}`)
    if (this.closed) return false
    if (!this.wanted.has(hash) && (await this.env.blobs.has(hash))) return true
    if (this.closed) return false
    let entry = this.wanted.get(hash)
    const fresh = entry === undefined
    entry ??= { waiters: new Set(), tried: new Set(), asking: undefined, timer: undefined, storing: false }
    const wanted = entry
    const result = new Promise<boolean>((resolve) => {
      const waiter: Waiter = { resolve, timer: undefined }
      if (timeoutMs !== undefined) {
        waiter.timer = setTimeout(() => {
          wanted.waiters.delete(waiter)
          resolve(false)
          if (wanted.waiters.size === 0 && !wanted.storing) this.drop(hash, wanted)
        }, timeoutMs)
      }
      wanted.waiters.add(waiter)
    })
    if (fresh) {
      this.wanted.set(hash, wanted)
      this.ask(hash, wanted)
    }
    return result
  }

  /** A BLOB_DATA arrived on `link`. */
  data(link: PeerLink, frame: BlobDataFrame): void {
    const entry = this.wanted.get(frame.hash)
    if (entry === undefined || entry.storing) return
    const actual = createHash('sha256').update(frame.bytes).digest('hex')
    if (actual !== frame.hash) {
      this.rejected++
      this.env.log('warn', 'blob from peer failed verification; asking another peer', { peer: link.peerId, hash: frame.hash, actual })
      this.giveUpOn(link, frame.hash, entry)
      return
    }
    entry.storing = true
    clearTimeout(entry.timer)
    entry.timer = undefined
    this.env.blobs.put(frame.hash, frame.bytes).then(
      () => {
        if (this.wanted.get(frame.hash) === entry) this.wanted.delete(frame.hash)
        this.settle(entry, true)
      },
      (error: unknown) => {
        this.env.log('error', 'could not store fetched blob', {
          hash: frame.hash,
          error: error instanceof Error ? error.message : String(error),
        })
        entry.storing = false
        entry.asking = undefined
        if (entry.waiters.size === 0) this.drop(frame.hash, entry)
        else this.retryLater(frame.hash, entry)
      },
    )
  }

  /** A BLOB_MISSING arrived on `link`. */
  missingAt(link: PeerLink, frame: BlobMissingFrame): void {
    const entry = this.wanted.get(frame.hash)
    if (entry !== undefined) this.giveUpOn(link, frame.hash, entry)
  }

  /** A link opened: its peer may have the blobs now. */
  linkOpened(link: PeerLink): void {
    for (const [hash, entry] of this.wanted) {
      if (link.peerId !== undefined) entry.tried.delete(link.peerId)
      if (entry.asking === undefined) this.ask(hash, entry)
    }
  }

  /** A link closed: what it was asked goes to another peer. */
  linkClosed(link: PeerLink): void {
    for (const [hash, entry] of this.wanted) {
      if (entry.asking !== link) continue
      entry.asking = undefined
      this.ask(hash, entry)
    }
  }

  /** Stops every retry; pending `want` calls resolve false. */
  close(): void {
    this.closed = true
    for (const entry of this.wanted.values()) {
      clearTimeout(entry.timer)
      this.settle(entry, false)
    }
    this.wanted.clear()
  }

  private settle(entry: Wanted, stored: boolean): void {
    for (const waiter of entry.waiters) {
      clearTimeout(waiter.timer)
      waiter.resolve(stored)
    }
    entry.waiters.clear()
  }

  private drop(hash: string, entry: Wanted): void {
    clearTimeout(entry.timer)
    entry.timer = undefined
    if (this.wanted.get(hash) === entry) this.wanted.delete(hash)
  }

  private giveUpOn(link: PeerLink, hash: string, entry: Wanted): void {
    if (link.peerId !== undefined) entry.tried.add(link.peerId)
    if (entry.asking !== link) return
    entry.asking = undefined
    this.ask(hash, entry)
  }

  private ask(hash: string, entry: Wanted): void {
    if (this.closed || entry.storing || this.wanted.get(hash) !== entry) return
    if (entry.asking !== undefined && entry.asking.isOpen) return
    clearTimeout(entry.timer)
    entry.timer = undefined
    const next = this.env.openLinks().find((link) => link.peerId !== undefined && !entry.tried.has(link.peerId))
    if (next === undefined) {
      entry.asking = undefined
      if (entry.tried.size > 0) this.retryLater(hash, entry)
      return
    }
    entry.asking = next
    next.send({ type: 'blobWant', hashes: [hash] })
    entry.timer = setTimeout(() => {
      entry.timer = undefined
      if (entry.asking === next) this.giveUpOn(next, hash, entry)
    }, this.env.retryMs)
  }

  private retryLater(hash: string, entry: Wanted): void {
    clearTimeout(entry.timer)
    entry.timer = setTimeout(() => {
      entry.timer = undefined
      entry.tried.clear()
      this.ask(hash, entry)
    }, this.env.retryMs)
  }
}
