/** A user's client of a node's HTTP API for tests and scripts (Basic auth); never throws on an HTTP error status. */
export class ApiClient {
  constructor(
    readonly baseUrl: string,
    readonly user: string,
    readonly password: string,
  ) {}

  private auth(): string {
    return `Basic ${Buffer.from(`${this.user}:${this.password}`).toString('base64')}`
  }

  async call(method: string, path: string, body?: unknown, raw?: Uint8Array): Promise<{ status: number; data: any }> {
    const res = await fetch(this.baseUrl + path, {
      method,
      headers: { authorization: this.auth(), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: raw !== undefined ? (raw as unknown as BodyInit) : body !== undefined ? JSON.stringify(body) : undefined,
    })
    const text = await res.text()
    let data: any = text
    try {
      data = JSON.parse(text)
    } catch {
      /* raw */
    }
    return { status: res.status, data }
  }

  async append(mailbox: string, raw: Uint8Array | string, flags: string[] = []): Promise<string> {
    const bytes = typeof raw === 'string' ? new TextEncoder().encode(raw) : raw
    const r = await this.call('POST', `/api/mailboxes/${encodeURIComponent(mailbox)}/messages?flags=${encodeURIComponent(flags.join(','))}`, undefined, bytes)
    if (r.status !== 201) throw new Error(`append failed: ${r.status} ${JSON.stringify(r.data)}`)
    return r.data.guid as string
  }

  /** Reads a mailbox as a client would (an exposure). */
  async read(mailbox: string): Promise<{ uidValidity: number; uidNext: number; messages: { uid: number; guid: string; flags: string[] }[] }> {
    const r = await this.call('GET', `/api/mailboxes/${encodeURIComponent(mailbox)}`)
    if (r.status !== 200) throw new Error(`read failed: ${r.status} ${JSON.stringify(r.data)}`)
    return r.data
  }
}
