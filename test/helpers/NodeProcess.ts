import { spawn, type ChildProcess } from 'node:child_process'
import { freePort } from '@mailweave/testkit'
import { resolve } from 'node:path'
import { createInterface } from 'node:readline'

const BIN = resolve(import.meta.dirname, '../../packages/cli/bin/mailweave.mjs')

export { freePort }

/** Options of one `mailweave serve` process. */
export interface NodeProcessOptions {
  nodeId: string
  slot: number
  stride: number
  dataDir: string
  port: number
  secretFile: string
  peers: { id: string; url: string }[]
  imapPort?: number
  verifyTimeoutMs?: number
  env?: Record<string, string>
}

/**
 * A real node process (`mailweave serve`), started through the CLI as an operator would,
 * and killed for real (SIGKILL) when a test says so.
 */
export class NodeProcess {
  child: ChildProcess | undefined
  stderr = ''
  url = ''
  imapPort = 0

  constructor(readonly o: NodeProcessOptions) {}

  async start(timeoutMs = 30_000): Promise<this> {
    const o = this.o
    const args = [BIN, 'serve', '--node-id', o.nodeId, '--slot', String(o.slot), '--stride', String(o.stride), '--data', o.dataDir, '--listen', `127.0.0.1:${o.port}`, '--secret-file', o.secretFile]
    for (const p of o.peers) args.push('--peer', `${p.id}=${p.url}`)
    if (o.verifyTimeoutMs !== undefined) args.push('--verify-timeout', String(o.verifyTimeoutMs))
    if (o.imapPort !== undefined) args.push('--imap', `127.0.0.1:${o.imapPort}`, '--allow-plaintext-auth')
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MAILWEAVE_LOG_LEVEL: 'warn', ...o.env } })
    this.child = child
    this.stderr = ''
    child.stderr!.on('data', (d: Buffer) => {
      this.stderr += d.toString()
    })
    await new Promise<void>((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`node ${o.nodeId} did not start within ${timeoutMs} ms\n${this.stderr}`)), timeoutMs)
      let need = o.imapPort !== undefined ? 2 : 1
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const http = / http (\S+)$/.exec(line)
        if (http !== null) this.url = http[1]!
        const imap = / imap imap:\/\/[^:]+:(\d+)$/.exec(line)
        if (imap !== null) this.imapPort = Number(imap[1])
        if ((http !== null || imap !== null) && --need === 0) {
          clearTimeout(timer)
          res()
        }
      })
      child.once('exit', (code) => {
        clearTimeout(timer)
        rej(new Error(`node ${o.nodeId} exited with ${code} during start\n${this.stderr}`))
      })
    })
    return this
  }

  /** SIGKILL: no flush, no goodbye. */
  async kill(): Promise<void> {
    await this.signal('SIGKILL')
  }

  /** SIGTERM: a clean stop. */
  async stop(): Promise<void> {
    await this.signal('SIGTERM')
  }

  private async signal(sig: NodeJS.Signals): Promise<void> {
    const c = this.child
    if (c === undefined || c.exitCode !== null || c.signalCode !== null) return
    await new Promise<void>((res) => {
      c.once('exit', () => res())
      c.kill(sig)
    })
  }
}

/** Minimal HTTP API client for tests (Basic auth). */
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
