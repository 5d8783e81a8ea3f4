import { deliveryKey, isValidUser } from '@mailweave/core'
import { LmtpError, noSuchUser, tooLarge, tryLater, type Delivery, type LmtpBackend, type Recipient } from '@mailweave/lmtp'
import type { MailboxHandle, MailStore } from './MailStore.ts'
import { NodeError } from './NodeError.ts'
import type { UserDirectory } from './UserDirectory.ts'

/** Maps node errors to LMTP replies: too large and unknown user are permanent, the rest temporary. */
function lmtpError(e: unknown, rcpt: Recipient): LmtpError {
  if (e instanceof LmtpError) return e
  if (e instanceof NodeError) {
    if (e.code === 'TOO_LARGE') return tooLarge(e.message)
    if (e.code === 'NOT_FOUND') return noSuchUser(rcpt.address)
  }
  return tryLater('the message could not be stored now, try again later')
}

/**
 * The node as an LMTP backend: recipients are the users of the replicated user
 * directory; a delivery goes to the mailbox named by the address's `+detail` when the
 * user has it, else to INBOX, through `MailStore` like an IMAP APPEND (body and metadata
 * durable before it resolves, so the 250 is sent after the fsync), with the delivery key
 * of the message as the MTA sent it (core's `deliveryKey`), so copies of one delivery
 * that reach several regions become one message.
 */
export class NodeLmtpBackend implements LmtpBackend {
  constructor(
    private readonly store: MailStore,
    private readonly users: UserDirectory,
  ) {}

  async accepts(rcpt: Recipient): Promise<boolean> {
    return isValidUser(rcpt.user) && this.users.get(rcpt.user) !== undefined
  }

  async deliver(rcpt: Recipient, delivery: Delivery): Promise<void> {
    let h: MailboxHandle | undefined
    try {
      if (rcpt.detail !== undefined) h = await this.store.open(rcpt.user, rcpt.detail)
      h ??= await this.store.open(rcpt.user, 'INBOX')
      if (h === undefined) throw tryLater(`no INBOX for ${rcpt.user} at this node yet`)
      // the key of the bytes as the MTA sent them (without our headers): a retry, or a
      // failover to another region, of this delivery stays one message (docs/protocol.md)
      await h.append(delivery.raw, { internalDate: delivery.receivedAt, delivery: deliveryKey(delivery.original, rcpt.address) })
    } catch (e) {
      throw lmtpError(e, rcpt)
    } finally {
      h?.release()
    }
  }
}
