import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FaultProxy, waitFor } from '@mailweave/testkit'
import { adminToken } from '@mailweave/server'
import { ApiClient, NodeProcess, freePort } from './NodeProcess.ts'

/** A cluster of real node processes whose peer links each pass through a FaultProxy. */
export class Cluster {
  readonly nodes: NodeProcess[] = []
  /** proxies.get('0-1') carries the link between node 0 and node 1. */
  readonly proxies = new Map<string, FaultProxy>()
  readonly dir: string
  readonly secretFile: string
  readonly secret: string

  private constructor(readonly size: number) {
    this.dir = mkdtempSync(join(tmpdir(), 'mailweave-e2e-'))
    this.secretFile = join(this.dir, 'secret')
    this.secret = randomBytes(32).toString('hex')
    writeFileSync(this.secretFile, this.secret + '\n')
  }

  /** Starts `size` nodes (slots 0..size-1, stride size), every pair linked through a proxy. */
  static async start(size: number, opts: { imap?: boolean; verifyTimeoutMs?: number } = {}): Promise<Cluster> {
    const c = new Cluster(size)
    const ports = await Promise.all(Array.from({ length: size }, () => freePort()))
    for (let i = 0; i < size; i++) {
      for (let j = i + 1; j < size; j++) {
        // both ends name the proxy as the peer's address, whichever end dials
        c.proxies.set(`${i}-${j}`, await FaultProxy.start({ targetPort: ports[j]! }))
      }
    }
    for (let i = 0; i < size; i++) {
      const peers = []
      for (let j = 0; j < size; j++) {
        if (j === i) continue
        const key = i < j ? `${i}-${j}` : `${j}-${i}`
        const target = i < j ? ports[j]! : ports[i]!
        // the proxy for (i, j) forwards to the higher index; the lower index dials through it
        const port = i < j ? c.proxies.get(key)!.port : target
        peers.push({ id: `N${j}`, url: `http://127.0.0.1:${j > i ? port : ports[j]}` })
      }
      c.nodes.push(new NodeProcess({ nodeId: `N${i}`, slot: i, stride: size, dataDir: join(c.dir, `N${i}`), port: ports[i]!, secretFile: c.secretFile, peers, imapPort: opts.imap === true ? await freePort() : undefined, verifyTimeoutMs: opts.verifyTimeoutMs }))
    }
    await Promise.all(c.nodes.map((n) => n.start()))
    return c
  }

  proxy(i: number, j: number): FaultProxy {
    return this.proxies.get(i < j ? `${i}-${j}` : `${j}-${i}`)!
  }

  /** Cuts every link (a full partition). */
  cutAll(): void {
    for (const p of this.proxies.values()) p.cut()
  }

  restoreAll(): void {
    for (const p of this.proxies.values()) p.restore()
  }

  async adminCall(i: number, method: string, path: string, body?: unknown): Promise<{ status: number; data: any }> {
    const res = await fetch(this.nodes[i]!.url + path, { method, headers: { authorization: `Bearer ${adminToken(new TextEncoder().encode(this.secret))}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) })
    const text = await res.text()
    return { status: res.status, data: text === '' ? {} : JSON.parse(text) }
  }

  /** Creates a user at node 0 and waits until every node accepts its password. */
  async addUser(name: string, password: string): Promise<ApiClient[]> {
    const r = await this.adminCall(0, 'POST', '/api/admin/users', { name, password })
    if (r.status !== 200) throw new Error(`user add: ${r.status} ${JSON.stringify(r.data)}`)
    const clients = this.nodes.map((n) => new ApiClient(n.url, name, password))
    await waitFor(async () => (await Promise.all(clients.map((c) => c.call('POST', '/api/token')))).every((x) => x.status === 200), 20_000, `user ${name} replicated to every node`)
    return clients
  }

  /** Waits until every peer link of every node is open. */
  async linksUp(timeoutMs = 20_000): Promise<void> {
    await waitFor(async () => {
      for (let i = 0; i < this.size; i++) {
        const s = await this.adminCall(i, 'GET', '/api/status')
        if (s.status !== 200 || (s.data.peers as { state: string }[]).some((p) => p.state !== 'open')) return false
      }
      return true
    }, timeoutMs, 'every peer link open')
  }

  async metrics(i: number): Promise<string> {
    return (await fetch(this.nodes[i]!.url + '/metrics')).text()
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()))
    for (const p of this.proxies.values()) await p.close()
    rmSync(this.dir, { recursive: true, force: true })
  }
}

/** Reads a counter or gauge from Prometheus text. */
export function metricValue(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `))
  return line === undefined ? NaN : Number(line.split(' ')[1])
}
