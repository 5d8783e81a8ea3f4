import { sha256 } from '@noble/hashes/sha2.js'
import { MailweaveError } from './MailweaveError.ts'
import { toHex } from './hex.ts'
import { listHeaders } from './listHeaders.ts'

const utf8 = new TextEncoder()

/**
 * The delivery key of a message an MTA delivered (LMTP, SMTP), for `append`'s `delivery`
 * option: SHA-256 over a version tag, the envelope recipient (angle brackets and spaces
 * stripped, lowercased), the Message-ID, and the SHA-256 of the bytes exactly as the MTA
 * sent them, before the node adds its own Received or Delivered-To header (which differ
 * per node and per attempt). The same message delivered twice to one recipient, by
 * failover to another region or by an MTA retry, gets the same key on every node; two
 * recipients' copies, or two messages differing in any byte, get different keys.
 *
 * Returns undefined when the message has no Message-ID: without one nothing tells a retry
 * from a sender's deliberate second identical message, so such mail is never merged.
 * Throws INVALID_ARGUMENT for an empty recipient or one with control characters.
 */
export function deliveryKey(raw: Uint8Array, recipient: string): string | undefined {
  if (!(raw instanceof Uint8Array)) throw new MailweaveError('INVALID_ARGUMENT', 'deliveryKey needs the raw message as a Uint8Array')
  const rcpt =
    typeof recipient === 'string'
      ? recipient
          .trim()
          .replace(/^<(.*)>$/, '$1')
          .trim()
          .toLowerCase()
      : ''
  if (rcpt === '' || /[\x00-\x1f\x7f]/.test(rcpt))
    throw new MailweaveError('INVALID_ARGUMENT', 'deliveryKey needs the envelope recipient (non-empty, no control characters)')
  const messageId = listHeaders(raw).messageId?.trim()
  if (messageId === undefined || messageId === '') return undefined
  const head = utf8.encode(`mailweave-delivery/1\n${rcpt}\n${messageId}\n`)
  const h = sha256.create()
  h.update(head)
  h.update(sha256(raw))
  return toHex(h.digest())
}
