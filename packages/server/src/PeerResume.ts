import type { MetaStore } from '@mailweave/core'
import type { ChangeCursor } from '@mailweave/network-peer'
import type { Logger } from './Logger.ts'

const isCursor = (v: unknown): v is ChangeCursor =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as ChangeCursor).epoch === 'string' &&
  Number.isSafeInteger((v as ChangeCursor).seq) &&
  (v as ChangeCursor).seq >= 0

/**
 * The peers' resume points, one record (`peer-resume.json`) in the node's {@link MetaStore}
 * with one writer: saves from every link are merged in memory and written one at a time (a
 * save arriving while a write runs joins the next one), each an atomic replace, so
 * concurrent saves never fail or interleave. A record that does not parse (or holds
 * something other than cursors) is discarded with a warning: a missing resume point only
 * costs a full catch-up, never data.
 */
export class PeerResume {
  private cursors: Map<string, ChangeCursor> | undefined
  private loading: Promise<Map<string, ChangeCursor>> | undefined
  /** The write in flight and whether another must follow it. */
  private writing: Promise<void> | undefined
  private next: Promise<void> | undefined

  constructor(
    private readonly meta: MetaStore,
    private readonly key: string,
    private readonly log: Logger,
  ) {}

  /** The saved resume point of `peerId`, or undefined. */
  async load(peerId: string): Promise<ChangeCursor | undefined> {
    return (await this.all()).get(peerId)
  }

  /** Records `cursor` for `peerId`; resolves once a write holding it is durable. */
  async save(peerId: string, cursor: ChangeCursor): Promise<void> {
    ;(await this.all()).set(peerId, cursor)
    // a write that has not started yet takes this change with it
    if (this.next !== undefined) return this.next
    const after = this.writing ?? Promise.resolve()
    const mine: Promise<void> = after
      .catch(() => undefined)
      .then(() => {
        if (this.next === mine) this.next = undefined
        this.writing = mine
        return this.write()
      })
      .finally(() => {
        if (this.writing === mine) this.writing = undefined
      })
    this.next = mine
    return mine
  }

  private write(): Promise<void> {
    return this.meta.put(this.key, new TextEncoder().encode(JSON.stringify(Object.fromEntries(this.cursors!))))
  }

  private all(): Promise<Map<string, ChangeCursor>> {
    if (this.cursors !== undefined) return Promise.resolve(this.cursors)
    this.loading ??= this.read().then((m) => (this.cursors = m))
    return this.loading
  }

  private async read(): Promise<Map<string, ChangeCursor>> {
    let text: string
    try {
      const bytes = await this.meta.get(this.key)
      if (bytes === undefined) return new Map()
      text = new TextDecoder().decode(bytes)
    } catch (err) {
      this.log.warn({ record: this.key, err: String(err) }, 'could not read the peer resume points; catching up in full')
      return new Map()
    }
    try {
      const parsed = JSON.parse(text) as unknown
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object')
      const entries = Object.entries(parsed)
      if (!entries.every(([, v]) => isCursor(v))) throw new Error('an entry is not a change cursor')
      return new Map(entries as [string, ChangeCursor][])
    } catch (err) {
      this.log.warn(
        { record: this.key, bytes: text.length, err: String(err) },
        'peer resume points are corrupt: discarded, every peer catches up in full',
      )
      return new Map()
    }
  }
}
