import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { MailweaveError, StorageError, type BlobStore, type MailboxView } from '@mailweave/core'
import type { MailStore } from './MailStore.ts'
import { NodeError } from './NodeError.ts'
import type { UserDirectory } from './UserDirectory.ts'
import type { Logger } from './Logger.ts'
import { lmtpReply, parseRecipient, type Delivery, type Recipient } from '@mailweave/lmtp'

/** What the HTTP API reads about the node for /api/status and /metrics. */
export interface NodeStatusSource {
  status(): Record<string, unknown>
  metrics(): string
}

/** Options of {@link HttpApi}. */
export interface HttpApiOptions {
  store: MailStore
  users: UserDirectory
  blobs: BlobStore
  secret: Uint8Array
  log: Logger
  node: NodeStatusSource
  /**
   * Stores one LMTP delivery forwarded by another process of the region (`POST
   * /api/admin/deliver`); resolves once durable, rejects with an LmtpError to refuse.
   */
  deliver?: (rcpt: Recipient, delivery: Delivery) => Promise<void>
  /** A wrong user or password is answered (401) after this long (default 1000 ms), as IMAP LOGIN is. */
  authFailureDelayMs?: number
}

/** The admin bearer token of a cluster secret (what `mailweave` CLI commands send). */
export function adminToken(secret: Uint8Array): string {
  return createHmac('sha256', secret).update('mailweave-admin-v1').digest('base64url')
}

const STATUS: Record<NodeError['code'], number> = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  TOO_LARGE: 413,
  UNAVAILABLE: 503,
  STORAGE: 507,
}
const CORE_STATUS: Partial<Record<MailweaveError['code'], number>> = {
  UNKNOWN_GUID: 404,
  INVALID_ARGUMENT: 400,
  SLOT_CONFLICT: 503,
  STRIDE_MISMATCH: 503,
  EDGE_CANNOT_EXPOSE: 500,
  UID_SPACE_EXHAUSTED: 507,
  CORRUPT_UPDATE: 400,
  INVALID_OPTIONS: 500,
}

/** Maps any error to an HTTP status and a message for people: the one place this happens. */
export function httpError(e: unknown): { status: number; code: string; message: string } {
  if (e instanceof NodeError) return { status: STATUS[e.code], code: e.code, message: e.message }
  if (e instanceof MailweaveError) return { status: CORE_STATUS[e.code] ?? 500, code: e.code, message: e.message }
  if (e instanceof StorageError) return { status: e.code === 'DISK_FULL' ? 507 : 500, code: `STORAGE_${e.code}`, message: e.message }
  return { status: 500, code: 'INTERNAL', message: 'internal error' }
}

interface Ctx {
  req: IncomingMessage
  res: ServerResponse
  url: URL
  parts: string[]
}

const json = (res: ServerResponse, status: number, body: unknown) => {
  const data = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(data) })
  res.end(data)
}

const viewJson = (v: MailboxView) => ({
  uidValidity: v.uidValidity,
  uidNext: v.uidNext,
  messages: v.messages.map((m) => ({ uid: m.uid, guid: m.guid, flags: m.flags })),
})

/**
 * The node's small authenticated HTTP API (used by the CLI, tests and the browser):
 *
 * | route | auth | does |
 * |---|---|---|
 * | `GET /healthz` | none | liveness |
 * | `GET /metrics` | none | Prometheus text |
 * | `POST /api/token` | Basic | a bearer token valid at every node |
 * | `GET /api/mailboxes` | user | list mailboxes |
 * | `POST /api/mailboxes` `{name}` | user | create |
 * | `GET /api/mailboxes/:name` | user | read as a client would: an exposure |
 * | `POST /api/mailboxes/:name/messages?flags=a,b` raw body | user | append (durable) |
 * | `GET /api/mailboxes/:name/messages` | user | the view with each message's content hash and INTERNALDATE (no exposure) |
 * | `GET /api/mailboxes/:name/messages/:guid` | user | message metadata and UID history |
 * | `GET /api/mailboxes/:name/messages/:guid/raw` | user | the raw message |
 * | `POST /api/mailboxes/:name/flags` `{guid, add?, remove?}` | user | set flags |
 * | `POST /api/mailboxes/:name/expunge` `{guids}` | user | expunge |
 * | `PUT /api/blobs/:sha256` raw body | user | upload a body (verified by hash) |
 * | `GET /api/inspect/:user/:name` | admin or owner | protocol state |
 * | `GET /api/status` | admin | node, peers, storage |
 * | `POST /api/admin/users` `{name, password}` | admin | add a user or set a password |
 * | `POST /api/admin/deliver?rcpt=&receivedAt=&originalAt=` raw body | admin | an LMTP delivery another process of the region forwards (durable before 200) |
 */
export class HttpApi {
  constructor(private readonly o: HttpApiOptions) {}

  /** Handles one request; never throws. */
  handle(req: IncomingMessage, res: ServerResponse): void {
    // Browsers (edge replicas) call the API from another origin with bearer tokens, never cookies.
    res.setHeader('access-control-allow-origin', '*')
    if (req.method === 'OPTIONS') {
      res.writeHead(204, {
        'access-control-allow-methods': 'GET, POST, PUT, OPTIONS',
        'access-control-allow-headers': 'authorization, content-type',
        'access-control-max-age': '600',
      })
      res.end()
      return
    }
    const url = new URL(req.url ?? '/', 'http://localhost')
    const parts = url.pathname
      .split('/')
      .filter((p) => p !== '')
      .map((p) => decodeURIComponent(p))
    this.route({ req, res, url, parts }).catch((e: unknown) => {
      const err = httpError(e)
      if (err.status >= 500) this.o.log.error({ path: url.pathname, err: e instanceof Error ? e.stack : String(e) }, 'request failed')
      if (!res.headersSent) json(res, err.status, { error: err.code, message: err.message })
      else res.destroy()
    })
  }

  private async route(c: Ctx): Promise<void> {
    const { req, res, parts } = c
    const m = req.method ?? 'GET'
    if (m === 'GET' && parts.length === 1 && parts[0] === 'healthz')
      return json(res, 200, { ok: true, ...(this.o.node.status().node as object) })
    if (m === 'GET' && parts.length === 1 && parts[0] === 'metrics') {
      const body = this.o.node.metrics()
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' })
      res.end(body)
      return
    }
    if (parts[0] !== 'api') throw new NodeError('NOT_FOUND', `no route ${m} ${c.url.pathname}`)
    const [, area, a1, a2, a3, a4] = parts
    if (m === 'POST' && area === 'token' && parts.length === 2) {
      const user = await this.basicUser(req)
      return json(res, 200, { token: this.o.users.issueToken(user), user })
    }
    if (area === 'status' && m === 'GET') {
      this.requireAdmin(req)
      return json(res, 200, this.o.node.status())
    }
    if (area === 'admin' && a1 === 'users' && m === 'POST') {
      this.requireAdmin(req)
      const body = (await readJson(req)) as { name?: unknown; password?: unknown }
      await this.o.users.setPassword(String(body.name ?? ''), String(body.password ?? ''))
      return json(res, 200, { ok: true, name: body.name })
    }
    if (area === 'admin' && a1 === 'deliver' && m === 'POST' && this.o.deliver !== undefined) {
      this.requireAdmin(req)
      const rcpt = parseRecipient(c.url.searchParams.get('rcpt') ?? '')
      const receivedAt = new Date(c.url.searchParams.get('receivedAt') ?? '')
      const at = Number(c.url.searchParams.get('originalAt'))
      if (rcpt === undefined || Number.isNaN(receivedAt.getTime()) || !Number.isInteger(at) || at < 0)
        throw new NodeError('BAD_REQUEST', 'deliver needs rcpt, receivedAt and originalAt')
      const raw = await readBody(req, this.o.store.maxMessageBytes)
      if (at > raw.length) throw new NodeError('BAD_REQUEST', 'originalAt is past the end of the message')
      try {
        await this.o.deliver(rcpt, { raw, original: raw.subarray(at), receivedAt })
      } catch (e) {
        const reply = lmtpReply(e)
        return json(res, reply.code < 500 ? 503 : 422, { error: 'LMTP', lmtp: reply.code, message: reply.message })
      }
      return json(res, 200, { ok: true })
    }
    if (area === 'inspect' && m === 'GET' && a1 !== undefined && a2 !== undefined) {
      if (!this.isAdmin(req) && (await this.user(req)) !== a1)
        throw new NodeError('FORBIDDEN', 'inspect needs the admin token or the account owner')
      const h = await this.mustOpen(a1, a2)
      try {
        return json(res, 200, { node: this.o.store.node, mailbox: h.entry, stats: h.mailbox.stats, ...h.mailbox.inspect() })
      } finally {
        h.release()
      }
    }
    const user = await this.user(req)
    if (area === 'blobs' && m === 'PUT' && a1 !== undefined) {
      const bytes = await readBody(req, this.o.store.maxMessageBytes)
      const hash = createHash('sha256').update(bytes).digest('hex')
      if (hash !== a1) throw new NodeError('BAD_REQUEST', `body hashes to ${hash}, not ${a1}`)
      await this.o.blobs.put(hash, bytes)
      return json(res, 200, { ok: true, hash })
    }
    if (area !== 'mailboxes') throw new NodeError('NOT_FOUND', `no route ${m} ${c.url.pathname}`)
    if (a1 === undefined) {
      if (m === 'GET') return json(res, 200, { mailboxes: await this.o.store.withAccount(user, (acct) => acct.list()) })
      if (m === 'POST') {
        const body = (await readJson(req)) as { name?: unknown }
        return json(res, 201, await this.o.store.withAccount(user, (acct) => acct.create(String(body.name ?? ''))))
      }
    }
    if (a1 === undefined) throw new NodeError('NOT_FOUND', 'no such route')
    const h = await this.mustOpen(user, a1)
    try {
      if (m === 'GET' && a2 === undefined) return json(res, 200, viewJson(await h.expose()))
      if (m === 'POST' && a2 === 'messages' && a3 === undefined) {
        const raw = await readBody(req, this.o.store.maxMessageBytes)
        const flags = (c.url.searchParams.get('flags') ?? '').split(',').filter((f) => f !== '')
        const date = c.url.searchParams.get('internalDate')
        const guid = await h.append(raw, { flags, internalDate: date === null ? undefined : new Date(date) })
        return json(res, 201, { guid })
      }
      if (m === 'GET' && a2 === 'messages' && a3 === undefined) {
        // what an importer compares against to skip messages it imported before
        const messages = h.mailbox.view().messages.map((e) => {
          const info = h.mailbox.message(e.guid)
          return { uid: e.uid, guid: e.guid, flags: e.flags, hash: info?.hash ?? '', internalDate: info?.internalDate.toISOString() }
        })
        return json(res, 200, { messages })
      }
      if (m === 'GET' && a2 === 'messages' && a3 !== undefined && a4 === undefined) {
        const info = h.mailbox.message(a3)
        if (info === undefined) throw new NodeError('NOT_FOUND', `no message ${a3}`)
        return json(res, 200, info)
      }
      if (m === 'GET' && a2 === 'messages' && a3 !== undefined && a4 === 'raw') {
        const body = await h.body(a3)
        if (body === undefined) throw new NodeError('NOT_FOUND', `no body for message ${a3} at this node (yet)`)
        res.writeHead(200, { 'content-type': 'message/rfc822', 'content-length': body.length })
        res.end(body)
        return
      }
      if (m === 'POST' && a2 === 'flags') {
        const body = (await readJson(req)) as { guid?: unknown; add?: unknown; remove?: unknown }
        h.mailbox.setFlags(String(body.guid), { add: strings(body.add), remove: strings(body.remove) })
        await h.flush()
        return json(res, 200, { ok: true })
      }
      if (m === 'POST' && a2 === 'expunge') {
        const body = (await readJson(req)) as { guids?: unknown }
        h.mailbox.expunge(strings(body.guids))
        await h.flush()
        return json(res, 200, { ok: true })
      }
    } finally {
      h.release()
    }
    throw new NodeError('NOT_FOUND', `no route ${m} ${c.url.pathname}`)
  }

  private async mustOpen(user: string, name: string) {
    const h = await this.o.store.open(user, name)
    if (h === undefined) throw new NodeError('NOT_FOUND', `no mailbox ${JSON.stringify(name)}`)
    return h
  }

  private isAdmin(req: IncomingMessage): boolean {
    const auth = req.headers.authorization ?? ''
    if (!auth.startsWith('Bearer ')) return false
    const got = Buffer.from(auth.slice(7))
    const want = Buffer.from(adminToken(this.o.secret))
    return got.length === want.length && timingSafeEqual(got, want)
  }

  private requireAdmin(req: IncomingMessage): void {
    if (!this.isAdmin(req)) throw new NodeError('UNAUTHORIZED', 'this route needs the admin token (derived from the cluster secret)')
  }

  private async basicUser(req: IncomingMessage): Promise<string> {
    const auth = req.headers.authorization ?? ''
    if (!auth.startsWith('Basic ')) throw new NodeError('UNAUTHORIZED', 'use HTTP Basic authentication (user:password) to get a token')
    const decoded = Buffer.from(auth.slice(6), 'base64').toString('utf8')
    const i = decoded.indexOf(':')
    const user = decoded.slice(0, i)
    if (i < 0 || !(await this.o.users.verify(user, decoded.slice(i + 1)))) {
      // slows password guessing; the request's own connection waits, nothing else does
      const delay = this.o.authFailureDelayMs ?? 1000
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay).unref())
      throw new NodeError('UNAUTHORIZED', 'wrong user or password')
    }
    return user
  }

  private async user(req: IncomingMessage): Promise<string> {
    const auth = req.headers.authorization ?? ''
    if (auth.startsWith('Bearer ')) {
      const u = this.o.users.checkToken(auth.slice(7))
      if (u === undefined) throw new NodeError('UNAUTHORIZED', 'invalid or expired token')
      return u
    }
    return this.basicUser(req)
  }
}

function strings(v: unknown): string[] {
  if (v === undefined) return []
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new NodeError('BAD_REQUEST', 'expected an array of strings')
  return v
}

/** Reads a request body up to `limit` bytes; larger bodies are refused with TOO_LARGE. */
async function readBody(req: IncomingMessage, limit: number): Promise<Uint8Array> {
  const declared = Number(req.headers['content-length'] ?? NaN)
  if (declared > limit) {
    req.resume()
    throw new NodeError('TOO_LARGE', `body of ${declared} bytes exceeds the limit of ${limit}`)
  }
  const chunks: Buffer[] = []
  let n = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    n += chunk.length
    if (n > limit) {
      req.resume()
      throw new NodeError('TOO_LARGE', `body exceeds the limit of ${limit} bytes`)
    }
    chunks.push(chunk)
  }
  return new Uint8Array(Buffer.concat(chunks))
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const bytes = await readBody(req, 1024 * 1024)
  try {
    return JSON.parse(new TextDecoder().decode(bytes))
  } catch {
    throw new NodeError('BAD_REQUEST', 'body is not valid JSON')
  }
}
