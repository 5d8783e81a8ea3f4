import type { AppendOptions, BlobStore, Mailbox, MailboxView, MessageInfo } from '@mailweave/core'
import { MailweaveError } from '@mailweave/core'
import { EdgeError } from './EdgeError.ts'
import { sha256Hex } from './IdbBlobStore.ts'
import type { NodeClient } from './NodeClient.ts'
import type { Replica } from './Replica.ts'

/** One mailbox of the account, replicated in this tab. */
export interface EdgeMailbox {
  readonly id: string
  readonly docName: string
  /** Current name (from the account document; the id until known). */
  readonly name: string
  /** The core edge replica: `view()`, `message(guid)` with its UID history, `onChange`. */
  readonly core: Mailbox
  /** In sync with the node now. */
  readonly synced: boolean
  view(): MailboxView
  message(guid: string): MessageInfo | undefined
  /** Live messages without a UID yet: appended here and not bound by a node, or stranded. */
  pending(): MessageInfo[]
  /** Appends a message; resolves once it and its body are durable in IndexedDB (and queued for upload). */
  append(raw: Uint8Array, opts?: AppendOptions): Promise<string>
  /** Changes flags; resolves once durable in IndexedDB. */
  setFlags(guid: string, change: { add?: string[]; remove?: string[] }): Promise<void>
  /** Expunges; resolves once durable in IndexedDB. */
  expunge(guids: string[]): Promise<void>
  /**
   * The raw message: from the IndexedDB cache, else fetched from the node, verified against
   * the message's SHA-256 and cached. Undefined when unknown, or not reachable right now.
   */
  body(guid: string): Promise<Uint8Array | undefined>
  /** Calls `fn` (coalesced) after any change of the mailbox, local or remote. */
  onChange(fn: () => void): () => void
  /** True once the account closed this handle (after `close` or `switchNode`). */
  readonly closed: boolean
}

/** What a mailbox handle needs from its account: the account implements it, the handle never sees the account. */
export interface MailboxHost {
  /** The current name of mailbox `id` (from the account document; the id until known). */
  nameOf(id: string): string
  /** The explicit online switch. */
  readonly online: boolean
  /** Whether to ask the node to bind this replica's appends (see `OpenAccountOptions.autoBind`). */
  readonly autoBind: boolean
  /** The body cache (IndexedDB). */
  readonly blobs: Pick<BlobStore, 'get' | 'put'>
  /** The current node's HTTP API. */
  readonly client: NodeClient
  /** A local append stored a body: upload queued bodies. */
  bodiesQueued(): void
  /** Records a background failure in the account status. */
  noteError(e: unknown): void
}

/**
 * The handle of one open mailbox. It reaches its account only through {@link MailboxHost};
 * the account drives it through `resetBind` and `close`.
 */
export class EdgeMailboxImpl implements EdgeMailbox {
  closed = false
  private bindTimer: ReturnType<typeof setTimeout> | undefined
  private bindAttempts = 0
  private readonly unsub: () => void

  constructor(
    private readonly host: MailboxHost,
    readonly id: string,
    readonly replica: Replica,
    readonly core: Mailbox,
  ) {
    // any change may strand or bind messages: start the backoff afresh
    this.unsub = replica.onUpdate(() => this.resetBind())
  }

  get docName(): string {
    return this.replica.docName
  }

  get name(): string {
    return this.host.nameOf(this.id)
  }

  get synced(): boolean {
    return this.replica.synced
  }

  private live(): void {
    if (this.closed) throw new EdgeError('CLOSED', `mailbox ${this.id} was closed (account closed or switched node)`)
  }

  view(): MailboxView {
    return this.core.view()
  }

  message(guid: string): MessageInfo | undefined {
    return this.core.message(guid)
  }

  pending(): MessageInfo[] {
    if (this.core.strandedCount === 0) return []
    const out: MessageInfo[] = []
    for (const guid of this.core.inspect().stranded) {
      const m = this.core.message(guid)
      if (m !== undefined && !m.expunged) out.push(m)
    }
    return out.sort((a, b) => a.appendedAt - b.appendedAt)
  }

  async append(raw: Uint8Array, opts?: AppendOptions): Promise<string> {
    this.live()
    const guid = wrapCore(() => this.core.append(raw, opts))
    await this.core.whenBlobsStored()
    await this.replica.persistence.flush()
    this.host.bodiesQueued()
    return guid
  }

  async setFlags(guid: string, change: { add?: string[]; remove?: string[] }): Promise<void> {
    this.live()
    wrapCore(() => this.core.setFlags(guid, change))
    await this.replica.persistence.flush()
  }

  async expunge(guids: string[]): Promise<void> {
    this.live()
    wrapCore(() => this.core.expunge(guids))
    await this.replica.persistence.flush()
  }

  async body(guid: string): Promise<Uint8Array | undefined> {
    const info = this.core.message(guid)
    if (info === undefined || info.hash === '') return undefined
    const cached = await this.host.blobs.get(info.hash)
    if (cached !== undefined) return cached
    if (!this.host.online || this.closed) return undefined
    let bytes: Uint8Array | undefined
    try {
      bytes = await this.host.client.raw(this.name, guid)
    } catch (e) {
      if (e instanceof EdgeError && e.code === 'OFFLINE') return undefined
      throw e
    }
    if (bytes === undefined) return undefined
    if (sha256Hex(bytes) !== info.hash)
      throw new EdgeError('CORRUPT_BODY', `the node sent a body for ${guid} that does not hash to ${info.hash}`)
    await this.host.blobs.put(info.hash, bytes)
    return bytes
  }

  onChange(fn: () => void): () => void {
    return this.replica.onUpdate(fn)
  }

  /** Rebinding requests are retried with backoff while stranded messages remain. */
  scheduleBind(): void {
    const a = this.host
    if (
      this.closed ||
      !a.autoBind ||
      this.bindTimer !== undefined ||
      !a.online ||
      !this.replica.synced ||
      this.core.strandedCount === 0 ||
      this.bindAttempts >= 8
    )
      return
    this.bindTimer = setTimeout(
      () => {
        void (async () => {
          try {
            await a.client.readMailbox(this.name)
          } catch (e) {
            a.noteError(e)
          }
          this.bindTimer = undefined
          this.bindAttempts++
          this.scheduleBind()
        })()
      },
      150 * 2 ** this.bindAttempts,
    )
  }

  resetBind(): void {
    this.bindAttempts = 0
    this.scheduleBind()
  }

  close(): void {
    this.closed = true
    this.unsub()
    if (this.bindTimer !== undefined) clearTimeout(this.bindTimer)
    this.core.destroy()
  }
}

function wrapCore<T>(fn: () => T): T {
  try {
    return fn()
  } catch (e) {
    if (e instanceof MailweaveError) throw new EdgeError(e.code === 'UNKNOWN_GUID' ? 'UNKNOWN_MESSAGE' : 'INVALID_ARGUMENT', e.message)
    throw e
  }
}
