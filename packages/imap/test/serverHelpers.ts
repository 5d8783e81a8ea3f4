// Shared fixtures for the server tests: a MemoryBackend server on 127.0.0.1:0 and a raw
// line-level client that waits on conditions with deadlines (no sleeps).
import * as net from 'node:net'
import * as tls from 'node:tls'
import { ImapServer, MemoryBackend } from '../src/index.ts'
import type { ImapServerOptions } from '../src/index.ts'

export const USER = 'alice'
export const PASS = 'correct horse'

export interface TestServer {
  readonly server: ImapServer
  readonly backend: MemoryBackend
  readonly port: number
  /** Unexpected failures the server reported (tests assert there were none). */
  readonly errors: Array<{ context: string; error: unknown }>
  close(): Promise<void>
}

/** A server over a fresh MemoryBackend with users alice and bob. */
export async function startServer(options: Partial<ImapServerOptions> & { backend?: MemoryBackend } = {}): Promise<TestServer> {
  const backend = options.backend ?? new MemoryBackend()
  await backend.addUser(USER, PASS)
  await backend.addUser('bob', 'bobpass')
  const errors: Array<{ context: string; error: unknown }> = []
  // no delay after a failed login unless a test asks for one (the default is 1 s)
  const server = new ImapServer({
    authFailureDelayMs: 0,
    maxAuthFailures: 100,
    ...options,
    backend,
    onError: (context, error) => errors.push({ context, error }),
  })
  const { port } = await server.listen(0, '127.0.0.1')
  return { server, backend, port, errors, close: () => server.close() }
}

/** A message with the given subject (CRLF line ends). */
export function message(subject: string, body = 'Hello there.\r\n', extra = ''): Buffer {
  return Buffer.from(
    `From: Bob Example <bob@example.org>\r\nTo: alice@example.com\r\nSubject: ${subject}\r\nDate: Mon, 1 Jan 2024 10:00:00 +0100\r\nMessage-ID: <${subject.replace(/\W/g, '')}@example.org>\r\n${extra}\r\n${body}`,
  )
}

/** Waits until `cond()` holds (checked every few ms), failing after `ms`. */
export async function waitFor(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 2))
  }
}

/**
 * A line-level IMAP client: `command()` sends a tagged line and resolves with every line
 * received up to and including its tagged response. Literal bytes appear as lines too.
 */
export class RawClient {
  #socket: net.Socket
  #buffer = ''
  readonly lines: string[] = []
  #cursor = 0
  #seq = 0
  #waiters: Array<() => void> = []
  closed = false

  private constructor(socket: net.Socket) {
    this.#socket = socket
    this.#listen(socket)
  }

  #listen(socket: net.Socket): void {
    socket.on('data', (d: Buffer) => {
      this.#buffer += d.toString('latin1')
      let i: number
      while ((i = this.#buffer.indexOf('\r\n')) >= 0) {
        this.lines.push(this.#buffer.slice(0, i))
        this.#buffer = this.#buffer.slice(i + 2)
      }
      this.#wake()
    })
    socket.on('close', () => {
      this.closed = true
      this.#wake()
    })
    socket.on('error', () => undefined)
  }

  #wake(): void {
    const w = this.#waiters
    this.#waiters = []
    for (const f of w) f()
  }

  static async connect(port: number): Promise<RawClient> {
    const socket = net.connect(port, '127.0.0.1')
    const c = new RawClient(socket)
    await c.until((l) => l.startsWith('* OK') || l.startsWith('* BYE'))
    return c
  }

  /** Waits for the next unread line matching `pred`; returns the lines read up to it. */
  async until(pred: (line: string) => boolean, ms = 5000): Promise<string[]> {
    const deadline = Date.now() + ms
    for (;;) {
      for (let i = this.#cursor; i < this.lines.length; i++) {
        if (pred(this.lines[i]!)) {
          const out = this.lines.slice(this.#cursor, i + 1)
          this.#cursor = i + 1
          return out
        }
      }
      if (this.closed) throw new Error(`connection closed; unread: ${JSON.stringify(this.lines.slice(this.#cursor))}`)
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`timed out; unread: ${JSON.stringify(this.lines.slice(this.#cursor))}`)
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left)
        this.#waiters.push(() => {
          clearTimeout(t)
          resolve()
        })
      })
    }
  }

  /** Lines received and not yet consumed by `until`/`command`. */
  unread(): string[] {
    return this.lines.slice(this.#cursor)
  }

  write(data: string | Buffer): void {
    this.#socket.write(data)
  }

  /** Sends `<tag> <text>` and returns the lines up to the tagged response (last element). */
  async command(text: string, ms = 5000): Promise<string[]> {
    const tag = `T${++this.#seq}`
    this.write(`${tag} ${text}\r\n`)
    return this.until((l) => l.startsWith(`${tag} `), ms)
  }

  /**
   * APPENDs `raw` as a LITERAL+ literal (sent byte-exact) to `mailbox`, with `flags` (e.g.
   * `(\\Seen)`) when given; returns the lines up to the tagged response, throws unless it is OK.
   */
  async append(raw: Buffer, opts: { mailbox?: string; flags?: string } = {}): Promise<string[]> {
    const tag = `T${++this.#seq}`
    this.write(
      Buffer.concat([
        Buffer.from(`${tag} APPEND ${opts.mailbox ?? 'INBOX'} ${opts.flags !== undefined ? `${opts.flags} ` : ''}{${raw.length}+}\r\n`),
        raw,
        Buffer.from('\r\n'),
      ]),
    )
    const r = await this.until((l) => l.startsWith(`${tag} `))
    if (!r[r.length - 1]!.includes(' OK ')) throw new Error(`APPEND failed: ${r.join('\n')}`)
    return r
  }

  async login(user = USER, pass = PASS): Promise<void> {
    const r = await this.command(`LOGIN ${user} "${pass}"`)
    if (!r[r.length - 1]!.includes(' OK ')) throw new Error(`login failed: ${r.join('\n')}`)
  }

  /** Upgrades to TLS after a STARTTLS OK (certificate not verified: tests use a self-signed one). */
  async startTls(): Promise<void> {
    const raw = this.#socket
    raw.removeAllListeners('data')
    raw.removeAllListeners('close')
    const secure = tls.connect({ socket: raw, rejectUnauthorized: false })
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve)
      secure.once('error', reject)
    })
    this.#socket = secure
    this.#listen(secure)
  }

  /** Resolves once the server closed the connection. */
  async closedByServer(ms = 5000): Promise<void> {
    await waitFor('server to close the connection', () => this.closed, ms)
  }

  close(): void {
    this.#socket.destroy()
  }
}
