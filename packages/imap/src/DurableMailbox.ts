import type { Mailbox, MailboxView, MessageInfo, ViewChange } from '@mailweave/core'
import type { AppendInput, Appended, FlagChange, ImapMailbox, ModSeqSource } from './ImapBackend.ts'
import { no } from './ImapError.ts'

/** What a backend provides for one open mailbox; {@link DurableMailbox} builds the {@link ImapMailbox} from it. */
export interface MailboxStorage {
  /** This node's replica of the mailbox (a node: it has a slot). Only DurableMailbox writes to it. */
  readonly mailbox: Mailbox
  readonly modseq: ModSeqSource
  /** Rule 5 (docs/protocol.md), as {@link ImapMailbox.expose}; also makes every earlier write and staged body durable. */
  expose(): Promise<MailboxView>
  /**
   * Appends one message to `mailbox` at once and stores its body; resolves with the guid.
   * The body and the message may become durable only with the next `persist()` or `expose()`.
   */
  stage(message: AppendInput): Promise<string>
  /**
   * Resolves once every earlier write to `mailbox` and every staged body is durable; rejects
   * when something could not be stored (a staged message whose body failed is expunged).
   */
  persist(): Promise<void>
  body(guid: string): Promise<Uint8Array | undefined>
  release(): void
}

/**
 * An {@link ImapMailbox} over a core `Mailbox`: every write goes through here, is applied at
 * once and resolves after `persist()`, and a multi-message append or copy that fails is undone
 * in one place (its messages expunged again, durably when possible). Both MemoryBackend and
 * the node's backend use it, so the durability rules live once.
 */
export class DurableMailbox implements ImapMailbox {
  readonly modseq: ModSeqSource

  constructor(private readonly storage: MailboxStorage) {
    this.modseq = storage.modseq
  }

  view(): MailboxView {
    return this.storage.mailbox.view()
  }

  message(guid: string): MessageInfo | undefined {
    return this.storage.mailbox.message(guid)
  }

  onChange(listener: (change: ViewChange) => void): () => void {
    return this.storage.mailbox.onChange(listener)
  }

  expose(): Promise<MailboxView> {
    return this.storage.expose()
  }

  append(messages: readonly AppendInput[]): Promise<Appended> {
    return this.#appendAll(messages.length, async (i) => messages[i]!)
  }

  setFlags(changes: readonly FlagChange[]): Promise<void> {
    const mailbox = this.storage.mailbox
    for (const c of changes)
      mailbox.setFlags(c.guid, {
        ...(c.add !== undefined ? { add: [...c.add] } : {}),
        ...(c.remove !== undefined ? { remove: [...c.remove] } : {}),
      })
    return this.storage.persist()
  }

  expunge(guids: readonly string[]): Promise<void> {
    if (guids.length === 0) return Promise.resolve()
    this.storage.mailbox.expunge([...guids])
    return this.storage.persist()
  }

  async copyTo(target: ImapMailbox, guids: readonly string[]): Promise<Appended> {
    if (!(target instanceof DurableMailbox)) throw new TypeError('copyTo needs a mailbox of the same backend')
    // bodies are read one at a time as they are appended, not all held at once
    return target.#appendAll(guids.length, async (i) => {
      const guid = guids[i]!
      const info = this.message(guid)
      const raw = await this.body(guid)
      if (info === undefined || raw === undefined) throw no('A message body is not available on this server yet', 'UNAVAILABLE')
      return { raw, flags: info.flags, internalDate: info.internalDate }
    })
  }

  body(guid: string): Promise<Uint8Array | undefined> {
    return this.storage.body(guid)
  }

  release(): void {
    this.storage.release()
  }

  /** Stages `count` messages and exposes once (one round of fsyncs); the one rollback path when any step fails. */
  async #appendAll(count: number, next: (i: number) => Promise<AppendInput>): Promise<Appended> {
    const guids: string[] = []
    try {
      for (let i = 0; i < count; i++) guids.push(await this.storage.stage(await next(i)))
      return { guids, view: await this.storage.expose() }
    } catch (e) {
      if (guids.length > 0) {
        this.storage.mailbox.expunge(guids)
        // best effort: a message that never became durable is not shown after a restart either
        await this.storage.persist().catch(() => undefined)
      }
      throw e
    }
  }
}
