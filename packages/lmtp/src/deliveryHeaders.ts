/** What the trace headers of one delivery say. */
export interface TraceInfo {
  /** The name the client gave in LHLO. */
  helo: string
  /** The client's address. */
  remoteAddress: string
  /** The client's host name (reverse lookup), when known. */
  clientHostname?: string
  /** This server's host name. */
  serverName: string
  /** An id of the transaction, for logs on both sides. */
  id: string
  /** The envelope recipient of this copy. */
  recipient: string
  date: Date
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat']
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const pad = (n: number) => String(n).padStart(2, '0')

/** An RFC 5322 date-time in UTC (`Fri, 4 Dec 2026 16:50:03 +0000`). */
export function rfc5322Date(d: Date): string {
  return `${DAYS[d.getUTCDay()]}, ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`
}

// client-supplied text in a header: printable ASCII only (no CR/LF: no header injection)
const atom = (s: string) => s.replace(/[^\x21-\x7e]/g, '?').replace(/[()<>;]/g, '?')

/**
 * The `Delivered-To` and `Received` header lines (RFC 5321 4.4, as Postfix and Dovecot
 * write them) a delivery prepends to the message, ending in CRLF.
 */
export function deliveryHeaders(t: TraceInfo): string {
  const from =
    t.clientHostname !== undefined && t.clientHostname !== '' && t.clientHostname !== `[${t.remoteAddress}]`
      ? `${atom(t.clientHostname)} [${atom(t.remoteAddress)}]`
      : `[${atom(t.remoteAddress)}]`
  const rcpt = atom(t.recipient)
  return (
    `Delivered-To: ${rcpt}\r\n` +
    `Received: from ${atom(t.helo) || 'unknown'} (${from})\r\n` +
    `\tby ${atom(t.serverName)} (mailweave) with LMTP id ${atom(t.id)}\r\n` +
    `\tfor <${rcpt}>; ${rfc5322Date(t.date)}\r\n`
  )
}
