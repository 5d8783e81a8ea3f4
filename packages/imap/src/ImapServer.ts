import { readFile } from 'node:fs/promises'
import * as net from 'node:net'
import * as tls from 'node:tls'
import type { ImapBackend } from './ImapBackend.ts'
import { ImapSession } from './ImapSession.ts'
import type { SessionContext, SessionSettings } from './ImapSession.ts'
import { StructureCache } from './mime/StructureCache.ts'
import type { EnvelopeStore } from './EnvelopeStore.ts'
import { encodeUntaggedStatus } from './wire/encode.ts'

const PRE_AUTH_LINE_LENGTH = 8 * 1024
const PRE_AUTH_LITERAL_SIZE = 8 * 1024
const PRE_AUTH_COMMAND_SIZE = 16 * 1024

/** Options of {@link ImapServer}. */
export interface ImapServerOptions {
  readonly backend: ImapBackend
  /** PEM certificate and key files; when given, STARTTLS is offered. */
  readonly tls?: { readonly certFile: string; readonly keyFile: string }
  /** Allow LOGIN / AUTHENTICATE PLAIN without TLS from non-loopback peers (default false). */
  readonly allowPlaintextAuth?: boolean
  /** Treat loopback connections like TLS ones for plaintext authentication (default true). */
  readonly trustLoopback?: boolean
  /** Concurrent authenticated connections per user (default 20). */
  readonly maxConnectionsPerUser?: number
  /** Concurrent connections in total (default 1000). */
  readonly maxConnections?: number
  /** Autologout after this long without a byte from the client (default 30 minutes). */
  readonly idleTimeoutMs?: number
  /** Largest literal, i.e. largest message APPEND accepts (default 50 MiB); advertised as APPENDLIMIT. */
  readonly maxLiteralSize?: number
  /** Longest command line (default 64 KiB; before login at most 8 KiB). */
  readonly maxLineLength?: number
  /**
   * Bytes all not-yet-authenticated connections together may have buffered (unfinished and
   * queued commands; default 4 MiB). Each such connection may hold at most 16 KiB (lines and
   * literals of 8 KiB, as Dovecot's imap-login allows 8 KiB lines); a connection whose data
   * would take the total past this limit gets `* BYE` and is closed.
   */
  readonly maxPreAuthBufferedBytes?: number
  /** Parsed message structures kept in memory (default 20,000: a large mailbox's ENVELOPE list stays cached). */
  readonly structureCacheSize?: number
  /** A failed LOGIN/AUTHENTICATE is answered after this long (default 1000 ms; Dovecot waits 2 s). */
  readonly authFailureDelayMs?: number
  /** Failed authentications after which a connection is closed (default 3). */
  readonly maxAuthFailures?: number
  /** Bound of dialling and logging in at the server holding an account when the backend forwards (default 10 000 ms). */
  readonly proxyTimeoutMs?: number
  /** Keeps encoded ENVELOPEs across restarts (loaded by `listen`); default: memory only. */
  readonly envelopeStore?: EnvelopeStore
  /** Name in the greeting and ID response (default `mailweave`). */
  readonly serverName?: string
  /** Unexpected failures (default: console.error). Client mistakes are never reported here. */
  readonly onError?: (context: string, error: unknown) => void
}

/**
 * The IMAP4rev1 server: accepts connections and runs one {@link ImapSession} each, over any
 * {@link ImapBackend}. Capabilities: IMAP4rev1, STARTTLS, AUTH=PLAIN, SASL-IR, LITERAL+,
 * UIDPLUS, MOVE, IDLE, UNSELECT, NAMESPACE, ENABLE, ID, CONDSTORE, QRESYNC, CHILDREN,
 * ESEARCH, MULTIAPPEND, APPENDLIMIT.
 */
export class ImapServer {
  readonly #options: ImapServerOptions
  readonly #settings: SessionSettings
  readonly #server: net.Server
  readonly #sessions = new Set<ImapSession>()
  readonly #perUser = new Map<string, number>()
  readonly #cache: StructureCache
  #attached = false
  #secureContext: tls.SecureContext | undefined
  readonly #logError: (context: string, error: unknown) => void
  #preAuthBytes = 0
  #preAuthPeak = 0

  constructor(options: ImapServerOptions) {
    this.#options = options
    const maxLiteralSize = options.maxLiteralSize ?? 50 * 1024 * 1024
    this.#settings = {
      backend: options.backend,
      allowPlaintextAuth: options.allowPlaintextAuth ?? false,
      trustLoopback: options.trustLoopback ?? true,
      idleTimeoutMs: options.idleTimeoutMs ?? 30 * 60 * 1000,
      maxLiteralSize,
      maxLineLength: options.maxLineLength ?? 64 * 1024,
      preAuthLiteralSize: PRE_AUTH_LITERAL_SIZE,
      preAuthLineLength: PRE_AUTH_LINE_LENGTH,
      preAuthCommandSize: PRE_AUTH_COMMAND_SIZE,
      serverName: options.serverName ?? 'mailweave',
      authFailureDelayMs: options.authFailureDelayMs ?? 1000,
      maxAuthFailures: Math.max(1, options.maxAuthFailures ?? 3),
      proxyTimeoutMs: options.proxyTimeoutMs ?? 10_000,
    }
    this.#cache = new StructureCache(options.structureCacheSize ?? 20_000)
    this.#logError = options.onError ?? ((context, error) => console.error(`imap: ${context}:`, error))
    this.#server = net.createServer((socket) => this.#accept(socket))
    this.#server.on('error', (e) => this.#logError('listener', e))
  }

  /** Starts listening (port 0: any free port); resolves with the bound address. */
  async listen(port = 0, host = '127.0.0.1'): Promise<{ host: string; port: number }> {
    const store = this.#options.envelopeStore
    if (store !== undefined && !this.#attached) {
      this.#attached = true
      try {
        await this.#cache.attach(store)
      } catch (e) {
        this.#logError('loading cached envelopes (the server starts without them)', e)
      }
    }
    const t = this.#options.tls
    if (t !== undefined && this.#secureContext === undefined) {
      const [cert, key] = await Promise.all([readFile(t.certFile), readFile(t.keyFile)])
      this.#secureContext = tls.createSecureContext({ cert, key })
    }
    await new Promise<void>((resolve, reject) => {
      const onError = (e: Error): void => reject(e)
      this.#server.once('error', onError)
      this.#server.listen(port, host, () => {
        this.#server.off('error', onError)
        resolve()
      })
    })
    const addr = this.#server.address() as net.AddressInfo
    return { host: addr.address, port: addr.port }
  }

  /** Number of open connections. */
  get connections(): number {
    return this.#sessions.size
  }

  /**
   * Bytes that not-yet-authenticated connections hold now, and the most they held at once
   * since the server started (never above `maxPreAuthBufferedBytes` plus one socket read).
   */
  get preAuthBuffered(): { bytes: number; peak: number } {
    return { bytes: this.#preAuthBytes, peak: this.#preAuthPeak }
  }

  /** Stops accepting, says BYE to every session and resolves once the listener is closed. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()))
    for (const s of this.#sessions) s.shutdown('Server shutting down')
    await closed
    await this.#options.envelopeStore?.flush().catch((e: unknown) => this.#logError('saving cached envelopes', e))
  }

  /**
   * Ends the sessions logged in (here, not proxied) as `user`, each with
   * `* BYE [UNAVAILABLE] reason` once its running command's response is out: the account
   * moved, and a client that reconnects is routed anew. Returns how many.
   */
  closeUser(user: string, reason: string): number {
    let n = 0
    for (const s of this.#sessions) {
      if (s.account?.user !== user || s.proxied) continue
      s.closeSoon(reason)
      n++
    }
    return n
  }

  #accept(socket: net.Socket): void {
    socket.on('error', () => socket.destroy())
    if (this.#sessions.size >= (this.#options.maxConnections ?? 1000)) {
      socket.end(encodeUntaggedStatus('BYE', 'Too many connections, try again later'))
      return
    }
    socket.setNoDelay(true)
    const context: SessionContext = {
      settings: this.#settings,
      cache: this.#cache,
      secureContext: this.#secureContext,
      acquireUser: (user) => {
        const n = this.#perUser.get(user) ?? 0
        if (n >= (this.#options.maxConnectionsPerUser ?? 20)) return false
        this.#perUser.set(user, n + 1)
        return true
      },
      releaseUser: (user) => {
        const n = (this.#perUser.get(user) ?? 1) - 1
        if (n <= 0) this.#perUser.delete(user)
        else this.#perUser.set(user, n)
      },
      sessionClosed: (s) => this.#sessions.delete(s),
      preAuthBuffered: (delta) => {
        this.#preAuthBytes += delta
        this.#preAuthPeak = Math.max(this.#preAuthPeak, this.#preAuthBytes)
        return this.#preAuthBytes <= (this.#options.maxPreAuthBufferedBytes ?? 4 * 1024 * 1024)
      },
      logError: this.#logError,
    }
    const session = new ImapSession(socket, context, { secure: false })
    this.#sessions.add(session)
    session.start()
  }
}
