import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { adminToken } from '@mailweave/server'
import { FaultProxy } from '@mailweave/testkit'
import { freePort } from '@mailweave/testkit'
import { waitFor } from '@mailweave/testkit'
import { NodeApi, type ApiResponse } from '@mailweave/client'
import { NodeProcess, type NodeProcessOptions } from './NodeProcess.ts'

/** Options of {@link ProcessCluster.start}. */
export interface ProcessClusterOptions {
  /** Node ids in slot order: node i gets slot i, the stride is their count. */
  nodes: string[]
  /** Where nodes keep their data (`<dataDir>/<id>`) and the secret; default a fresh temp dir that {@link ProcessCluster.stop} removes. */
  dataDir?: string
  /** Route every peer link through a {@link FaultProxy}, so it can be cut and healed (default true). */
  proxies?: boolean
  /** Serve IMAP at every node (default false). */
  imap?: boolean
  /** Preferred HTTP port per node; a taken (or absent, or 0) one falls back to a free port. */
  httpPorts?: number[]
  /** Preferred IMAP port per node, as `httpPorts`. */
  imapPorts?: number[]
  verifyTimeoutMs?: number
  /** MAILWEAVE_LOG_LEVEL of every node (default 'warn'). */
  logLevel?: string
  /** Every log line of every node. */
  onLog?: (node: string, line: string) => void
  /** Per-node extra options (more listeners, arguments, environment), merged over the defaults. */
  node?: (index: number, id: string) => Partial<NodeProcessOptions>
}

/** One peer link of the cluster and whether it is cut. */
export interface ClusterLink {
  /** `a-b`, the two node ids in slot order. */
  id: string
  a: string
  b: string
  cut: boolean
}

/** A peer's state as `GET /api/status` reports it. */
export interface PeerStatus {
  id: string
  state: string
  lastCloseCode?: number
}

/** `preferred` when it is free and not handed out already, else another free port. */
async function pickPort(preferred: number | undefined, taken: Set<number>): Promise<number> {
  let port = await freePort(preferred !== undefined && taken.has(preferred) ? undefined : preferred)
  while (taken.has(port)) port = await freePort()
  taken.add(port)
  return port
}

/**
 * A cluster of real `mailweave serve` processes on loopback, used by `pnpm start`, the
 * tour, the Dovecot comparison, benchmarks and the end-to-end tests. Every pair of nodes
 * is linked; with proxies (the default) each link passes through a {@link FaultProxy}
 * that {@link cut} and {@link heal} control. Guarantees: `start` resolves once every
 * node is ready or rejects with nothing left running; `stop` ends every process.
 */
export class ProcessCluster {
  readonly nodes: NodeProcess[] = []
  /** proxies.get('0-1') carries the link between node 0 and node 1. */
  readonly proxies = new Map<string, FaultProxy>()
  readonly dir: string
  readonly secretFile: string
  private readonly ownsDir: boolean

  private constructor(readonly o: ProcessClusterOptions) {
    this.ownsDir = o.dataDir === undefined
    this.dir = o.dataDir ?? mkdtempSync(join(tmpdir(), 'mailweave-cluster-'))
    mkdirSync(this.dir, { recursive: true })
    this.secretFile = join(this.dir, 'secret')
    if (!existsSync(this.secretFile)) writeFileSync(this.secretFile, randomBytes(32).toString('hex') + '\n', { mode: 0o600 })
  }

  /** Starts every node (peer links through proxies unless `proxies: false`); resolves once all are ready. */
  static async start(o: ProcessClusterOptions): Promise<ProcessCluster> {
    const c = new ProcessCluster(o)
    try {
      await c.launch()
    } catch (e) {
      await c.stop()
      throw e
    }
    return c
  }

  /** The bearer token of the admin API (derived from the cluster secret). */
  get adminToken(): string {
    return adminToken(new TextEncoder().encode(readFileSync(this.secretFile, 'utf8').trim()))
  }

  private async launch(): Promise<void> {
    const ids = this.o.nodes
    const taken = new Set<number>()
    const http: number[] = []
    for (let i = 0; i < ids.length; i++) http.push(await pickPort(this.o.httpPorts?.[i], taken))
    const imap: number[] = []
    if (this.o.imap === true) for (let i = 0; i < ids.length; i++) imap.push(await pickPort(this.o.imapPorts?.[i], taken))
    // a pair's socket is dialled by the smaller node id (network-peer); its proxy forwards to the other
    const dialled = (i: number, j: number): number => (ids[i]! < ids[j]! ? j : i)
    if (this.o.proxies !== false) {
      for (let i = 0; i < ids.length; i++)
        for (let j = i + 1; j < ids.length; j++) this.proxies.set(`${i}-${j}`, await FaultProxy.start({ targetPort: http[dialled(i, j)]! }))
    }
    ids.forEach((id, i) => {
      const peers = ids.flatMap((peer, j) => {
        if (j === i) return []
        const proxy = this.proxies.get(i < j ? `${i}-${j}` : `${j}-${i}`)
        return [{ id: peer, url: `http://127.0.0.1:${proxy !== undefined && dialled(i, j) === j ? proxy.port : http[j]}` }]
      })
      const defaults: NodeProcessOptions = {
        nodeId: id,
        slot: i,
        stride: ids.length,
        dataDir: join(this.dir, id),
        secretFile: this.secretFile,
        port: http[i]!,
        peers,
        imapPort: this.o.imap === true ? imap[i] : undefined,
        verifyTimeoutMs: this.o.verifyTimeoutMs,
        logLevel: this.o.logLevel,
        onLog: this.o.onLog === undefined ? undefined : (line) => this.o.onLog!(id, line),
      }
      const extra = this.o.node?.(i, id) ?? {}
      this.nodes.push(new NodeProcess({ ...defaults, ...extra, args: [...(defaults.args ?? []), ...(extra.args ?? [])] }))
    })
    await Promise.all(this.nodes.map((n) => n.start()))
  }

  /** The index of a node given by index or id; throws on an unknown one. */
  indexOf(node: number | string): number {
    const i = typeof node === 'number' ? node : this.o.nodes.indexOf(node)
    if (i < 0 || i >= this.nodes.length) throw new RangeError(`no node ${node} in this cluster (${this.o.nodes.join(', ')})`)
    return i
  }

  /** The proxy carrying the link between two nodes (by index or id); throws without proxies. */
  proxy(a: number | string, b: number | string): FaultProxy {
    const [i, j] = [this.indexOf(a), this.indexOf(b)].sort((x, y) => x - y)
    const p = this.proxies.get(`${i}-${j}`)
    if (p === undefined)
      throw new RangeError(`no fault proxy between ${a} and ${b}${this.proxies.size === 0 ? ' (the cluster runs without proxies)' : ''}`)
    return p
  }

  /** Every peer link and whether it is cut. */
  links(): ClusterLink[] {
    return [...this.proxies].map(([key, p]) => {
      const [i, j] = key.split('-').map(Number) as [number, number]
      const a = this.o.nodes[i]!
      const b = this.o.nodes[j]!
      return { id: `${a}-${b}`, a, b, cut: p.isCut }
    })
  }

  /** Partitions the link between two nodes (see {@link FaultProxy.cut}). */
  cut(a: number | string, b: number | string): void {
    this.proxy(a, b).cut()
  }

  /** Heals the link between two nodes. */
  heal(a: number | string, b: number | string): void {
    this.proxy(a, b).restore()
  }

  /** Cuts every link (a full partition). */
  cutAll(): void {
    for (const p of this.proxies.values()) p.cut()
  }

  /** Heals every link. */
  healAll(): void {
    for (const p of this.proxies.values()) p.restore()
  }

  /** Calls the admin API of a node; never throws on an HTTP error status. */
  admin(node: number | string, method: string, path: string, body?: unknown): Promise<ApiResponse> {
    return new NodeApi(this.nodes[this.indexOf(node)]!.url, { token: this.adminToken }).call(method, path, body)
  }

  /** Creates (or updates) a user at the first node and waits until every node accepts its password. */
  async addUser(name: string, password: string, timeoutMs = 20_000): Promise<NodeApi[]> {
    const r = await this.admin(0, 'POST', '/api/admin/users', { name, password })
    if (r.status !== 200) throw new Error(`could not create user ${name}: ${r.status} ${JSON.stringify(r.data)}`)
    const clients = this.nodes.map((n) => new NodeApi(n.url, { user: name, password }))
    await waitFor(
      async () => (await Promise.all(clients.map((c) => c.call('POST', '/api/token')))).every((x) => x.status === 200),
      timeoutMs,
      `user ${name} to reach every node`,
      25,
    )
    return clients
  }

  /** The peers of a node as its status reports them. */
  async peers(node: number | string): Promise<PeerStatus[]> {
    const s = await this.admin(node, 'GET', '/api/status')
    if (s.status !== 200) throw new Error(`status of ${this.o.nodes[this.indexOf(node)]}: ${s.status} ${JSON.stringify(s.data)}`)
    return (s.data as { peers: PeerStatus[] }).peers
  }

  /** Waits until every peer link of every node is open ('open') or none is ('down'); bounded. */
  async linksAre(state: 'open' | 'down', timeoutMs = 30_000): Promise<void> {
    await waitFor(
      async () => {
        const all = await Promise.all(this.nodes.map((_, i) => this.peers(i)))
        return all.every((peers) => peers.every((p) => (p.state === 'open') === (state === 'open')))
      },
      timeoutMs,
      `every peer link to be ${state}`,
      50,
    )
  }

  /** A node's Prometheus metrics text. */
  async metrics(node: number | string): Promise<string> {
    return new NodeApi(this.nodes[this.indexOf(node)]!.url).metrics()
  }

  /** Stops every node (SIGTERM, clean) and proxy; removes the data directory if the cluster made it. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()))
    for (const p of this.proxies.values()) await p.close()
    if (this.ownsDir) rmSync(this.dir, { recursive: true, force: true })
  }
}

/** Reads a counter or gauge from Prometheus text (NaN when absent). */
export function metricValue(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `))
  return line === undefined ? NaN : Number(line.split(' ')[1])
}
