import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { createProxyServer } from 'http-proxy-3'
import { docOwner } from '@mailweave/core'
import { LmtpError, tryLater, type Delivery, type Recipient } from '@mailweave/lmtp'
import type { AccountOwnership, AccountRoute, ProcessAddresses } from './AccountOwnership.ts'
import { adminToken } from './HttpApi.ts'
import type { Logger } from './Logger.ts'
import type { UserDirectory } from './UserDirectory.ts'

/** Header a forwarding process adds: a request that already was forwarded once is never forwarded again. */
export const FORWARDED_HEADER = 'x-mailweave-forwarded-by'

/** Options of {@link AccountRouter}. */
export interface AccountRouterOptions {
  ownership: AccountOwnership | undefined
  users: UserDirectory
  secret: Uint8Array
  log: Logger
}

/** The user an HTTP API request acts for, as far as routing is concerned (the owner checks the credentials). */
export function httpRequestUser(req: IncomingMessage, users: UserDirectory): string | undefined {
  const parts = new URL(req.url ?? '/', 'http://localhost').pathname.split('/').filter((p) => p !== '')
  if (parts[0] !== 'api') return undefined
  if (parts[1] === 'inspect' && parts[2] !== undefined) return safeDecode(parts[2])
  if (parts[1] !== 'mailboxes') return undefined
  const auth = req.headers.authorization ?? ''
  if (auth.startsWith('Bearer ')) return users.checkToken(auth.slice(7))
  if (auth.startsWith('Basic ')) {
    const decoded = Buffer.from(auth.slice(6), 'base64').toString('utf8')
    const i = decoded.indexOf(':')
    return i > 0 ? decoded.slice(0, i) : undefined
  }
  return undefined
}

const safeDecode = (s: string): string | undefined => {
  try {
    return decodeURIComponent(s)
  } catch {
    return undefined
  }
}

/** The user whose account an `/edge/<doc>` upgrade names. */
export function edgeRequestUser(req: IncomingMessage): string | undefined {
  const path = (req.url ?? '').split('?')[0] ?? ''
  const name = safeDecode(path.slice('/edge/'.length))
  return name === undefined ? undefined : docOwner(name)
}

/**
 * Where each account of a region of several processes is served, and the forwarding to
 * the process that serves it (see `AccountOwnership`). It remembers the accounts this
 * process was told it owns (`route` answered `local`) until `onLost`, so the mail store can
 * refuse to allocate for any other; without an ownership (a region of one process) every
 * account is local. HTTP requests and WebSocket upgrades are proxied with http-proxy-3
 * (bodies stream, headers such as Authorization pass unchanged); LMTP deliveries go to the
 * owner's `POST /api/admin/deliver`, which answers only once the message is durable.
 */
export class AccountRouter {
  private readonly owned = new Set<string>()
  private readonly proxy = createProxyServer({ ws: true })
  /** Requests and upgrades forwarded so far (status). */
  forwarded = 0

  constructor(private readonly o: AccountRouterOptions) {
    const me = o.ownership?.processId ?? ''
    this.proxy.on('proxyReq', (proxyReq) => proxyReq.setHeader(FORWARDED_HEADER, me))
    this.proxy.on('proxyReqWs', (proxyReq) => proxyReq.setHeader(FORWARDED_HEADER, me))
  }

  /** Whether several processes share the region (an ownership is present). */
  get shared(): boolean {
    return this.o.ownership !== undefined
  }

  /** This process's name within the region. */
  get processId(): string | undefined {
    return this.o.ownership?.processId
  }

  /** Where `user` is served now; `local` marks the account as owned here. */
  async route(user: string): Promise<AccountRoute> {
    const ownership = this.o.ownership
    if (ownership === undefined) return { kind: 'local' }
    const r = await ownership.route(user)
    if (r.kind === 'local') this.owned.add(user)
    else this.owned.delete(user)
    return r
  }

  /** Where the region's peer links run now. */
  routePeers(): Promise<AccountRoute> {
    return this.o.ownership?.routePeers() ?? Promise.resolve({ kind: 'local' })
  }

  /** Whether this process may allocate for `user` (it was routed here and not lost since). */
  owns(user: string): boolean {
    return this.o.ownership === undefined || this.owned.has(user)
  }

  /** Forgets an account this process lost. */
  lost(user: string): void {
    this.owned.delete(user)
  }

  /** The accounts this process owns now. */
  ownedAccounts(): string[] {
    return [...this.owned].sort()
  }

  /** Proxies an HTTP request to `owner` (once: a forwarded request is never forwarded again). */
  forwardHttp(req: IncomingMessage, res: ServerResponse, owner: ProcessAddresses): void {
    if (req.headers[FORWARDED_HEADER] !== undefined) return refuse(res, 'forwarded twice: the processes disagree on the owner; try again')
    this.forwarded++
    this.proxy.web(req, res, { target: owner.http }, (err) => {
      this.o.log.warn({ owner: owner.process, err: String(err) }, 'could not forward a request to the owning process')
      refuse(res, `the process serving this account (${owner.process}) cannot be reached now`)
    })
  }

  /** Proxies a WebSocket upgrade (`/edge/…`, `/peer`) to `owner`. */
  forwardUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, owner: ProcessAddresses): void {
    if (req.headers[FORWARDED_HEADER] !== undefined) return void socket.end(UNAVAILABLE)
    this.forwarded++
    this.proxy.ws(req, socket, head, { target: owner.http }, (err) => {
      this.o.log.warn({ owner: owner.process, err: String(err) }, 'could not forward an upgrade to the owning process')
      socket.destroy()
    })
  }

  /**
   * Delivers one LMTP recipient through the owner: resolves once the owner made the message
   * durable; its refusal comes back as the same LMTP reply, anything else as a temporary failure.
   */
  async deliverAt(owner: ProcessAddresses, rcpt: Recipient, delivery: Delivery): Promise<void> {
    const q = new URLSearchParams({
      rcpt: rcpt.address,
      receivedAt: delivery.receivedAt.toISOString(),
      originalAt: String(delivery.raw.length - delivery.original.length),
    })
    let r: Response
    try {
      r = await fetch(`${owner.http}/api/admin/deliver?${q}`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${adminToken(this.o.secret)}`,
          'content-type': 'message/rfc822',
          [FORWARDED_HEADER]: this.o.ownership?.processId ?? '',
        },
        body: delivery.raw as Uint8Array<ArrayBuffer>,
        signal: AbortSignal.timeout(120_000),
      })
    } catch (e) {
      throw tryLater(`the process serving ${rcpt.user} (${owner.process}) cannot be reached now: ${String(e)}`)
    }
    this.forwarded++
    const body = (await r.json().catch(() => ({}))) as { lmtp?: number; message?: string }
    if (r.ok) return
    if (typeof body.lmtp === 'number' && body.lmtp >= 400 && body.lmtp <= 599) throw new LmtpError(body.lmtp, body.message ?? 'refused')
    throw tryLater(`the process serving ${rcpt.user} could not store the message now (${r.status})`)
  }

  /** Closes the proxy's idle connections. */
  close(): void {
    this.proxy.close()
  }
}

const UNAVAILABLE = 'HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n'

function refuse(res: ServerResponse, message: string): void {
  if (res.headersSent) return void res.destroy()
  const data = JSON.stringify({ error: 'UNAVAILABLE', message })
  res.writeHead(503, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(data), 'retry-after': '1' })
  res.end(data)
}
