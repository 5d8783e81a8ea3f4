import { connect, type Socket } from 'node:net'

/** One reply of an LMTP/SMTP server: its code and its lines' text (multi-line joined by `\n`). */
export interface LmtpReply {
  code: number
  text: string
}

/**
 * A byte-exact LMTP client for tests: sends what it is told (bad input included) and reads
 * replies one at a time, so a test can check each per-recipient reply after DATA.
 */
export class LmtpClient {
  readonly #socket: Socket
  #buffer = ''
  #waiting: (() => void) | undefined
  #closed = false

  private constructor(socket: Socket) {
    this.#socket = socket
    socket.setEncoding('latin1')
    socket.on('data', (d: string) => {
      this.#buffer += d
      this.#waiting?.()
    })
    socket.on('close', () => {
      this.#closed = true
      this.#waiting?.()
    })
    socket.on('error', () => undefined)
  }

  /** Connects and reads the greeting (throws unless it is 220). */
  static async connect(port: number, host = '127.0.0.1'): Promise<LmtpClient> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect(port, host, () => resolve(s))
      s.once('error', reject)
    })
    const c = new LmtpClient(socket)
    const greeting = await c.reply()
    if (greeting.code !== 220) throw new Error(`unexpected greeting ${greeting.code} ${greeting.text}`)
    return c
  }

  /** Whether the server closed the connection. */
  get closed(): boolean {
    return this.#closed
  }

  /** Writes bytes as they are. */
  write(data: string | Uint8Array): void {
    this.#socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data)
  }

  /** Sends one command line (CRLF added) and reads its reply. */
  async command(line: string, timeoutMs = 10_000): Promise<LmtpReply> {
    this.write(`${line}\r\n`)
    return this.reply(timeoutMs)
  }

  /** Reads the next complete reply; rejects when the connection closes or the time is up. */
  async reply(timeoutMs = 10_000): Promise<LmtpReply> {
    const deadline = Date.now() + timeoutMs
    const lines: string[] = []
    for (;;) {
      const i = this.#buffer.indexOf('\r\n')
      if (i >= 0) {
        const line = this.#buffer.slice(0, i)
        this.#buffer = this.#buffer.slice(i + 2)
        lines.push(line.slice(4))
        if (line[3] !== '-') return { code: Number(line.slice(0, 3)), text: lines.join('\n') }
        continue
      }
      if (this.#closed) throw new Error(`connection closed before a reply (got ${JSON.stringify(lines)})`)
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`no reply within ${timeoutMs} ms`)
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left)
        this.#waiting = () => {
          clearTimeout(t)
          this.#waiting = undefined
          resolve()
        }
      })
    }
  }

  /**
   * One whole transaction: LHLO (once per connection is up to the caller), MAIL FROM, each
   * RCPT TO, DATA and the message (dot-stuffed here, CRLF line ends as given), then one
   * reply per accepted recipient. Returns the RCPT replies and the DATA replies.
   */
  async send(
    from: string,
    to: string[],
    message: string | Uint8Array,
    mailParams = '',
  ): Promise<{ mail: LmtpReply; rcpt: LmtpReply[]; data: LmtpReply[] }> {
    const mail = await this.command(`MAIL FROM:<${from}>${mailParams}`)
    const rcpt: LmtpReply[] = []
    for (const t of to) rcpt.push(await this.command(`RCPT TO:<${t}>`))
    const accepted = rcpt.filter((r) => r.code === 250).length
    if (mail.code !== 250 || accepted === 0) return { mail, rcpt, data: [] }
    const go = await this.command('DATA')
    if (go.code !== 354) return { mail, rcpt, data: [go] }
    const bytes = typeof message === 'string' ? Buffer.from(message, 'latin1') : Buffer.from(message)
    const stuffed = Buffer.from(bytes.toString('latin1').replace(/(^|\r\n)\./g, '$1..'), 'latin1')
    this.write(Buffer.concat([stuffed, Buffer.from(stuffed.subarray(-2).toString() === '\r\n' ? '.\r\n' : '\r\n.\r\n')]))
    const data: LmtpReply[] = []
    for (let i = 0; i < accepted; i++) data.push(await this.reply())
    return { mail, rcpt, data }
  }

  /** QUIT and close. */
  async quit(): Promise<void> {
    if (!this.#closed) await this.command('QUIT').catch(() => undefined)
    this.#socket.destroy()
  }

  /** Closes the connection at once (no QUIT). */
  destroy(): void {
    this.#socket.destroy()
  }
}
