/** A recipient address split the way a mail store reads it: `user+detail@domain`. */
export interface Recipient {
  /** The address as the client sent it in RCPT TO (no angle brackets). */
  address: string
  /** The local part before any `+`, lowercased: the user name. */
  user: string
  /** What follows the first `+` in the local part (case kept), undefined without one. */
  detail: string | undefined
}

/** One delivery of one message to one recipient. */
export interface Delivery {
  /** The message exactly as the client sent it (dot-unstuffed), without our headers. */
  original: Uint8Array
  /** The message to store: `Delivered-To` and `Received` headers, then `original`. */
  raw: Uint8Array
  /** When the message was received: its INTERNALDATE. */
  receivedAt: Date
}

/**
 * What the LMTP front end needs from a mail store. Errors are reported per recipient:
 * throw an {@link LmtpError} to choose the reply; anything else is a temporary failure.
 */
export interface LmtpBackend {
  /** Whether mail for `rcpt` is accepted here; false is a permanent "no such user" (550). */
  accepts(rcpt: Recipient): Promise<boolean>
  /**
   * Stores one delivery for `rcpt`: in the mailbox named by its detail when that mailbox
   * exists, else in INBOX. Resolves only once the message is durable (the LMTP 250 is
   * an acknowledgement the MTA deletes its copy on).
   */
  deliver(rcpt: Recipient, delivery: Delivery): Promise<void>
}
