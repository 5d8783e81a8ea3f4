import { readFileSync } from 'node:fs'
import { adminToken } from '@mailweave/server'

/** Reads a cluster secret file (any bytes; trailing newline ignored). */
export function readSecret(file: string): Uint8Array {
  const raw = readFileSync(file)
  const text = raw.toString('utf8').trim()
  return new Uint8Array(Buffer.from(text.length > 0 ? text : raw))
}

/** A small client of a node's HTTP API. Errors carry the node's message. */
export class NodeClient {
  constructor(
    readonly url: string,
    private readonly auth: string,
  ) {}

  static admin(url: string, secretFile: string): NodeClient {
    return new NodeClient(url, `Bearer ${adminToken(readSecret(secretFile))}`)
  }

  static user(url: string, user: string, password: string): NodeClient {
    return new NodeClient(url, `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`)
  }

  async request<T>(method: string, path: string, body?: unknown, raw?: Uint8Array): Promise<T> {
    const res = await fetch(new URL(path, this.url), {
      method,
      headers: { authorization: this.auth, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: raw !== undefined ? (raw as unknown as BodyInit) : body !== undefined ? JSON.stringify(body) : undefined,
    })
    const text = await res.text()
    let data: unknown
    try {
      data = text === '' ? {} : JSON.parse(text)
    } catch {
      data = { message: text }
    }
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${(data as { message?: string }).message ?? ''}`)
    return data as T
  }
}
