import type { Delivery, LmtpBackend, Recipient } from './LmtpBackend.ts'
import { LmtpError } from './LmtpError.ts'

/**
 * An in-memory {@link LmtpBackend} (tests, examples): users with named mailboxes, each a
 * list of stored messages. `failNext` makes the next deliveries fail with the given error.
 */
export class MemoryLmtpBackend implements LmtpBackend {
  readonly mailboxes = new Map<string, Map<string, Delivery[]>>()
  /** Errors the next deliveries throw, in order (then they succeed again). */
  readonly failNext: LmtpError[] = []

  /** Adds a user with INBOX and the given other mailboxes. */
  addUser(user: string, mailboxes: string[] = []): void {
    this.mailboxes.set(user, new Map(['INBOX', ...mailboxes].map((m) => [m, []])))
  }

  /** Messages stored in `user`'s `mailbox` (empty when there is none). */
  stored(user: string, mailbox = 'INBOX'): Delivery[] {
    return this.mailboxes.get(user)?.get(mailbox) ?? []
  }

  async accepts(rcpt: Recipient): Promise<boolean> {
    return this.mailboxes.has(rcpt.user)
  }

  async deliver(rcpt: Recipient, delivery: Delivery): Promise<void> {
    const boxes = this.mailboxes.get(rcpt.user)
    if (boxes === undefined) throw new LmtpError(550, `no such user here: ${rcpt.address}`)
    const fail = this.failNext.shift()
    if (fail !== undefined) throw fail
    const target = rcpt.detail !== undefined && boxes.has(rcpt.detail) ? rcpt.detail : 'INBOX'
    boxes.get(target)!.push(delivery)
  }
}
