import type { AddressInfo } from 'node:net'
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server'
import type { LmtpBackend, Recipient } from './LmtpBackend.ts'
import { LmtpError, lmtpReply, noSuchUser } from './LmtpError.ts'
import { deliveryHeaders } from './deliveryHeaders.ts'
import { parseRecipient } from './parseRecipient.ts'

/** Options of {@link LmtpServer}. */
export interface LmtpServerOptions {
  backend: LmtpBackend
  /** This server's host name: in the greeting and the Received header. */
  serverName: string
  /** Largest message accepted (advertised as SIZE; larger ones get 552, nothing stored). */
  maxMessageBytes: number
  /** Recipients per transaction (default 100; more get 452, RFC 5321 4.5.3.1.8). */
  maxRecipients?: number
  /** Open connections (default 100). */
  maxConnections?: number
  /** A connection idle this long is closed (default 60 s). */
  socketTimeoutMs?: number
  /** How long `close` lets open connections finish (default 1 s). */
  closeTimeoutMs?: number
  /** Errors that are not a client's fault (default: console.error). */
  onError?: (context: string, error: unknown) => void
}

/** An error object as smtp-server sends it: `responseCode` and the text. */
const replyError = (code: number, message: string) => Object.assign(new Error(message), { responseCode: code })

/**
 * Why a received message is refused as a whole, or undefined when it is fine: line ends
 * must be CRLF (a bare CR or LF is how SMTP smuggling splits one message into two, and
 * IMAP clients expect CRLF) and NUL is not allowed (RFC 5321 4.1.4, RFC 6152). 8-bit
 * bytes are accepted and stored as they are (8BITMIME is advertised).
 */
export function badContent(m: Uint8Array): string | undefined {
  for (let i = 0; i < m.length; i++) {
    const c = m[i]
    if (c === 0) return 'message contains a NUL byte'
    if (c === 0x0a && (i === 0 || m[i - 1] !== 0x0d)) return 'message contains a bare LF (lines must end with CRLF)'
    if (c === 0x0d && m[i + 1] !== 0x0a) return 'message contains a bare CR (lines must end with CRLF)'
  }
  return undefined
}

/**
 * An LMTP server (RFC 2033) over an {@link LmtpBackend}. The protocol layer is
 * nodemailer's `smtp-server` in LMTP mode; this class adds what a mail store must do:
 * recipients checked at RCPT, the message checked as a whole, then delivered to every
 * recipient in parallel with one reply per recipient after the final dot, each 250 sent
 * only once that recipient's copy is durable. Every failure is one reply (4xx: retry,
 * 5xx: bounce) and stores nothing for that recipient.
 */
export class LmtpServer {
  readonly #o: LmtpServerOptions
  readonly #server: SMTPServer
  readonly #inflight = new Set<Promise<unknown>>()
  #seq = 0

  constructor(options: LmtpServerOptions) {
    this.#o = options
    const onError = options.onError ?? ((context, error) => console.error(`lmtp: ${context}:`, error))
    this.#server = new SMTPServer({
      lmtp: true,
      name: options.serverName,
      banner: 'mailweave',
      size: options.maxMessageBytes,
      rejectOversized: true,
      // local delivery from the MTA: no AUTH, no STARTTLS (bind it to loopback or a private network)
      authOptional: true,
      disabledCommands: ['AUTH', 'STARTTLS'],
      hideSTARTTLS: true,
      // RFC 2034 codes (5.1.1, 4.3.0, ...) tell an MTA what a reply means beyond its class
      hideENHANCEDSTATUSCODES: false,
      disableReverseLookup: true,
      maxRecipients: options.maxRecipients ?? 100,
      maxClients: options.maxConnections ?? 100,
      socketTimeout: options.socketTimeoutMs ?? 60_000,
      closeTimeout: options.closeTimeoutMs ?? 1000,
      logger: false,
      onRcptTo: (address, _session, callback) => {
        const rcpt = parseRecipient(address.address)
        if (rcpt === undefined) return callback(replyError(553, `bad recipient address: ${address.address}`))
        this.#track(options.backend.accepts(rcpt)).then(
          (ok) => callback(ok ? undefined : replyError(550, noSuchUser(rcpt.address).message)),
          (e: unknown) => {
            const r = lmtpReply(e)
            if (!(e instanceof LmtpError)) onError('recipient check', e)
            callback(replyError(r.code, r.message))
          },
        )
      },
      onData: (stream, session, callback) => this.#onData(stream, session, callback, onError),
    })
    this.#server.on('error', (e) => onError('listener', e))
  }

  /** Starts listening (port 0: any free port); resolves with the bound address, rejects when it cannot bind. */
  async listen(port = 0, host = '127.0.0.1'): Promise<{ host: string; port: number }> {
    const net = this.#server.server
    await new Promise<void>((resolve, reject) => {
      const onError = (e: Error): void => reject(e)
      net.once('error', onError)
      this.#server.listen(port, host, () => {
        net.off('error', onError)
        resolve()
      })
    })
    const a = net.address() as AddressInfo
    return { host: a.address, port: a.port }
  }

  /** Stops accepting, lets open connections finish briefly, and resolves once every started delivery has settled. */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight])
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#inflight.add(p)
    void p.then(
      () => this.#inflight.delete(p),
      () => this.#inflight.delete(p),
    )
    return p
  }

  #onData(
    stream: SMTPServerDataStream,
    session: SMTPServerSession,
    callback: (err?: Error | null, message?: (string | Error)[]) => void,
    onError: (context: string, error: unknown) => void,
  ): void {
    const chunks: Buffer[] = []
    let bytes = 0
    stream.on('data', (c: Buffer) => {
      // past the limit the rest is only drained: smtp-server answers 552 for every recipient
      if (stream.sizeExceeded) return
      bytes += c.length
      chunks.push(c)
    })
    // the client went away before the final dot: nothing is stored, nothing answered
    stream.on('error', () => undefined)
    stream.on('end', () => {
      if (stream.sizeExceeded) return callback(replyError(552, 'message too large'))
      const original = new Uint8Array(Buffer.concat(chunks, bytes))
      const bad = badContent(original)
      if (bad !== undefined) return callback(replyError(554, bad))
      const rcpts = session.envelope.rcptTo.map((a) => parseRecipient(a.address)).filter((r): r is Recipient => r !== undefined)
      const receivedAt = new Date()
      const id = `${session.id}.${++this.#seq}`
      const helo = session.hostNameAppearsAs
      const deliveries = rcpts.map((rcpt) => {
        const head = deliveryHeaders({
          helo,
          remoteAddress: session.remoteAddress,
          clientHostname: session.clientHostname,
          serverName: this.#o.serverName,
          id,
          recipient: rcpt.address,
          date: receivedAt,
        })
        const raw = new Uint8Array(Buffer.concat([Buffer.from(head, 'latin1'), original]))
        return this.#track(this.#o.backend.deliver(rcpt, { original, raw, receivedAt }))
      })
      void Promise.allSettled(deliveries).then((results) => {
        callback(
          null,
          results.map((r, i) => {
            if (r.status === 'fulfilled') return `${rcpts[i]!.address} delivered (${id})`
            if (!(r.reason instanceof LmtpError)) onError(`delivery to ${rcpts[i]!.address}`, r.reason)
            const reply = lmtpReply(r.reason)
            return replyError(reply.code, `${rcpts[i]!.address}: ${reply.message}`)
          }),
        )
      })
    })
  }
}
