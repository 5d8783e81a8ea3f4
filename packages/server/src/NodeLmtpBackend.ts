import { deliveryKey, isValidUser } from '@mailweave/core'
import { LmtpError, noSuchUser, tooLarge, tryLater, type Delivery, type LmtpBackend, type Recipient } from '@mailweave/lmtp'
import type { AccountRouter } from './AccountRouter.ts'
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
    private readonly router?: AccountRouter,
  ) {}

  async accepts(rcpt: Recipient): Promise<boolean> {
    return isValidUser(rcpt.user) && this.users.get(rcpt.user) !== undefined
  }

  /**
   * Delivers here when this process serves the account, else through the process that does
   * (its 250 only once that process made the message durable).
   */
  async deliver(rcpt: Recipient, delivery: Delivery): Promise<void> {
    const r = await this.router?.route(rcpt.user).catch((e: unknown) => {
      throw tryLater(`cannot tell which process serves ${rcpt.user} now: ${String(e)}`)
    })
    if (r?.kind === 'unavailable') throw tryLater(`${rcpt.user} cannot be served now: ${r.reason}`)
    if (r?.kind === 'remote') return this.router!.deliverAt(r.owner, rcpt, delivery)
    return this.deliverHere(rcpt, delivery)
  }

  /** Stores the delivery in this process (it serves the account). */
  async deliverHere(rcpt: Recipient, delivery: Delivery): Promise<void> {
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
