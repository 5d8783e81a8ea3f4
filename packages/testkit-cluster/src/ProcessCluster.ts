import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { adminToken } from '@mailweave/server'
import { FaultProxy, PostgresServer, freePort, waitFor } from '@mailweave/testkit'
import { NodeApi, type ApiResponse } from '@mailweave/client'
import { NodeProcess, type NodeProcessOptions } from './NodeProcess.ts'

/** Options of {@link ProcessCluster.start}. */
export interface ProcessClusterOptions {
  /** Node ids (regions) in slot order: node i gets slot i, the stride is their count. */
  nodes: string[]
  /**
   * Processes per region (default 1). With more than one, each region's processes share the
   * region's database (`postgres` is then required) and run `serve --process <region>-<n>`
   * (n = 1, 2, …); links to a region reach any of its live processes (see {@link FaultProxy}'s
   * alternate ports), as through a region's load balancer.
   */
  processes?: number
  /** Give every region a private PostgreSQL ({@link PostgresServer}) started and removed with the cluster; its processes run `--store <its url>`. */
  postgres?: boolean
  /** `--lease-ttl` of every process of a region of several processes (ms). */
  leaseTtlMs?: number
  /** Where nodes keep their data (`<dataDir>/<id>`) and the secret; default a fresh temp dir that {@link ProcessCluster.stop} removes. */
  dataDir?: string
  /** Route every peer link through a {@link FaultProxy}, so it can be cut and healed (default true). */
  proxies?: boolean
  /** Serve IMAP at every node (default false). */
  imap?: boolean
  /** Preferred HTTP port per process (region i's process p at index i × processes + p); a taken (or absent, or 0) one falls back to a free port. */
  httpPorts?: number[]
  /** Preferred IMAP port per process, as `httpPorts`. */
  imapPorts?: number[]
  verifyTimeoutMs?: number
  /** MAILWEAVE_LOG_LEVEL of every node (default 'warn'). */
  logLevel?: string
  /** Every log line of every node. */
  onLog?: (node: string, line: string) => void
  /** Per-process extra options (more listeners, arguments, environment), merged over the defaults; `process` is the index within the region. */
  node?: (index: number, id: string, process: number) => Partial<NodeProcessOptions>
}

/** One region of a {@link ProcessCluster}: its processes and, with `postgres`, its database. */
export interface ClusterRegion {
  id: string
  slot: number
  processes: NodeProcess[]
  database: PostgresServer | undefined
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
  /** The first process of every region, in slot order (the only one with `processes: 1`). */
  readonly nodes: NodeProcess[] = []
  readonly regions: ClusterRegion[] = []
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
    const per = this.o.processes ?? 1
    if (!Number.isInteger(per) || per < 1) throw new RangeError(`processes must be a whole number >= 1, got ${per}`)
    if (per > 1 && this.o.postgres !== true)
      throw new RangeError('a region of several processes needs a shared database: set postgres: true')
    // the databases first (initdb takes a while): one private server per region, started side by side
    const started = this.o.postgres === true ? await Promise.allSettled(ids.map(() => PostgresServer.start())) : []
    const databases = started.map((s) => (s.status === 'fulfilled' ? s.value : undefined))
    ids.forEach((id, i) => this.regions.push({ id, slot: i, processes: [], database: databases[i] }))
    const failed = started.find((s) => s.status === 'rejected')
    if (failed !== undefined) throw failed.reason
    const taken = new Set<number>()
    const http: number[] = []
    for (let k = 0; k < ids.length * per; k++) http.push(await pickPort(this.o.httpPorts?.[k], taken))
    const imap: number[] = []
    if (this.o.imap === true) for (let k = 0; k < ids.length * per; k++) imap.push(await pickPort(this.o.imapPorts?.[k], taken))
    const httpOf = (i: number): number[] => http.slice(i * per, (i + 1) * per)
    // a pair's socket is dialled by the smaller node id (network-peer); its proxy forwards to the other region's processes
    const dialled = (i: number, j: number): number => (ids[i]! < ids[j]! ? j : i)
    if (this.o.proxies !== false) {
      for (let i = 0; i < ids.length; i++)
        for (let j = i + 1; j < ids.length; j++) {
          const [first, ...alternates] = httpOf(dialled(i, j))
          this.proxies.set(`${i}-${j}`, await FaultProxy.start({ targetPort: first!, alternatePorts: alternates }))
        }
    }
    ids.forEach((id, i) => {
      const peers = ids.flatMap((peer, j) => {
        if (j === i) return []
        const proxy = this.proxies.get(i < j ? `${i}-${j}` : `${j}-${i}`)
        return [{ id: peer, url: `http://127.0.0.1:${proxy !== undefined && dialled(i, j) === j ? proxy.port : httpOf(j)[0]}` }]
      })
      for (let p = 0; p < per; p++) {
        const name = per > 1 ? `${id}-${p + 1}` : id
        const k = i * per + p
        const args: string[] = []
        const db = databases[i]
        if (db !== undefined) args.push('--store', db.url())
        if (per > 1 && this.o.leaseTtlMs !== undefined) args.push('--lease-ttl', String(this.o.leaseTtlMs))
        const defaults: NodeProcessOptions = {
          nodeId: id,
          process: per > 1 ? name : undefined,
          slot: i,
          stride: ids.length,
          dataDir: join(this.dir, name),
          secretFile: this.secretFile,
          port: http[k]!,
          peers,
          imapPort: this.o.imap === true ? imap[k] : undefined,
          verifyTimeoutMs: this.o.verifyTimeoutMs,
          args,
          logLevel: this.o.logLevel,
          onLog: this.o.onLog === undefined ? undefined : (line) => this.o.onLog!(name, line),
        }
        const extra = this.o.node?.(i, id, p) ?? {}
        const node = new NodeProcess({ ...defaults, ...extra, args: [...args, ...(extra.args ?? [])] })
        this.regions[i]!.processes.push(node)
        if (p === 0) this.nodes.push(node)
      }
    })
    await Promise.all(this.processes().map((n) => n.start()))
  }

  /** Every process of every region, in slot order. */
  processes(): NodeProcess[] {
    return this.regions.flatMap((r) => r.processes)
  }

  /** The index of a node (region) given by index or id; throws on an unknown one. */
  indexOf(node: number | string): number {
    const i = typeof node === 'number' ? node : this.o.nodes.indexOf(node)
    if (i < 0 || i >= this.nodes.length) throw new RangeError(`no node ${node} in this cluster (${this.o.nodes.join(', ')})`)
    return i
  }

  /**
   * A process given as a region (index or id: its first process) or a process name
   * (`eu-2`); throws on an unknown one.
   */
  process(target: number | string): NodeProcess {
    if (typeof target === 'string') {
      const named = this.processes().find((n) => n.name === target)
      if (named !== undefined) return named
      if (!this.o.nodes.includes(target))
        throw new RangeError(
          `no process ${target} in this cluster (${this.processes()
            .map((n) => n.name)
            .join(', ')})`,
        )
    }
    return this.nodes[this.indexOf(target)]!
  }

  /** The region a process (or region) belongs to. */
  region(target: number | string): ClusterRegion {
    return this.regions[this.indexOf(this.process(target).id)]!
  }

  /** SIGKILLs a process (no flush, no goodbye); {@link restart} brings it back on the same ports. */
  async kill(target: number | string): Promise<void> {
    await this.process(target).kill()
  }

  /** SIGSTOPs a process: it holds its sockets and leases but does nothing until {@link resume}. */
  pause(target: number | string): void {
    this.process(target).pause()
  }

  /** SIGCONTs a paused process. */
  resume(target: number | string): void {
    this.process(target).resume()
  }

  /** Starts a stopped or killed process again, on its ports and with its arguments; resolves once it is ready. */
  async restart(target: number | string): Promise<NodeProcess> {
    const n = this.process(target)
    if (n.running) await n.stop()
    return n.start()
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

  /** Calls the admin API of a process (a region: its first process); never throws on an HTTP error status. */
  admin(node: number | string, method: string, path: string, body?: unknown): Promise<ApiResponse> {
    return new NodeApi(this.process(node).url, { token: this.adminToken }).call(method, path, body)
  }

  /**
   * Creates (or updates) a user at the first node and waits until every running process
   * accepts its password; returns an API client per region (at its first process).
   */
  async addUser(name: string, password: string, timeoutMs = 20_000): Promise<NodeApi[]> {
    const r = await this.admin(0, 'POST', '/api/admin/users', { name, password })
    if (r.status !== 200) throw new Error(`could not create user ${name}: ${r.status} ${JSON.stringify(r.data)}`)
    const clients = this.nodes.map((n) => new NodeApi(n.url, { user: name, password }))
    const everywhere = this.processes()
      .filter((n) => n.running && !n.paused)
      .map((n) => new NodeApi(n.url, { user: name, password }))
    await waitFor(
      async () => (await Promise.all(everywhere.map((c) => c.call('POST', '/api/token')))).every((x) => x.status === 200),
      timeoutMs,
      `user ${name} to reach every node`,
      25,
    )
    return clients
  }

  /** The peers of a node as its status reports them. */
  async peers(node: number | string): Promise<PeerStatus[]> {
    const s = await this.admin(node, 'GET', '/api/status')
    if (s.status !== 200) throw new Error(`status of ${this.process(node).name}: ${s.status} ${JSON.stringify(s.data)}`)
    return (s.data as { peers: PeerStatus[] }).peers
  }

  /**
   * Waits until every peer link of every region is open ('open') or none is ('down'); bounded.
   * In a region of several processes the links run in one of them: the region's links are
   * open when some running process reports every one open, down when none reports one open.
   */
  async linksAre(state: 'open' | 'down', timeoutMs = 30_000): Promise<void> {
    await waitFor(
      async () => {
        const regions = await Promise.all(
          this.regions.map((r) =>
            Promise.all(r.processes.filter((n) => n.running && !n.paused).map((n) => this.peers(n.name).catch(() => undefined))),
          ),
        )
        return regions.every((reports, i) => {
          const known = reports.filter((peers) => peers !== undefined)
          const others = this.o.nodes.filter((_, j) => j !== i)
          if (state === 'open') return known.some((peers) => others.every((id) => peers.some((p) => p.id === id && p.state === 'open')))
          return known.every((peers) => peers.every((p) => p.state !== 'open'))
        })
      },
      timeoutMs,
      `every peer link to be ${state}`,
      50,
    )
  }

  /** A process's Prometheus metrics text (a region: its first process). */
  async metrics(node: number | string): Promise<string> {
    return new NodeApi(this.process(node).url).metrics()
  }

  /**
   * Stops every process (SIGTERM, clean; a paused one is resumed first) and proxy, then every
   * region's database (removing it); removes the data directory if the cluster made it.
   */
  async stop(): Promise<void> {
    await Promise.all(this.processes().map((n) => n.stop()))
    for (const p of this.proxies.values()) await p.close()
    for (const r of this.regions) await r.database?.stop()
    if (this.ownsDir) rmSync(this.dir, { recursive: true, force: true })
  }
}

/** Reads a counter or gauge from Prometheus text (NaN when absent). */
export function metricValue(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `))
  return line === undefined ? NaN : Number(line.split(' ')[1])
}
