import { EdgeError } from './EdgeError.ts'
import type { IdbBlobStore } from './IdbBlobStore.ts'
import type { NodeClient } from './NodeClient.ts'

/** What the upload queue needs from its account. */
export interface UploadHost {
  /** The explicit online switch, and whether the account is still open. */
  canUpload(): boolean
  /** The current node's HTTP API (a switch of node stops a drain in progress). */
  client(): NodeClient
  /** The number of queued bodies changed. */
  changed(): void
  /** Records a failure in the account status. */
  noteError(e: unknown): void
}

/**
 * Uploads the bodies appended in this tab (queued in IndexedDB in the same transaction as
 * the body) to the node, one at a time, retrying with backoff (0.5 s doubling to 30 s).
 * A 4xx answer other than 401/403 can never succeed (too large, bad hash): the entry is
 * dropped and the error reported; an authentication failure stops retrying until `kick`.
 */
export class UploadQueue {
  /** Bodies queued and not yet uploaded (as last counted). */
  pending = 0
  private uploading: Promise<void> | undefined
  private retry: ReturnType<typeof setTimeout> | undefined
  private backoff = 0

  constructor(
    private readonly blobs: IdbBlobStore,
    private readonly host: UploadHost,
  ) {}

  /** Recounts the queue and starts a drain when it is not empty. */
  async refresh(): Promise<void> {
    try {
      const q = await this.blobs.uploads()
      this.pending = q.length
      this.host.changed()
      if (q.length > 0) this.kick()
    } catch (e) {
      this.host.noteError(e)
    }
  }

  /** Starts a drain unless one runs or a retry is scheduled. */
  kick(): void {
    if (this.uploading === undefined && this.retry === undefined && this.host.canUpload()) void this.now()
  }

  /** Drains now (when online); resolves when the queue is empty or the drain failed. */
  now(): Promise<void> {
    if (this.uploading !== undefined) return this.uploading
    if (!this.host.canUpload()) return Promise.resolve()
    this.uploading = this.drain().finally(() => {
      this.uploading = undefined
    })
    return this.uploading
  }

  /** Going online: retry at once. */
  resume(): void {
    this.backoff = 0
    this.kick()
  }

  /** Going offline or closing: no scheduled retry. */
  pause(): void {
    if (this.retry !== undefined) clearTimeout(this.retry)
    this.retry = undefined
  }

  /** Stops retrying and waits for a drain in progress to end. */
  async close(): Promise<void> {
    this.pause()
    await this.uploading?.catch(() => undefined)
  }

  private async drain(): Promise<void> {
    const client = this.host.client()
    try {
      for (let round = 0; round < 100; round++) {
        const queue = await this.blobs.uploads()
        this.pending = queue.length
        this.host.changed()
        if (queue.length === 0 || !this.host.canUpload()) break
        for (const q of queue) {
          if (!this.host.canUpload() || client !== this.host.client()) return
          const bytes = await this.blobs.get(q.hash)
          if (bytes !== undefined) {
            try {
              await client.putBlob(q.hash, bytes)
            } catch (e) {
              // 4xx other than auth can never succeed (too large, bad hash): drop, say so
              if (!(e instanceof EdgeError && e.code === 'HTTP' && e.status !== undefined && e.status >= 400 && e.status < 500)) throw e
              this.host.noteError(e)
            }
          }
          await this.blobs.uploaded(q.hash)
          this.pending = Math.max(0, this.pending - 1)
          this.host.changed()
        }
      }
      this.backoff = 0
    } catch (e) {
      this.host.noteError(e)
      if (e instanceof EdgeError && e.code === 'UNAUTHORIZED') return
      this.backoff = Math.min(30_000, Math.max(500, this.backoff * 2))
      if (this.retry === undefined && this.host.canUpload()) {
        this.retry = setTimeout(() => {
          this.retry = undefined
          this.kick()
        }, this.backoff)
      }
    }
  }
}
