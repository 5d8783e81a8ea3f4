import type { IncomingMessage, Server } from 'node:http'
import type { Duplex } from 'node:stream'
import WebSocket, { WebSocketServer } from 'ws'
import * as Y from 'yjs'
import { BlobFetcher } from './BlobFetcher.ts'
import { DocCache } from './DocCache.ts'
import type { PeerHost, PeerLogLevel } from './PeerHost.ts'
import { PeerLink } from './PeerLink.ts'
import type { LinkEnv } from './PeerLink.ts'
import type { HelloFrame } from './PeerProtocol.ts'
import { DEFAULT_MAX_FRAME_BYTES, MAX_FIELD_BYTES, encodeFrame } from './PeerProtocol.ts'
import { CloseCode, ProtocolError } from './ProtocolError.ts'
import { docSyncUpdate } from './readDocSyncMessage.ts'

/** A peer to keep a link with: its node id and the ws:// or wss:// URL of its peer endpoint. */
export interface PeerConfig {
  id: string
  url: string
}

/** Options of a {@link PeerNetwork}; every duration is in milliseconds. */
export interface PeerNetworkOptions {
  host: PeerHost
  /** The cluster's shared secret (at least 16 bytes): HELLO proofs are HMAC-SHA256 under it. */
  secret: Uint8Array
  /** Accept peer sockets from upgrade requests to `path` on `server` (alternatively route them to {@link PeerNetwork.handleUpgrade} yourself). */
  listen?: { server: Server; path: string }
  peers: PeerConfig[]
  /** Reconnect delays: doubling from `initialMs` up to `maxMs`, each with jitter (50-100 %). Default 200 / 10 000. */
  backoff?: { initialMs: number; maxMs: number }
  /** Largest frame accepted or sent. Default {@link DEFAULT_MAX_FRAME_BYTES}. */
  maxFrameBytes?: number
  /** Default timeout of {@link PeerNetwork.verify}. Default 150. */
  verifyTimeoutMs?: number
  /** Forward updates that came from a peer to the other peers (a partial mesh needs it). Default true. */
  relay?: boolean
  /** Time from socket creation to an authenticated link. Default 5 000. */
  handshakeTimeoutMs?: number
  /**
   * Bytes an inbound socket may send before it has authenticated (CHALLENGE, HELLO and
   * pings need well under 1 KiB); past it the socket is dropped. Default 64 KiB.
   */
  preAuthMaxBytes?: number
  /** Inbound sockets that may be authenticating at once; further upgrades get 503. Default 64. */
  maxPendingHandshakes?: number
  /** Ping period and the silence after which a link is declared dead. Default 2 000 / 10 000. */
  pingIntervalMs?: number
  pingTimeoutMs?: number
  /** How often a connected peer is told how far its resume point may move. Default 2 000. */
  cursorRefreshMs?: number
  /** Wait before asking again for a blob no peer had (or one that did not answer). Default 5 000. */
  blobRetryMs?: number
  /** A document the link layer holds open is released after this long unused (between 1 and 2 periods). Default 60 000. */
  docIdleMs?: number
}

/** The state of the link to one peer. */
export type PeerState = 'connecting' | 'open' | 'down'

/** What {@link PeerNetwork.status} reports per peer; byte and document counters are totals over every link to that peer. */
export interface PeerStatus {
  id: string
  state: PeerState
  /** The slot the peer claimed when it last authenticated. */
  slot: number | undefined
  /** Round-trip time of the last answered ping on the current link. */
  lagMs: number | undefined
  lastError: string | undefined
  /** Close code of the last link that ended (sent by this side, else received). */
  lastCloseCode: number | undefined
  bytesIn: number
  bytesOut: number
  /** Times a link to this peer was established again after the first. */
  reconnects: number
  /** Documents listed for catch-up to the peer and by the peer (the catch-up cost). */
  docsListedOut: number
  docsListedIn: number
  /** Catch-up listings sent to the peer in full (one per link open, more as changes are listed while connected). */
  listingsOut: number
}

/** The outcome of {@link PeerNetwork.verify}. */
export interface VerifyResult {
  /** Peers whose reply arrived (and was integrated) in time. */
  answered: string[]
  /** Peers connected when asked that did not answer in time (or whose link failed meanwhile). */
  timedOut: string[]
  /** Known peers without an authenticated link when asked: not asked at all. */
  unreachable: string[]
}

interface PeerEntry {
  readonly id: string
  readonly url: string | undefined
  /** Identified links not closed yet (at most one open). */
  readonly links: Set<PeerLink>
  open: PeerLink | undefined
  dialing: PeerLink | undefined
  slot: number | undefined
  attempt: number
  timer: NodeJS.Timeout | undefined
  lastError: string | undefined
  lastCloseCode: number | undefined
  lastLogged: string | undefined
  opens: number
  bytesIn: number
  bytesOut: number
  docsListedOut: number
  docsListedIn: number
  listingsOut: number
}

const isGraceful = (code: number | undefined): boolean => code === CloseCode.NORMAL || code === CloseCode.GOING_AWAY

/** The node that dials a pair's socket: the smaller id, so a pair has one socket. */
const dialler = (link: PeerLink, selfId: string): string => (link.role === 'dial' ? selfId : (link.peerId ?? ''))

/**
 * Node-to-node replication over one authenticated WebSocket per peer pair, carrying
 * every document and blob transfer. The node with the smaller id dials (with
 * exponential backoff and jitter), the other accepts; a second socket of a pair is
 * closed with DUPLICATE_CONNECTION. Guarantees:
 * - only peers proving the shared secret exchange anything (HMAC HELLO, AUTH_FAILED
 *   otherwise); two node ids claiming one slot are refused with SLOT_CONFLICT;
 * - on every (re)connect, both sides catch up on exactly the documents changed since
 *   the peer's saved resume point (all of them when its epoch is unknown), then every
 *   update of the host is forwarded live, never back to the link it came from;
 * - bad input from a peer closes that link with the codec's close code and is logged
 *   once; it never throws out and never reaches a document undecoded;
 * - after `close()` no socket, timer or open document is left.
 */
export class PeerNetwork {
  private readonly host: PeerHost
  private readonly entries = new Map<string, PeerEntry>()
  private readonly handshaking = new Set<PeerLink>()
  /** Per inbound link still authenticating: stops counting its pre-auth bytes. */
  private readonly preAuthGuards = new Map<PeerLink, () => void>()
  private readonly preAuthMaxBytes: number
  private readonly maxPendingHandshakes: number
  private readonly wss: WebSocketServer
  private readonly docs: DocCache
  private readonly blobs: BlobFetcher
  private readonly env: LinkEnv
  private readonly backoff: { initialMs: number; maxMs: number }
  private readonly maxFrameBytes: number
  private readonly verifyTimeoutMs: number
  private readonly relay: boolean
  private readonly unsubscribe: () => void
  private readonly detach: (() => void) | undefined
  private readonly links = new WeakSet<PeerLink>()
  private started = false
  private closed = false

  constructor(options: PeerNetworkOptions) {
    const { host } = options
    if (options.secret.length < 16) throw new RangeError('the peer secret must be at least 16 bytes')
    const seen = new Set<string>()
    for (const peer of options.peers) {
      if (peer.id === host.nodeId) throw new RangeError(`peer list contains this node's own id ${peer.id}`)
      if (seen.has(peer.id)) throw new RangeError(`peer ${peer.id} is listed twice`)
      if (!/^wss?:\/\//.test(peer.url)) throw new RangeError(`peer ${peer.id} URL must be ws:// or wss://, got ${peer.url}`)
      seen.add(peer.id)
    }
    this.host = host
    this.backoff = options.backoff ?? { initialMs: 200, maxMs: 10_000 }
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
    this.verifyTimeoutMs = options.verifyTimeoutMs ?? 150
    this.relay = options.relay ?? true
    this.preAuthMaxBytes = options.preAuthMaxBytes ?? 64 * 1024
    this.maxPendingHandshakes = options.maxPendingHandshakes ?? 64
    this.docs = new DocCache(host, options.docIdleMs ?? 60_000)
    const log = (level: PeerLogLevel, msg: string, fields?: Record<string, unknown>): void => {
      try {
        host.log?.(level, msg, { node: host.nodeId, ...fields })
      } catch {
        // A failing logger must not take the link layer down.
      }
    }
    this.blobs = new BlobFetcher({ blobs: host.blobs, retryMs: options.blobRetryMs ?? 5000, openLinks: () => this.openLinks(), log })
    this.env = {
      host,
      secret: options.secret,
      maxFrameBytes: this.maxFrameBytes,
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? 5000,
      pingIntervalMs: options.pingIntervalMs ?? 2000,
      pingTimeoutMs: options.pingTimeoutMs ?? 10_000,
      cursorRefreshMs: options.cursorRefreshMs ?? 2000,
      relay: this.relay,
      docs: this.docs,
      admit: (link, hello) => this.admit(link, hello),
      opened: (link) => this.opened(link),
      closed: (link) => this.linkClosed(link),
      blobData: (link, frame) => this.blobs.data(link, frame),
      blobMissing: (link, frame) => this.blobs.missingAt(link, frame),
      log,
    }
    // ws enforces a hard cap slightly above the frame limit, so an oversize frame is
    // normally refused by the codec with TOO_LARGE; ws's own 1009 only for gross excess.
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: this.maxFrameBytes + 64 * 1024,
      perMessageDeflate: false,
      clientTracking: false,
    })
    this.wss.on('error', (error) => log('error', 'peer listener error', { error: error.message }))
    this.unsubscribe = host.onUpdate((docName, update, origin) => this.forward(docName, update, origin))
    if (options.listen !== undefined) {
      const { server, path } = options.listen
      const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
        if (new URL(req.url ?? '/', 'http://peer').pathname === path) this.handleUpgrade(req, socket, head)
      }
      server.on('upgrade', onUpgrade)
      this.detach = () => server.off('upgrade', onUpgrade)
    }
    for (const peer of options.peers) this.entry(peer.id, peer.url)
  }

  /**
   * Starts dialling the configured peers with a greater id (call once the node's own
   * listener is up; inbound sockets are accepted from construction on). Idempotent.
   */
  start(): void {
    if (this.started || this.closed) return
    this.started = true
    for (const entry of this.entries.values()) if (this.host.nodeId < entry.id) this.dial(entry)
  }

  /** Whether a Yjs transaction origin is a link of this network, i.e. the update came from a peer. */
  isPeerOrigin(origin: unknown): origin is PeerLink {
    return origin instanceof PeerLink && this.links.has(origin)
  }

  /**
   * Takes over an HTTP upgrade request as an inbound peer socket (route the peer path
   * here). Until the socket authenticates it may send at most `preAuthMaxBytes` (ws's
   * per-message limit is the large post-auth frame limit, so without this a stranger
   * could make the node buffer a whole oversize frame), and at most
   * `maxPendingHandshakes` such sockets are accepted at once.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.closed) {
      socket.destroy()
      return
    }
    if (this.handshaking.size >= this.maxPendingHandshakes) {
      this.env.log('warn', 'peer socket refused: too many unauthenticated sockets', { pending: this.handshaking.size })
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
      return
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      if (this.closed) {
        ws.terminate()
        return
      }
      const link = new PeerLink(ws, 'accept', undefined, this.env)
      this.links.add(link)
      this.handshaking.add(link)
      // ws has attached its own reader (and re-queued `head`), so this sees every byte it does.
      let bytes = 0
      const count = (chunk: Buffer): void => {
        bytes += chunk.length
        if (bytes <= this.preAuthMaxBytes) return
        socket.off('data', count)
        this.env.log('warn', 'peer socket sent too much before authenticating', { bytes, limit: this.preAuthMaxBytes })
        link.terminate('too much data before authentication')
      }
      socket.on('data', count)
      this.preAuthGuards.set(link, () => socket.off('data', count))
    })
  }

  /**
   * The fast-path barrier: sends every connected peer a SYNC_REQUEST for `docName`
   * (after every update frame already sent on that socket) and resolves once each
   * replied or `timeoutMs` passed. A reply proves the peer integrated everything sent
   * before it; its state of the document is integrated here before this resolves.
   */
  async verify(docName: string, timeoutMs = this.verifyTimeoutMs): Promise<VerifyResult> {
    if (docName === '' || new TextEncoder().encode(docName).length > MAX_FIELD_BYTES) {
      throw new RangeError(`document name must be 1-${MAX_FIELD_BYTES} UTF-8 bytes`)
    }
    const stateVector = Y.encodeStateVector(await this.docs.get(docName))
    const links = this.openLinks()
    const asked = new Set(links.map((link) => link.peerId ?? ''))
    const unreachable = [...this.entries.keys()].filter((id) => !asked.has(id))
    const answered: string[] = []
    const timedOut: string[] = []
    if (links.length === 0) return { answered, timedOut, unreachable }
    return new Promise((resolve) => {
      let left = links.length
      let done = false
      const finish = (): void => {
        if (done) return
        done = true
        clearTimeout(timer)
        const missing = links.map((link) => link.peerId ?? '').filter((id) => !answered.includes(id) && !timedOut.includes(id))
        resolve({ answered, timedOut: [...timedOut, ...missing], unreachable })
      }
      const timer = setTimeout(finish, timeoutMs)
      for (const link of links) {
        void link.request(docName, stateVector).then((reply) => {
          if (done) return
          if (reply === undefined) timedOut.push(link.peerId ?? '')
          else answered.push(link.peerId ?? '')
          if (--left === 0) finish()
        })
      }
    })
  }

  /**
   * Fetches blob `hash` (lowercase hex SHA-256) from the peers that have it, verifying
   * the bytes before `host.blobs.put`. Resolves true once stored (at once when already
   * present), false when `timeoutMs` passes first or the network closes.
   */
  want(hash: string, timeoutMs?: number): Promise<boolean> {
    return this.blobs.want(hash, timeoutMs)
  }

  /** Blobs wanted and not fetched yet. */
  get missingBlobs(): number {
    return this.blobs.missing
  }

  /** Blob replies rejected because their bytes did not match their hash. */
  get rejectedBlobs(): number {
    return this.blobs.rejectedCount
  }

  /** One entry per configured peer and per other peer that connected, in id order. */
  status(): PeerStatus[] {
    return [...this.entries.values()]
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map((entry) => {
        const links = [...entry.links]
        const sum = (f: (link: PeerLink) => number): number => links.reduce((total, link) => total + f(link), 0)
        return {
          id: entry.id,
          state: entry.open !== undefined ? 'open' : links.length > 0 ? 'connecting' : 'down',
          slot: entry.slot,
          lagMs: entry.open?.lagMs,
          lastError: entry.lastError,
          lastCloseCode: entry.lastCloseCode,
          bytesIn: entry.bytesIn + sum((link) => link.bytesIn),
          bytesOut: entry.bytesOut + sum((link) => link.bytesOut),
          reconnects: Math.max(0, entry.opens - 1),
          docsListedOut: entry.docsListedOut + sum((link) => link.docsListedOut),
          docsListedIn: entry.docsListedIn + sum((link) => link.docsListedIn),
          listingsOut: entry.listingsOut + sum((link) => link.listingsOut),
        }
      })
  }

  /** Closes every link (GOING_AWAY), stops dialling and every timer, releases documents; pending wants resolve false. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.unsubscribe()
    this.detach?.()
    this.blobs.close()
    const links = [...this.handshaking]
    for (const entry of this.entries.values()) {
      clearTimeout(entry.timer)
      entry.timer = undefined
      links.push(...entry.links)
    }
    for (const link of links) link.close(CloseCode.GOING_AWAY, 'node shutting down')
    await Promise.all(links.map((link) => link.done))
    this.docs.close()
    await new Promise<void>((resolve) => this.wss.close(() => resolve()))
  }

  private entry(id: string, url?: string): PeerEntry {
    let entry = this.entries.get(id)
    if (entry === undefined) {
      entry = {
        id,
        url,
        links: new Set(),
        open: undefined,
        dialing: undefined,
        slot: undefined,
        attempt: 0,
        timer: undefined,
        lastError: undefined,
        lastCloseCode: undefined,
        lastLogged: undefined,
        opens: 0,
        bytesIn: 0,
        bytesOut: 0,
        docsListedOut: 0,
        docsListedIn: 0,
        listingsOut: 0,
      }
      this.entries.set(id, entry)
    }
    return entry
  }

  private openLinks(): PeerLink[] {
    const links: PeerLink[] = []
    for (const entry of this.entries.values()) if (entry.open?.isOpen === true) links.push(entry.open)
    return links
  }

  private dial(entry: PeerEntry): void {
    entry.timer = undefined
    if (this.closed || !this.started || entry.url === undefined || entry.open !== undefined || entry.dialing !== undefined) return
    const ws = new WebSocket(entry.url, {
      perMessageDeflate: false,
      maxPayload: this.maxFrameBytes + 64 * 1024,
      handshakeTimeout: this.env.handshakeTimeoutMs,
    })
    const link = new PeerLink(ws, 'dial', entry.id, this.env)
    this.links.add(link)
    entry.dialing = link
    entry.links.add(link)
  }

  private scheduleDial(entry: PeerEntry): void {
    if (this.closed || !this.started || entry.url === undefined || entry.timer !== undefined) return
    const ceiling = Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** Math.min(entry.attempt, 30))
    entry.attempt++
    // Jitter keeps a cluster that lost a node from redialling it in lockstep.
    const delay = ceiling / 2 + (Math.random() * ceiling) / 2
    entry.timer = setTimeout(() => this.dial(entry), delay)
  }

  private admit(link: PeerLink, hello: HelloFrame): ProtocolError | undefined {
    if (this.closed) return new ProtocolError('forbidden', 'node is shutting down')
    if (hello.nodeId === this.host.nodeId) return new ProtocolError('forbidden', 'peer claims this node’s own id')
    const holder =
      hello.slot === this.host.slot
        ? this.host.nodeId
        : [...this.entries.values()].find((entry) => entry.id !== hello.nodeId && entry.open !== undefined && entry.slot === hello.slot)?.id
    if (holder !== undefined) {
      this.env.log('error', 'slot conflict: two nodes claim one slot', { slot: hello.slot, peer: hello.nodeId, holder })
      return new ProtocolError('slotConflict', `slot ${hello.slot} is held by node ${holder}`)
    }
    const entry = this.entry(hello.nodeId)
    const existing = entry.open
    if (existing !== undefined && existing !== link) {
      const self = this.host.nodeId
      const keepExisting = dialler(existing, self) < dialler(link, self)
      if (keepExisting) return new ProtocolError('duplicateConnection', 'this pair already has a socket')
      // Same dialler again (typically it restarted): the newer socket is the live one.
      existing.close(CloseCode.DUPLICATE_CONNECTION, 'replaced by a newer socket')
    }
    return undefined
  }

  private opened(link: PeerLink): void {
    const id = link.peerId
    if (id === undefined) return
    this.endHandshake(link)
    const entry = this.entry(id)
    entry.links.add(link)
    entry.open = link
    entry.slot = link.peerSlot
    entry.attempt = 0
    entry.opens++
    entry.lastError = undefined
    entry.lastLogged = undefined
    this.env.log('info', 'peer link open', { peer: id, role: link.role, reconnects: Math.max(0, entry.opens - 1) })
    this.blobs.linkOpened(link)
  }

  private endHandshake(link: PeerLink): void {
    this.handshaking.delete(link)
    this.preAuthGuards.get(link)?.()
    this.preAuthGuards.delete(link)
  }

  private linkClosed(link: PeerLink): void {
    this.endHandshake(link)
    const entry = link.peerId === undefined ? undefined : this.entries.get(link.peerId)
    if (entry === undefined || !entry.links.has(link)) {
      if (!link.failureLogged && !isGraceful(link.closeCode) && link.lastError !== undefined) {
        this.env.log('info', 'unidentified peer socket closed', { code: link.closeCode, error: link.lastError })
      }
      return
    }
    entry.links.delete(link)
    entry.bytesIn += link.bytesIn
    entry.bytesOut += link.bytesOut
    entry.docsListedOut += link.docsListedOut
    entry.docsListedIn += link.docsListedIn
    entry.listingsOut += link.listingsOut
    entry.lastCloseCode = link.closeCode
    entry.lastError = link.lastError ?? (isGraceful(link.closeCode) ? entry.lastError : `closed with code ${link.closeCode}`)
    const wasOpen = entry.open === link
    if (wasOpen) entry.open = undefined
    if (entry.dialing === link) entry.dialing = undefined
    if (wasOpen) this.blobs.linkClosed(link)
    // One line per link that was up; a dial loop failing the same way logs only when the failure changes.
    const summary = `${link.closeCode}:${link.lastError ?? ''}`
    if (!link.failureLogged && (wasOpen || summary !== entry.lastLogged)) {
      entry.lastLogged = summary
      const level = wasOpen && isGraceful(link.closeCode) ? 'info' : 'warn'
      this.env.log(level, wasOpen ? 'peer link closed' : 'peer link not established', {
        peer: entry.id,
        code: link.closeCode,
        error: link.lastError,
      })
    }
    if (entry.open === undefined && entry.dialing === undefined && this.host.nodeId < entry.id) this.scheduleDial(entry)
  }

  private forward(docName: string, update: Uint8Array, origin: unknown): void {
    if (this.closed) return
    const fromPeer = origin instanceof PeerLink
    if (fromPeer && !this.relay) return
    const links = this.openLinks().filter((link) => link !== origin)
    if (links.length === 0) return
    let bytes: Uint8Array
    try {
      bytes = encodeFrame(docSyncUpdate(docName, update), this.maxFrameBytes)
    } catch (error) {
      // Never throw into the host's Yjs observer; the next catch-up listing carries the change.
      this.env.log('error', 'update not forwarded', {
        doc: docName,
        bytes: update.length,
        error: error instanceof Error ? error.message : String(error),
      })
      for (const link of links) link.markLiveGap()
      return
    }
    for (const link of links) link.sendBytes(bytes)
  }
}
