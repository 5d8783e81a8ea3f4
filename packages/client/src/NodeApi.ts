import type { MailboxInspection, MailboxStats, MessageInfo } from '@mailweave/core'
import { ApiError } from './ApiError.ts'

/** The `fetch` the client uses (injectable for tests). */
export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>

/** How requests authenticate: a bearer token (user or admin), a user's password (HTTP Basic), or nothing. */
export type ApiAuth = { token: string } | { user: string; password: string } | undefined

/** A mailbox of the account, as the node lists it. */
export interface ApiMailboxEntry {
  id: string
  name: string
  uidValidity: number
}

/** A mailbox read as an IMAP client reads it (an exposure at the node). */
export interface ApiMailboxListing {
  uidValidity: number
  uidNext: number
  messages: { uid: number; guid: string; flags: string[] }[]
}

/** A message's metadata and bindings as JSON carries them (the internal date as an ISO string). */
export type ApiMessageInfo = Omit<MessageInfo, 'internalDate' | 'uid'> & { internalDate: string; uid?: number }

/** `GET /api/inspect/<user>/<mailbox>`: the node's protocol state of one mailbox. */
export type ApiInspection = MailboxInspection & {
  node: { nodeId: string; slot: number; stride: number }
  mailbox: ApiMailboxEntry
  stats: MailboxStats
}

/** A status and body as the node answered (JSON parsed, else text). */
export interface ApiResponse {
  status: number
  data: any // eslint-disable-line @typescript-eslint/no-explicit-any -- the node answers many JSON shapes
}

function base64(text: string): string {
  let bin = ''
  for (const b of new TextEncoder().encode(text)) bin += String.fromCharCode(b)
  return btoa(bin)
}

const enc = encodeURIComponent

/**
 * The one client of a node's HTTP API, for the browser replica, the CLI, tests and
 * scripts. Uses only `fetch`. Every typed call throws {@link ApiError}: `OFFLINE` when the
 * node cannot be reached, `UNAUTHORIZED` on 401/403, `HTTP` on any other unexpected status.
 */
export class NodeApi {
  /** The node's base URL without a trailing slash. */
  readonly url: string
  private readonly authorization: string | undefined

  constructor(
    url: string,
    auth: ApiAuth = undefined,
    private readonly fetchFn: FetchLike = globalThis.fetch.bind(globalThis),
  ) {
    this.url = url.replace(/\/+$/, '')
    this.authorization =
      auth === undefined ? undefined : 'token' in auth ? `Bearer ${auth.token}` : `Basic ${base64(`${auth.user}:${auth.password}`)}`
  }

  /** Sends one request; throws only OFFLINE (no answer). JSON bodies are sent for `json`, bytes for `raw`. */
  async fetch(method: string, path: string, json?: unknown, raw?: Uint8Array): Promise<Response> {
    const headers: Record<string, string> = {}
    if (this.authorization !== undefined) headers.authorization = this.authorization
    if (json !== undefined) headers['content-type'] = 'application/json'
    else if (raw !== undefined) headers['content-type'] = 'application/octet-stream'
    try {
      return await this.fetchFn(this.url + path, {
        method,
        headers,
        body: raw !== undefined ? (raw.slice().buffer as ArrayBuffer) : json !== undefined ? JSON.stringify(json) : undefined,
      })
    } catch (e) {
      const cause =
        e instanceof Error
          ? ((e.cause as { code?: string; message?: string } | undefined)?.code ?? (e.cause as Error | undefined)?.message ?? e.message)
          : String(e)
      throw new ApiError('OFFLINE', `cannot reach ${new URL(this.url).origin} (${cause})`)
    }
  }

  /** One request, answered with its status and body (JSON parsed, else text): for callers that check statuses themselves. */
  async call(method: string, path: string, json?: unknown, raw?: Uint8Array): Promise<ApiResponse> {
    const res = await this.fetch(method, path, json, raw)
    const text = await res.text()
    let data: unknown = text
    try {
      data = text === '' ? {} : JSON.parse(text)
    } catch {
      /* not JSON: the text */
    }
    return { status: res.status, data }
  }

  /** One request whose answer must be 2xx; resolves with the parsed JSON body. */
  async request<T>(method: string, path: string, json?: unknown, raw?: Uint8Array): Promise<T> {
    const r = await this.call(method, path, json, raw)
    if (r.status < 200 || r.status > 299) throw failure(`${method} ${path}`, r)
    return r.data as T
  }

  /** Exchanges the password (HTTP Basic auth) for a bearer token valid at every node of the cluster. */
  async token(): Promise<string> {
    const { token } = await this.request<{ token?: unknown }>('POST', '/api/token')
    if (typeof token !== 'string') throw new ApiError('HTTP', 'token response without a token', 200)
    return token
  }

  /** The node's status (admin token): identity, peers, documents. */
  status<T = Record<string, unknown>>(): Promise<T> {
    return this.request<T>('GET', '/api/status')
  }

  /** Creates a user or sets its password (admin token); the record spreads to other nodes asynchronously. */
  async setPassword(name: string, password: string): Promise<void> {
    await this.request('POST', '/api/admin/users', { name, password })
  }

  /** The protocol state of one mailbox (admin token or the owner). */
  inspect(user: string, mailbox: string): Promise<ApiInspection> {
    return this.request('GET', `/api/inspect/${enc(user)}/${enc(mailbox)}`)
  }

  /** The account's mailboxes. */
  async mailboxes(): Promise<ApiMailboxEntry[]> {
    return (await this.request<{ mailboxes: ApiMailboxEntry[] }>('GET', '/api/mailboxes')).mailboxes
  }

  /** Creates a mailbox (mailbox ids are chosen by nodes). */
  createMailbox(name: string): Promise<ApiMailboxEntry> {
    return this.request('POST', '/api/mailboxes', { name })
  }

  /** Reads a mailbox as a client would: an exposure at the node, which first binds every stranded message. */
  readMailbox(name: string): Promise<ApiMailboxListing> {
    return this.request('GET', `/api/mailboxes/${enc(name)}`)
  }

  /** Appends a message; resolves with its guid once it is durable at the node. */
  async append(mailbox: string, raw: Uint8Array | string, opts: { flags?: readonly string[]; internalDate?: Date } = {}): Promise<string> {
    const q = new URLSearchParams({ flags: (opts.flags ?? []).join(',') })
    if (opts.internalDate !== undefined) q.set('internalDate', opts.internalDate.toISOString())
    const bytes = typeof raw === 'string' ? new TextEncoder().encode(raw) : raw
    return (await this.request<{ guid: string }>('POST', `/api/mailboxes/${enc(mailbox)}/messages?${q}`, undefined, bytes)).guid
  }

  /** The messages in a mailbox's view with their content hash and INTERNALDATE (an importer's check for what is there already; no exposure). */
  async digests(mailbox: string): Promise<{ uid: number; guid: string; flags: string[]; hash: string; internalDate?: string }[]> {
    return (
      await this.request<{ messages: { uid: number; guid: string; flags: string[]; hash: string; internalDate?: string }[] }>(
        'GET',
        `/api/mailboxes/${enc(mailbox)}/messages`,
      )
    ).messages
  }

  /** One message's metadata and bindings, or undefined when the mailbox has no such message. */
  async message(mailbox: string, guid: string): Promise<ApiMessageInfo | undefined> {
    const r = await this.call('GET', `/api/mailboxes/${enc(mailbox)}/messages/${enc(guid)}`)
    if (r.status === 404) return undefined
    if (r.status !== 200) throw failure(`reading message ${guid}`, r)
    return r.data
  }

  /** A message's raw bytes, or undefined when the node has no body for it (yet). */
  async raw(mailbox: string, guid: string): Promise<Uint8Array | undefined> {
    const res = await this.fetch('GET', `/api/mailboxes/${enc(mailbox)}/messages/${enc(guid)}/raw`)
    if (res.status === 404) {
      await res.body?.cancel()
      return undefined
    }
    if (!res.ok) throw failure(`fetching message ${guid}`, { status: res.status, data: await res.text().then(parse, () => '') })
    return new Uint8Array(await res.arrayBuffer())
  }

  /** Uploads a body under its SHA-256 (the node verifies the hash). */
  async putBlob(hash: string, bytes: Uint8Array): Promise<void> {
    await this.request('PUT', `/api/blobs/${enc(hash)}`, undefined, bytes)
  }

  /** Adds and removes flags of one message. */
  async setFlags(mailbox: string, guid: string, change: { add?: readonly string[]; remove?: readonly string[] }): Promise<void> {
    await this.request('POST', `/api/mailboxes/${enc(mailbox)}/flags`, { guid, add: change.add ?? [], remove: change.remove ?? [] })
  }

  /** Expunges messages. */
  async expunge(mailbox: string, guids: readonly string[]): Promise<void> {
    await this.request('POST', `/api/mailboxes/${enc(mailbox)}/expunge`, { guids })
  }

  /** The node's Prometheus metrics text. */
  async metrics(): Promise<string> {
    const res = await this.fetch('GET', '/metrics')
    if (!res.ok) throw failure('metrics', { status: res.status, data: await res.text() })
    return res.text()
  }
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

function failure(what: string, r: ApiResponse): ApiError {
  const body = r.data as { error?: unknown; message?: unknown } | string
  const message =
    typeof body === 'object' && typeof body.message === 'string'
      ? body.message
      : typeof body === 'string' && body !== ''
        ? body.slice(0, 200)
        : undefined
  const nodeCode = typeof body === 'object' && typeof body.error === 'string' ? body.error : undefined
  const code = r.status === 401 || r.status === 403 ? 'UNAUTHORIZED' : 'HTTP'
  return new ApiError(
    code,
    `${what}: ${r.status} ${message ?? (code === 'UNAUTHORIZED' ? 'the node refused the credentials' : 'unexpected answer')}`,
    r.status,
    nodeCode,
  )
}
