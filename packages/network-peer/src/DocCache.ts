import type * as Y from 'yjs'
import type { OpenedDoc, PeerHost } from './PeerHost.ts'

interface Entry {
  opening: Promise<OpenedDoc>
  opened: OpenedDoc | undefined
  used: boolean
}

/**
 * The documents the link layer holds open through {@link PeerHost.openDoc}: one open
 * per document however many frames need it, concurrent opens deduplicated, and a
 * document unused for a whole sweep interval released. `close()` releases everything.
 */
export class DocCache {
  private readonly entries = new Map<string, Entry>()
  private readonly timer: NodeJS.Timeout
  private closed = false

  constructor(
    private readonly host: PeerHost,
    idleMs: number,
  ) {
    // Two-phase sweep: a document is released only when a whole interval saw no use.
    this.timer = setInterval(() => this.sweep(), idleMs)
    this.timer.unref()
  }

  /** The open document `name`; rejects when the host cannot open it or the cache is closed. */
  async get(name: string): Promise<Y.Doc> {
    if (this.closed) throw new Error('document cache is closed')
    let entry = this.entries.get(name)
    if (entry === undefined) {
      const opening = this.host.openDoc(name)
      const created: Entry = { opening, opened: undefined, used: true }
      entry = created
      this.entries.set(name, created)
      opening.then(
        (opened) => {
          if (this.closed || this.entries.get(name) !== created) opened.release()
          else created.opened = opened
        },
        () => {
          if (this.entries.get(name) === created) this.entries.delete(name)
        },
      )
    }
    entry.used = true
    if (entry.opened !== undefined) return entry.opened.doc
    const opened = await entry.opening
    if (this.closed) throw new Error('document cache is closed')
    return opened.doc
  }

  /** Releases every document and stops the sweep. */
  close(): void {
    this.closed = true
    clearInterval(this.timer)
    for (const entry of this.entries.values()) entry.opened?.release()
    this.entries.clear()
  }

  private sweep(): void {
    for (const [name, entry] of this.entries) {
      if (entry.opened === undefined) continue
      if (entry.used) entry.used = false
      else {
        this.entries.delete(name)
        entry.opened.release()
      }
    }
  }
}
