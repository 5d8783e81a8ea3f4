import { EdgeError } from './EdgeError.ts'

/** The `fetch` this package uses (injectable for tests). */
export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>

function base64(text: string): string {
  let bin = ''
  for (const b of new TextEncoder().encode(text)) bin += String.fromCharCode(b)
  return btoa(bin)
}

const trimUrl = (url: string) => url.replace(/\/+$/, '')

async function call(fetchFn: FetchLike, url: string, init: RequestInit): Promise<Response> {
  let res: Response
  try {
    res = await fetchFn(url, init)
  } catch (e) {
    throw new EdgeError('OFFLINE', `cannot reach ${new URL(url).origin} (${e instanceof Error ? e.message : String(e)})`)
  }
  if (res.status === 401 || res.status === 403) {
    const body = await res.text().catch(() => '')
    throw new EdgeError('UNAUTHORIZED', messageOf(body) ?? `the node refused the credentials (${res.status})`, res.status)
  }
  return res
}

function messageOf(body: string): string | undefined {
  try {
    const j = JSON.parse(body) as { message?: unknown }
    return typeof j.message === 'string' ? j.message : undefined
  } catch {
    return undefined
  }
}

async function failed(res: Response, what: string): Promise<EdgeError> {
  const body = await res.text().catch(() => '')
  return new EdgeError('HTTP', `${what}: ${res.status} ${messageOf(body) ?? res.statusText}`, res.status)
}

/**
 * Exchanges a user's password for a bearer token at a node (`POST /api/token`, HTTP Basic).
 * The token is valid at every node of the cluster. Throws UNAUTHORIZED on a wrong password,
 * OFFLINE when the node cannot be reached.
 */
export async function requestToken(nodeUrl: string, user: string, password: string, fetchFn: FetchLike = globalThis.fetch.bind(globalThis)): Promise<string> {
  const res = await call(fetchFn, `${trimUrl(nodeUrl)}/api/token`, { method: 'POST', headers: { authorization: `Basic ${base64(`${user}:${password}`)}` } })
  if (!res.ok) throw await failed(res, 'token request')
  const j = (await res.json()) as { token?: unknown }
  if (typeof j.token !== 'string') throw new EdgeError('HTTP', 'token response without a token', res.status)
  return j.token
}

/** The few HTTP API calls an edge replica makes, authenticated with a bearer token. */
export class NodeClient {
  readonly nodeUrl: string

  constructor(
    nodeUrl: string,
    private readonly token: string,
    private readonly fetchFn: FetchLike = globalThis.fetch.bind(globalThis),
  ) {
    this.nodeUrl = trimUrl(nodeUrl)
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { authorization: `Bearer ${this.token}`, ...extra }
  }

  /** The raw message `guid` of mailbox `name`, or undefined when the node has no body for it (yet). */
  async raw(mailboxName: string, guid: string): Promise<Uint8Array | undefined> {
    const res = await call(this.fetchFn, `${this.nodeUrl}/api/mailboxes/${encodeURIComponent(mailboxName)}/messages/${encodeURIComponent(guid)}/raw`, { headers: this.headers() })
    if (res.status === 404) {
      await res.body?.cancel()
      return undefined
    }
    if (!res.ok) throw await failed(res, `fetching message ${guid}`)
    return new Uint8Array(await res.arrayBuffer())
  }

  /** Uploads a body (the node verifies the hash). */
  async putBlob(hash: string, bytes: Uint8Array): Promise<void> {
    const res = await call(this.fetchFn, `${this.nodeUrl}/api/blobs/${hash}`, { method: 'PUT', headers: this.headers({ 'content-type': 'application/octet-stream' }), body: bytes.slice().buffer })
    if (!res.ok) throw await failed(res, `uploading ${hash}`)
    await res.body?.cancel()
  }

  /**
   * Reads mailbox `name` as a client would: an exposure at the node, which first binds
   * every stranded message (edge appends included) to a UID. Returns the exposed view.
   */
  async readMailbox(name: string): Promise<{ uidValidity: number; uidNext: number; messages: { uid: number; guid: string; flags: string[] }[] }> {
    const res = await call(this.fetchFn, `${this.nodeUrl}/api/mailboxes/${encodeURIComponent(name)}`, { headers: this.headers() })
    if (!res.ok) throw await failed(res, `reading mailbox ${name}`)
    return (await res.json()) as { uidValidity: number; uidNext: number; messages: { uid: number; guid: string; flags: string[] }[] }
  }

  /** Creates a mailbox (online only: mailbox ids are chosen by nodes). */
  async createMailbox(name: string): Promise<{ id: string; name: string; uidValidity: number }> {
    const res = await call(this.fetchFn, `${this.nodeUrl}/api/mailboxes`, { method: 'POST', headers: this.headers({ 'content-type': 'application/json' }), body: JSON.stringify({ name }) })
    if (!res.ok) throw await failed(res, `creating mailbox ${name}`)
    return (await res.json()) as { id: string; name: string; uidValidity: number }
  }
}
