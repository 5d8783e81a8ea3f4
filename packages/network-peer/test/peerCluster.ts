import { createHmac, randomBytes } from 'node:crypto'
import http from 'node:http'
import type { Socket } from 'node:net'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { FaultProxy } from '../../testkit/src/FaultProxy.ts'
import { waitFor } from '../../testkit/src/waitFor.ts'
import type { Frame, PeerConfig, PeerNetworkOptions, PeerStatus } from '../src/index.ts'
import { MemoryPeerHost, PeerNetwork, decodeFrame, encodeFrame, helloProofMessage } from '../src/index.ts'

export const SECRET = new TextEncoder().encode('the shared secret of the test cluster')

/** Fast timings so failures and recoveries happen within test time. */
export const FAST: Partial<PeerNetworkOptions> = {
  backoff: { initialMs: 20, maxMs: 200 },
  pingIntervalMs: 100,
  pingTimeoutMs: 1500,
  cursorRefreshMs: 30,
  handshakeTimeoutMs: 1000,
  blobRetryMs: 200,
  verifyTimeoutMs: 150,
}

/** A node under test: an HTTP server on 127.0.0.1 (the peer path is /peer), its host and its network. */
export interface TestNode {
  id: string
  host: MemoryPeerHost
  server: http.Server
  port: number
  net: PeerNetwork | undefined
  /** Upgrade requests this node's server received on /peer. */
  upgrades: number
}

/** Tracks everything a test starts, so `stop()` tears it all down. */
export class Cluster {
  readonly nodes = new Map<string, TestNode>()
  readonly proxies: FaultProxy[] = []
  readonly raws: WebSocket[] = []
  readonly sockets: Socket[] = []

  /** Starts the HTTP server of node `id` (port 0 unless given) without a network yet. */
  async server(id: string, slot: number, options: { port?: number; host?: MemoryPeerHost } = {}): Promise<TestNode> {
    const server = http.createServer((_req, res) => res.writeHead(404).end())
    const node: TestNode = {
      id,
      host: options.host ?? new MemoryPeerHost({ nodeId: id, slot }),
      server,
      port: 0,
      net: undefined,
      upgrades: 0,
    }
    server.on('upgrade', (req, socket, head) => {
      if (req.url !== '/peer' || node.net === undefined) {
        socket.destroy()
        return
      }
      node.upgrades++
      node.net.handleUpgrade(req, socket, head)
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(options.port ?? 0, '127.0.0.1', () => resolve())
    })
    const address = server.address()
    if (address === null || typeof address === 'string') throw new Error('no port')
    node.port = address.port
    this.nodes.set(id, node)
    return node
  }

  /** Starts `node`'s network with `peers` and the fast test timings (overridable). */
  start(node: TestNode, peers: PeerConfig[], options: Partial<PeerNetworkOptions> = {}): PeerNetwork {
    node.net = new PeerNetwork({ host: node.host, secret: SECRET, peers, ...FAST, ...options })
    node.net.start()
    return node.net
  }

  /** Full mesh of `ids` (slot = index + 1), every link direct. */
  async mesh(ids: string[], options: Partial<PeerNetworkOptions> = {}): Promise<TestNode[]> {
    const nodes: TestNode[] = []
    for (const [i, id] of ids.entries()) nodes.push(await this.server(id, i + 1))
    for (const node of nodes)
      this.start(
        node,
        nodes.filter((n) => n !== node).map((n) => ({ id: n.id, url: url(n.port) })),
        options,
      )
    return nodes
  }

  async proxy(target: TestNode): Promise<FaultProxy> {
    const proxy = await FaultProxy.start({ targetPort: target.port })
    this.proxies.push(proxy)
    return proxy
  }

  /** Closes `node`'s network and HTTP server (the host survives, as storage would). */
  async stopNode(node: TestNode): Promise<void> {
    await node.net?.close()
    node.net = undefined
    node.server.closeAllConnections()
    await new Promise<void>((resolve) => node.server.close(() => resolve()))
  }

  async stop(): Promise<void> {
    for (const ws of this.raws) ws.terminate()
    for (const socket of this.sockets.splice(0)) socket.destroy()
    for (const node of this.nodes.values()) if (node.server.listening) await this.stopNode(node)
    for (const proxy of this.proxies) await proxy.close()
    this.nodes.clear()
    this.proxies.length = 0
  }

  get(id: string): TestNode {
    const node = this.nodes.get(id)
    if (node === undefined) throw new Error(`no node ${id}`)
    return node
  }
}

export const url = (port: number): string => `ws://127.0.0.1:${port}/peer`

export const statusOf = (node: TestNode, peer: string): PeerStatus => {
  const status = node.net?.status().find((s) => s.id === peer)
  if (status === undefined) throw new Error(`${node.id} has no status for ${peer}`)
  return status
}

export const isOpen = (node: TestNode, peer: string): boolean =>
  node.net?.status().some((s) => s.id === peer && s.state === 'open') === true

/** Waits until every node has an open link to every other node in `nodes`. */
export const waitMeshOpen = (nodes: TestNode[], ms = 5000): Promise<void> =>
  waitFor(() => nodes.every((a) => nodes.every((b) => a === b || isOpen(a, b.id))), ms, 'every link open')

/** Whether every node holds identical content for every document in `names`. */
export const sameDocs = (nodes: TestNode[], names: string[]): boolean =>
  names.every((name) => {
    // getArray first: a type only created by an integrated update has no JSON view.
    const [first, ...rest] = nodes.map((node) =>
      JSON.stringify([items(node, name), [...Y.decodeStateVector(Y.encodeStateVector(node.host.doc(name)))].sort()]),
    )
    return rest.every((json) => json === first)
  })

/** Items of the array 'log' of document `name` at `node`. */
export const items = (node: TestNode, name: string): unknown[] => node.host.doc(name).getArray('log').toArray()

export const append = (node: TestNode, name: string, value: unknown): void => {
  node.host.doc(name).getArray('log').push([value])
}

/** A hand-driven peer socket: for sending what a real node never would. */
export class RawPeer {
  readonly frames: Frame[] = []
  readonly closed: Promise<{ code: number; reason: string }>
  private readonly nonce = new Uint8Array(randomBytes(32))
  authenticated = false

  constructor(
    readonly ws: WebSocket,
    private readonly identity: { nodeId: string; slot: number; secret: Uint8Array } | undefined,
  ) {
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })))
    ws.on('error', () => {})
    // Our CHALLENGE must precede the HELLO we send in answer to the node's.
    if (identity !== undefined) ws.once('open', () => this.send({ type: 'challenge', nonce: this.nonce }))
    ws.on('message', (data: Buffer) => {
      let frame: Frame
      try {
        frame = decodeFrame(new Uint8Array(data))
      } catch {
        return
      }
      this.frames.push(frame)
      if (frame.type === 'challenge' && this.identity !== undefined) {
        const { nodeId, slot, secret } = this.identity
        const proof = new Uint8Array(
          createHmac('sha256', secret)
            .update(helloProofMessage(frame.nonce, nodeId, slot))
            .digest(),
        )
        this.send({ type: 'hello', nodeId, slot, protocolVersion: 1, proof, resume: undefined })
      }
      if (frame.type === 'hello') this.authenticated = true
    })
  }

  /** Connects to `port`; with an identity it answers the node's CHALLENGE with a HELLO. */
  static async connect(cluster: Cluster, port: number, identity?: { nodeId: string; slot: number; secret?: Uint8Array }): Promise<RawPeer> {
    const ws = new WebSocket(url(port), { perMessageDeflate: false })
    cluster.raws.push(ws)
    const raw = new RawPeer(ws, identity === undefined ? undefined : { secret: SECRET, ...identity })
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('error', reject)
    })
    return raw
  }

  send(frame: Frame): void {
    this.ws.send(encodeFrame(frame))
  }

  sendBytes(bytes: Uint8Array): void {
    this.ws.send(bytes)
  }
}
