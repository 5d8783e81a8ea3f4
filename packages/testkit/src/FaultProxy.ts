import net from 'node:net'

/** How a cut proxy treats new connections: reset them at once, or accept and silently drop their bytes. */
export type CutMode = 'refuse' | 'blackhole'

/** Where a {@link FaultProxy} forwards to. */
export interface FaultProxyOptions {
  targetPort: number
  /** Defaults to 127.0.0.1. */
  targetHost?: string
  /**
   * More ports of the same service (the processes of one region behind one address, as a load
   * balancer would put them): each new connection starts at the port after the one the previous
   * connection started at and takes the first that accepts it.
   */
  alternatePorts?: number[]
}

/** Counters since the proxy started; bytes count what was forwarded (written onward), not what was dropped. */
export interface FaultProxyStats {
  bytesToTarget: number
  bytesFromTarget: number
  /** Connections forwarded to the target. */
  accepted: number
  /** Connections reset or blackholed while cut. */
  refused: number
}

interface Queued {
  chunk: Buffer
  due: number
}

/**
 * One direction of a proxied connection. Every chunk is held until its due time
 * (arrival + delay at arrival) and written strictly in arrival order, so lowering the
 * delay never lets a later chunk overtake an earlier one.
 */
class DelayedPipe {
  private queue: Queued[] = []
  private timer: NodeJS.Timeout | undefined
  private sourceEnded = false
  private waitingForDrain = false

  constructor(
    private readonly source: net.Socket,
    private readonly dest: net.Socket,
    private readonly delay: () => number,
    private readonly count: (bytes: number) => void,
  ) {
    source.on('data', (chunk: Buffer) => this.push(chunk))
    source.on('end', () => {
      this.sourceEnded = true
      this.flush()
    })
  }

  stop(): void {
    clearTimeout(this.timer)
    this.timer = undefined
    this.queue = []
  }

  private push(chunk: Buffer): void {
    const delay = this.delay()
    if (delay === 0 && this.queue.length === 0) {
      this.write(chunk)
      return
    }
    this.queue.push({ chunk, due: performance.now() + delay })
    if (this.timer === undefined) this.flush()
  }

  private flush(): void {
    this.timer = undefined
    for (let head = this.queue[0]; head !== undefined; head = this.queue[0]) {
      const wait = head.due - performance.now()
      // Timers may fire a little early; re-arm rather than deliver before the due time.
      if (wait > 0) {
        this.timer = setTimeout(() => this.flush(), Math.ceil(wait))
        return
      }
      this.queue.shift()
      this.write(head.chunk)
    }
    if (this.sourceEnded && !this.dest.destroyed) this.dest.end()
  }

  private write(chunk: Buffer): void {
    if (this.dest.destroyed) return
    this.count(chunk.length)
    if (!this.dest.write(chunk) && !this.waitingForDrain) {
      this.waitingForDrain = true
      this.source.pause()
      this.dest.once('drain', () => {
        this.waitingForDrain = false
        this.source.resume()
      })
    }
  }
}

interface Link {
  client: net.Socket
  upstream: net.Socket
  pipes: DelayedPipe[]
}

const reset = (socket: net.Socket): void => {
  if (socket.destroyed) return
  // RST looks like a broken link to the peer; a socket still connecting cannot send one.
  if (socket.connecting) socket.destroy()
  else socket.resetAndDestroy()
}

/**
 * A TCP proxy on 127.0.0.1 (ephemeral port) that injects network faults between two
 * endpoints: plain byte piping, so it carries WebSocket traffic unchanged. Guarantees:
 * bytes are forwarded in order in each direction; a delay holds every chunk at least
 * that long; while cut, no byte and no new connection reaches the target.
 */
export class FaultProxy {
  private readonly links = new Set<Link>()
  private readonly holes = new Set<net.Socket>()
  private mode: CutMode | undefined
  private delayMs = 0
  private closed = false
  private readonly counters: FaultProxyStats = { bytesToTarget: 0, bytesFromTarget: 0, accepted: 0, refused: 0 }

  /** Connections accepted while a target is being dialled (several targets only). */
  private readonly dialling = new Set<net.Socket>()
  private nextTarget = 0

  private constructor(
    private readonly server: net.Server,
    private readonly target: { host: string; ports: number[] },
  ) {}

  /** Starts a proxy listening on 127.0.0.1 port 0, forwarding to the target; resolves once it listens. */
  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    const server = net.createServer({ allowHalfOpen: true })
    const proxy = new FaultProxy(server, {
      host: options.targetHost ?? '127.0.0.1',
      ports: [options.targetPort, ...(options.alternatePorts ?? [])],
    })
    server.on('connection', (socket) => proxy.accept(socket))
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject)
        resolve()
      })
    })
    return proxy
  }

  /** The port the proxy listens on (127.0.0.1). */
  get port(): number {
    const address = this.server.address()
    if (address === null || typeof address === 'string') throw new Error('FaultProxy is not listening')
    return address.port
  }

  /** Live connections currently forwarded to the target. */
  get connections(): number {
    return this.links.size
  }

  /** Connections accepted while cut in 'blackhole' mode and still held open. */
  get blackholed(): number {
    return this.holes.size
  }

  /** Whether the proxy is cut. */
  get isCut(): boolean {
    return this.mode !== undefined
  }

  /** A snapshot of the counters. */
  get stats(): FaultProxyStats {
    return { ...this.counters }
  }

  /**
   * Partitions the link: resets every live connection (both sides) and, until
   * {@link restore}, resets new connections at once ('refuse') or accepts them and drops
   * every byte they send ('blackhole'), never contacting the target.
   */
  cut(mode: CutMode = 'refuse'): void {
    this.mode = mode
    for (const link of [...this.links]) this.teardown(link, reset)
    for (const socket of [...this.dialling]) reset(socket)
  }

  /** Heals the partition: new connections are forwarded again; blackholed ones are reset (their bytes are gone). */
  restore(): void {
    this.mode = undefined
    for (const socket of [...this.holes]) reset(socket)
    this.holes.clear()
  }

  /** Delays every later chunk in each direction by at least `ms`, preserving order; 0 forwards at once. */
  setDelay(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`delay must be a finite number >= 0, got ${ms}`)
    this.delayMs = ms
  }

  /** Destroys every connection and stops listening; resolves once the listener is closed. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const link of [...this.links]) this.teardown(link, (socket) => socket.destroy())
    for (const socket of this.dialling) socket.destroy()
    for (const socket of this.holes) socket.destroy()
    this.holes.clear()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  private accept(client: net.Socket): void {
    // Errors (resets from either side) end the link through 'close'; they are the faults we inject.
    client.on('error', () => {})
    if (this.closed) {
      client.destroy()
      return
    }
    if (this.mode === 'refuse') {
      this.counters.refused++
      reset(client)
      return
    }
    if (this.mode === 'blackhole') {
      this.counters.refused++
      this.holes.add(client)
      client.on('close', () => this.holes.delete(client))
      client.resume()
      return
    }
    this.counters.accepted++
    const ports = this.target.ports
    if (ports.length === 1) return this.pipe(client, net.connect({ host: this.target.host, port: ports[0]!, allowHalfOpen: true }))
    // several targets: hold the client's bytes until one target accepted the connection
    client.pause()
    this.dialling.add(client)
    client.on('close', () => this.dialling.delete(client))
    const first = this.nextTarget++ % ports.length
    const attempt = (k: number): void => {
      if (client.destroyed) return
      if (k === ports.length) return reset(client)
      const upstream = net.connect({ host: this.target.host, port: ports[(first + k) % ports.length]!, allowHalfOpen: true })
      upstream.once('error', () => attempt(k + 1))
      upstream.once('connect', () => {
        upstream.removeAllListeners('error')
        this.dialling.delete(client)
        if (client.destroyed) return upstream.destroy()
        this.pipe(client, upstream)
        client.resume()
      })
    }
    attempt(0)
  }

  private pipe(client: net.Socket, upstream: net.Socket): void {
    upstream.on('error', () => {})
    const delay = (): number => this.delayMs
    const link: Link = {
      client,
      upstream,
      pipes: [
        new DelayedPipe(client, upstream, delay, (n) => (this.counters.bytesToTarget += n)),
        new DelayedPipe(upstream, client, delay, (n) => (this.counters.bytesFromTarget += n)),
      ],
    }
    this.links.add(link)
    const done = (): void => this.teardown(link, (socket) => socket.destroy())
    client.on('close', done)
    upstream.on('close', done)
  }

  private teardown(link: Link, end: (socket: net.Socket) => void): void {
    if (!this.links.delete(link)) return
    for (const pipe of link.pipes) pipe.stop()
    end(link.client)
    end(link.upstream)
  }
}
