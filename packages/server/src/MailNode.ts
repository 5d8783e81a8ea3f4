import { mkdir } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import type { AddressInfo } from 'node:net'
import { isMailboxDocName, messageFactsInUpdate, StorageError, USERS_DOC, type BlobStore } from '@mailweave/core'
import { lockDirectory, type DirLock } from '@mailweave/storage-fs'
import { PeerNetwork, type PeerHost, type PeerStatus } from '@mailweave/network-peer'
import { DocRegistry, type DocHandle, type SavedChangeCursor } from './DocRegistry.ts'
import { PEERS_ROLE } from './AccountOwnership.ts'
import { PeerResume } from './PeerResume.ts'
import { incarnation, setAside, type Incarnation } from './Incarnation.ts'
import { NodeError } from './NodeError.ts'
import { EdgeServer } from './EdgeServer.ts'
import { HttpApi } from './HttpApi.ts'
import { MailStore, type MailboxHandle, type PeerBarrier } from './MailStore.ts'
import { startImap, type ImapFrontEnd } from './startImap.ts'
import { startLmtp, type LmtpFrontEnd } from './startLmtp.ts'
import { listenError } from './listenError.ts'
import { validateConfig, type NodeConfig } from './NodeConfig.ts'
import { createLogger, type Logger } from './Logger.ts'
import { UserDirectory } from './UserDirectory.ts'
import { openFileStorage, withBlobStore, type NodeStorage } from './NodeStorage.ts'
import type { ProcessAddresses } from './AccountOwnership.ts'
import { AccountRouter, edgeRequestUser, httpRequestUser } from './AccountRouter.ts'
import { NodeLmtpBackend } from './NodeLmtpBackend.ts'
import { tryLater } from '@mailweave/lmtp'

/** Record present while a node runs (see MailStoreOptions.uncleanStop); a file in the data directory by default. */
const RUNNING_MARKER = 'running'
/**
 * Record holding the change counter of a store of one process, written at a clean stop and
 * removed at start (so a crash starts a new epoch: the peers then catch up in full).
 */
const CHANGE_CURSOR = 'change-cursor.json'
/** Record holding every peer's resume point, as JSON. */
const PEER_RESUME = 'peer-resume.json'
const utf8 = new TextEncoder()

/**
 * A mailweave node: what an operator runs in each region. Composes the durable
 * document registry, the blob store, accounts, the peer network (one authenticated
 * WebSocket per peer pair at `/peer`), the y-websocket edge endpoint (`/edge/<doc>`)
 * and the HTTP API, all on one HTTP listener.
 */
export class MailNode {
  readonly log: Logger
  private server: Server | undefined
  private storage: NodeStorage | undefined
  private lock: DirLock | undefined
  private incarnation: Incarnation | undefined
  private registry!: DocRegistry
  private blobs!: BlobStore
  private users!: UserDirectory
  private store!: MailStore
  private edge!: EdgeServer
  private peers: PeerNetwork | undefined
  private imap: ImapFrontEnd | undefined
  private lmtp: LmtpFrontEnd | undefined
  private usersHandle: DocHandle | undefined
  private router!: AccountRouter
  /** Unsubscribes from the ownership's onLost/onPeersGained. */
  private readonly unwatch: (() => void)[] = []
  /** The running-marker record of this process (one per process of a shared region). */
  private marker = RUNNING_MARKER
  private readonly wanted = new Set<string>()
  private stopped = false
  private markerWritten = false

  private constructor(
    readonly config: NodeConfig,
    log?: Logger,
  ) {
    this.log = log ?? createLogger({ name: config.nodeId })
  }

  /**
   * Starts a node and the front ends its config asks for (IMAP, LMTP); resolves once every
   * listener is bound. A listener that cannot bind (bad or busy address) fails the start:
   * what was started is stopped again and a NodeError names the listener and the cause.
   */
  static async start(config: NodeConfig, log?: Logger): Promise<MailNode> {
    const node = new MailNode(validateConfig(config), log)
    try {
      await node.init()
      if (config.imap !== undefined)
        node.imap = await startImap({
          config,
          imap: config.imap,
          store: node.store,
          users: node.users,
          registry: node.registry,
          log: node.log,
          router: node.router,
        })
      if (config.lmtp !== undefined)
        node.lmtp = await startLmtp({
          config,
          lmtp: config.lmtp,
          store: node.store,
          users: node.users,
          log: node.log,
          router: node.router,
        })
      await node.storage?.ownership?.advertise?.(node.advertised())
      await node.startPeersIfHere()
    } catch (e) {
      await node.stop().catch(() => undefined)
      throw e
    }
    return node
  }

  /** `host:port` the node listens on. */
  get address(): { host: string; port: number } {
    const a = this.server?.address() as AddressInfo | null | undefined
    return { host: this.config.host, port: a?.port ?? 0 }
  }

  /** Base URL of the HTTP/WebSocket listener. */
  get url(): string {
    return `http://${this.address.host}:${this.address.port}`
  }

  /** Where the other processes of the region reach this one (the bound addresses, `advertiseHost` replacing the host). */
  advertised(): Omit<ProcessAddresses, 'process'> {
    const host = (h: string) => {
      const a = this.config.advertiseHost ?? (h === '0.0.0.0' || h === '::' || h === '' ? '127.0.0.1' : h)
      return a.includes(':') ? `[${a}]` : a
    }
    const hostPort = (url: string | undefined) => {
      const m = url === undefined ? null : /^\w+:\/\/\[?(.*?)\]?:(\d+)$/.exec(url)
      return m === null ? undefined : `${host(m[1]!)}:${m[2]!}`
    }
    return { http: `http://${hostPort(this.url)!}`, imap: hostPort(this.imapUrl), lmtp: hostPort(this.lmtpUrl) }
  }

  /** `imap://host:port` of the IMAP front end, undefined when the config has none. */
  get imapUrl(): string | undefined {
    return this.imap?.url
  }

  /** `lmtp://host:port` of the LMTP front end, undefined when the config has none. */
  get lmtpUrl(): string | undefined {
    return this.lmtp?.url
  }

  /** Creates a user or sets its password (replicates to every node). */
  async addUser(name: string, password: string): Promise<void> {
    await this.users.setPassword(name, password)
  }

  /** Whether `name` is a user known at this node (users replicate asynchronously). */
  hasUser(name: string): boolean {
    return this.users.get(name) !== undefined
  }

  /** Whether `password` is the password of `name`. */
  verifyUser(name: string, password: string): Promise<boolean> {
    return this.users.verify(name, password)
  }

  /** Opens mailbox `name` of `user` (undefined when it does not exist); release the handle when done. */
  openMailbox(user: string, name: string): Promise<MailboxHandle | undefined> {
    return this.store.open(user, name)
  }

  /** The links to the peers (empty without peers). */
  peerStatus(): PeerStatus[] {
    return this.peers?.status() ?? []
  }

  /** A body held by this node's blob store (no fetch from peers). */
  storedBody(hash: string): Promise<Uint8Array | undefined> {
    return this.blobs.get(hash)
  }

  /** Hashes of every body this node holds. */
  storedBodies(): AsyncIterable<string> {
    return this.blobs.keys()
  }

  private async init(): Promise<void> {
    const c = this.config
    await mkdir(c.dataDir, { recursive: true })
    const storageLog = (msg: string, fields?: object) => this.log.warn({ ...fields }, msg)
    // one process per data directory: two would allocate the same UIDs
    this.lock = await lockDirectory(c.dataDir, storageLog)
    let rejoining: Awaited<ReturnType<typeof setAside>> | undefined
    if (c.rejoin === true) {
      if (c.storage !== undefined) throw new NodeError('BAD_REQUEST', '--rejoin works with the file storage only')
      rejoining = await setAside(c)
      this.log.warn(
        { node: c.nodeId, movedTo: rejoining.movedTo, previous: rejoining.previous?.replica },
        'rejoining: the old data is set aside; everything is fetched again from the peers under a new replica id and slot',
      )
    }
    const own =
      c.storage ??
      (await openFileStorage(c.dataDir, storageLog).catch((e: unknown) => {
        if (!(e instanceof StorageError) || e.code !== 'CORRUPT') throw e
        throw new NodeError(
          'STORAGE',
          `refusing to start: ${e.message}. This node's own history is damaged, so it must not allocate UIDs under its slot again. Recover by rejoining from the peers under a new slot: mailweave serve --rejoin --slot <a slot no node ever used> (same --node-id and --data; see docs/deployment.md)`,
        )
      }))
    const storage = (this.storage = c.blobs === undefined ? own : withBlobStore(own, c.blobs))
    const me = (this.incarnation = await incarnation(storage.meta, c, rejoining))
    // present while the node runs: finding it at start means the last stop was not clean
    // (one record per process when several processes share the region's storage)
    if (storage.ownership !== undefined) this.marker = `${RUNNING_MARKER}.${storage.ownership.processId}`
    const uncleanStop = (await storage.meta.get(this.marker)) !== undefined
    await storage.meta.put(this.marker, utf8.encode(`${process.pid}\n`))
    this.markerWritten = true
    this.blobs = storage.blobs
    const cursor = uncleanStop || rejoining !== undefined ? undefined : await this.savedCursor(storage)
    await storage.meta.delete(CHANGE_CURSOR)
    this.registry = await DocRegistry.create(storage.updates, {
      log: this.log,
      idleMs: c.idleMs,
      budgetBytes: c.docBudgetBytes,
      // the peer links forward what every process of the region writes (a shared store); in a
      // region of several processes only the holder of the peer role follows everything
      followAll: c.peers.length > 0 && storage.ownership === undefined,
      cursor,
    })
    const ownership = storage.ownership
    this.usersHandle = await this.registry.open(USERS_DOC)
    this.users = new UserDirectory(this.usersHandle.doc, me.replica, c.secret)
    this.router = new AccountRouter({ ownership: storage.ownership, users: this.users, secret: c.secret, log: this.log })
    this.store = new MailStore({
      registry: this.registry,
      users: this.users,
      blobs: this.blobs,
      node: { nodeId: me.replica, slot: c.slot, stride: c.stride },
      log: this.log,
      peers: this.barrier(),
      owns: (user) => this.router.owns(user),
      maxMessageBytes: c.maxMessageBytes,
      bodyWaitMs: c.bodyWaitMs,
      uncleanStop,
    })
    if (uncleanStop)
      this.log.warn({ node: c.nodeId }, 'the last stop was not clean: mailboxes are checked for messages without a body as they load')
    this.edge = new EdgeServer({
      registry: this.registry,
      log: this.log,
      authenticate: (t) => this.users.checkToken(t),
      maxMessageBytes: c.maxMessageBytes,
    })
    const api = new HttpApi({
      store: this.store,
      users: this.users,
      blobs: this.blobs,
      secret: c.secret,
      log: this.log,
      node: { status: () => this.status(), metrics: () => this.metrics() },
      deliver: async (rcpt, delivery) => {
        // forwarded by another process of the region: stored here only while this process serves the account
        const r = await this.router.route(rcpt.user)
        if (r.kind !== 'local') throw tryLater(`${rcpt.user} is not served by this process now`)
        await lmtpHere.deliverHere(rcpt, delivery)
      },
    })
    const lmtpHere = new NodeLmtpBackend(this.store, this.users)
    this.registry.onUpdate((name, update, origin) => this.followBlobs(name, update, origin))
    this.registry.onUpdate((name, _update, origin) => {
      if (isMailboxDocName(name) && this.edge.isEdgeOrigin(origin)) this.bindSoon(name)
    })
    this.server = createServer((req, res) => void this.onRequest(req, res, api))
    this.server.on('upgrade', (req, socket, head) => void this.onUpgrade(req, socket, head as Buffer))
    if (ownership !== undefined) {
      this.unwatch.push(
        ownership.onLost((user) => (user === PEERS_ROLE ? void this.stopPeers() : this.lose(user))),
        ownership.onPeersGained(() => void this.startPeers()),
      )
    }
    this.server.on('clientError', (_e, socket) => socket.destroy())
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', (e) => reject(listenError('HTTP', c, e)))
      this.server!.listen(c.port, c.host, () => resolve())
    })
    this.log.info(
      {
        node: c.nodeId,
        slot: c.slot,
        stride: c.stride,
        url: this.url,
        peers: c.peers.map((p) => p.id),
        storage: this.storage?.description,
      },
      'node listening',
    )
  }

  /** The change counter the last clean stop saved, if it is readable. */
  private async savedCursor(storage: NodeStorage): Promise<SavedChangeCursor | undefined> {
    const bytes = await storage.meta.get(CHANGE_CURSOR)
    if (bytes === undefined) return undefined
    try {
      const v = JSON.parse(new TextDecoder().decode(bytes)) as SavedChangeCursor
      const ok =
        typeof v.epoch === 'string' &&
        Number.isSafeInteger(v.seq) &&
        Number.isSafeInteger(v.floor) &&
        Array.isArray(v.changes) &&
        v.changes.every((c) => Array.isArray(c) && typeof c[0] === 'string' && Number.isSafeInteger(c[1]))
      if (ok) return v
    } catch {
      // unreadable: a new epoch, as after a crash
    }
    this.log.warn({ record: CHANGE_CURSOR }, 'the saved change counter is unreadable; peers catch up in full')
    return undefined
  }

  /**
   * The peer links as the mail store sees them. They run in one process of a region (the
   * peers role, see `AccountOwnership.routePeers`); in the others no peer is connected, so
   * exposures skip the fast path's barrier (safe: docs/protocol.md), and a body this process
   * lacks is waited for in the shared blob store, where the peers process puts what it fetches.
   */
  private barrier(): PeerBarrier | undefined {
    if (this.config.peers.length === 0) return undefined
    return {
      connectedCount: () => this.peers?.status().filter((p) => p.state === 'open').length ?? 0,
      knownCount: () => this.peers?.status().length ?? this.config.peers.length,
      verify: (docName) => this.peers?.verify(docName) ?? Promise.resolve({ answered: [], timedOut: [] }),
      want: (hash, timeoutMs) => (this.peers !== undefined ? this.peers.want(hash, timeoutMs) : this.awaitBlob(hash, timeoutMs)),
    }
  }

  /** Polls the blob store (shared by the region's processes) for a body, for at most `timeoutMs`. */
  private async awaitBlob(hash: string, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs
    for (let wait = 50; ; wait = Math.min(1000, wait * 2)) {
      if (await this.blobs.has(hash)) return true
      if (this.stopped || Date.now() + wait > deadline) return false
      await new Promise((resolve) => setTimeout(resolve, wait).unref())
    }
  }

  /** Starts the peer links when this process holds the region's peers role (always, in a region of one process). */
  private async startPeersIfHere(): Promise<void> {
    if (this.config.peers.length === 0) return
    const r = await this.router.routePeers()
    if (r.kind === 'local') await this.startPeers()
  }

  /** Starts the links to the other regions (this process became the region's peers process). */
  private async startPeers(): Promise<void> {
    const c = this.config
    if (this.peers !== undefined || this.stopped || c.peers.length === 0) return
    // the links forward every write of the region, not only this process's (idempotent)
    if (this.router.shared) await this.registry.followAll()
    if (this.peers !== undefined || this.stopped) return
    this.peers = new PeerNetwork({
      host: this.peerHost(),
      secret: c.secret,
      peers: c.peers.map((p) => ({ id: p.id, url: p.url.replace(/^http/, 'ws').replace(/\/$/, '') + '/peer' })),
      verifyTimeoutMs: c.verifyTimeoutMs ?? 150,
      relay: c.relay ?? true,
    })
    this.peers.start()
    if (this.router.shared) this.log.info({ process: this.router.processId }, 'this process runs the peer links of the region')
  }

  /** Stops the links (another process of the region took the peers role). */
  private async stopPeers(): Promise<void> {
    const peers = this.peers
    if (peers === undefined) return
    this.peers = undefined
    this.log.info({ process: this.router.processId }, 'the peer links of the region moved to another process')
    // records of documents not loaded here need no longer reach the listeners
    this.registry.stopFollowingAll()
    await peers.close().catch((e: unknown) => this.log.warn({ err: String(e) }, 'closing the peer links failed'))
  }

  /** This process lost `user`'s account: its sessions end (clients reconnect and are routed to the new owner). */
  private lose(user: string): void {
    this.router.lost(user)
    const reason = 'This account moved to another process of the region; reconnect'
    const imap = this.imap?.closeUser(user, reason) ?? 0
    const edges = this.edge.closeUser(user, 'account moved')
    this.log.info({ user, imap, edges }, 'account lost to another process: its sessions are closed')
  }

  /** HTTP API requests of a user another process serves go to that process. */
  private async onRequest(req: IncomingMessage, res: ServerResponse, api: HttpApi): Promise<void> {
    const user = this.router.shared ? httpRequestUser(req, this.users) : undefined
    if (user === undefined) return api.handle(req, res)
    const r = await this.router.route(user).catch((e: unknown) => ({ kind: 'unavailable' as const, reason: String(e) }))
    if (r.kind === 'local') return api.handle(req, res)
    if (r.kind === 'remote') return this.router.forwardHttp(req, res, r.owner)
    const data = JSON.stringify({ error: 'UNAVAILABLE', message: `account ${user} cannot be served now: ${r.reason}` })
    res.writeHead(503, { 'content-type': 'application/json; charset=utf-8', 'retry-after': '1' })
    res.end(data)
  }

  /** `/peer` goes to the process running the peer links, `/edge/<doc>` to the one serving the account. */
  private async onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const refuse = (status: string) => socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
    socket.on('error', () => socket.destroy())
    const path = (req.url ?? '').split('?')[0] ?? ''
    const unavailable = (e: unknown) => ({ kind: 'unavailable' as const, reason: String(e) })
    if (path === '/peer') {
      if (this.config.peers.length === 0 && !this.router.shared) return void refuse('404 Not Found')
      const r = await this.router.routePeers().catch(unavailable)
      if (r.kind === 'remote') return this.router.forwardUpgrade(req, socket, head, r.owner)
      // the peers role is here but the links are not up yet (or none are configured): the peer retries
      if (r.kind === 'unavailable' || this.peers === undefined) return void refuse('503 Service Unavailable')
      return this.peers.handleUpgrade(req, socket, head)
    }
    if (!path.startsWith('/edge/')) return void refuse('404 Not Found')
    const user = this.router.shared ? edgeRequestUser(req) : undefined
    if (user !== undefined) {
      const r = await this.router.route(user).catch(unavailable)
      if (r.kind === 'remote') return this.router.forwardUpgrade(req, socket, head, r.owner)
      if (r.kind === 'unavailable') return void refuse('503 Service Unavailable')
    }
    this.edge.handleUpgrade(req, socket, head)
  }

  private readonly binding = new Map<string, NodeJS.Timeout>()

  /** Binds edge appends shortly after they arrive (debounced per mailbox). */
  private bindSoon(docName: string): void {
    if (this.binding.has(docName) || this.stopped) return
    const t = setTimeout(() => {
      this.binding.delete(docName)
      this.store
        .bindEdgeAppends(docName)
        .catch((e: unknown) => this.log.warn({ doc: docName, err: String(e) }, 'could not bind edge appends'))
    }, 20)
    t.unref()
    this.binding.set(docName, t)
  }

  /** Blobs follow the metadata: a message learnt from a peer gets its body fetched. */
  private followBlobs(name: string, update: Uint8Array, origin: unknown): void {
    if (this.peers === undefined || !isMailboxDocName(name) || origin === undefined || origin === null) return
    if (!this.peers.isPeerOrigin(origin)) return
    // any writer of the document (an edge replica, through a peer) may put anything here: core reads only well-formed facts
    for (const { hash } of messageFactsInUpdate(update)) {
      if (this.wanted.has(hash)) continue
      this.wanted.add(hash)
      // `want` resolves at once when the blob is stored already
      this.peers
        .want(hash, 60_000)
        .catch((err: unknown) => this.log.warn({ hash, err: String(err) }, 'could not fetch a message body from peers'))
        .finally(() => this.wanted.delete(hash))
    }
  }

  private peerHost(): PeerHost {
    const resume = new PeerResume(this.storage!.meta, PEER_RESUME, this.log)
    return {
      nodeId: this.config.nodeId,
      slot: this.config.slot,
      openDoc: (name) => this.registry.open(name),
      changeCursor: () => this.registry.changeCursor(),
      changedSince: (cursor) => this.registry.changedSince(cursor),
      allDocs: () => this.registry.allDocs(),
      onUpdate: (fn) => this.registry.onUpdate(fn),
      loadResume: (peerId) => resume.load(peerId),
      saveResume: (peerId, cursor) => resume.save(peerId, cursor),
      blobs: this.blobs,
      log: (level, msg, fields) => this.log[level]({ ...fields }, msg),
    }
  }

  /** Node, storage and peer status (for `mailweave status` and /healthz). */
  status(): Record<string, unknown> {
    const c = this.config
    return {
      node: { nodeId: c.nodeId, replica: this.incarnation?.replica, slot: c.slot, stride: c.stride, url: this.url },
      documentsLoaded: this.registry.loadedNames().length,
      documentMemory: this.registry.memory(),
      // what peers save as their resume point of this node
      changeCursor: this.registry.changeCursor(),
      peers: this.peerStatus(),
      storage: this.storage?.stats(),
      exposures: this.store.stats,
      edgeConnections: this.edge.connections,
      ...(this.router.shared
        ? {
            region: {
              process: this.router.processId,
              ownedAccounts: this.router.ownedAccounts(),
              peersRole: this.peers !== undefined,
              forwarded: this.router.forwarded,
            },
          }
        : {}),
    }
  }

  /** Prometheus text exposition of the node's metrics. */
  metrics(): string {
    const lines: string[] = []
    const metric = (name: string, help: string, type: 'gauge' | 'counter', samples: [labels: string, value: number][]) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`)
      for (const [labels, v] of samples) lines.push(`${name}${labels} ${Number.isFinite(v) ? v : 0}`)
    }
    let messages = 0
    let stranded = 0
    let silent = 0
    let duplicate = 0
    let edgeBinds = 0
    let exposures = 0
    for (const [, mb] of this.store.loadedMailboxes()) {
      messages += mb.view().size
      stranded += mb.strandedCount
      silent += mb.stats.fixupsSilent
      duplicate += mb.stats.fixupsDuplicate
      edgeBinds += mb.stats.edgeBinds
      exposures += mb.stats.exposures
    }
    const st = this.storage?.stats()
    metric('mailweave_documents_loaded', 'Documents loaded in memory.', 'gauge', [['', this.registry.loadedNames().length]])
    metric('mailweave_messages', 'Messages in the views of loaded mailboxes.', 'gauge', [['', messages]])
    metric('mailweave_fixups_total', 'Rebindings by protocol rule 4 made by this node (loaded mailboxes).', 'counter', [
      ['{kind="silent"}', silent],
      ['{kind="duplicate"}', duplicate],
    ])
    metric('mailweave_edge_binds_total', 'First bindings of edge-appended messages.', 'counter', [['', edgeBinds]])
    metric('mailweave_stranded', 'Live messages waiting for a valid binding (loaded mailboxes).', 'gauge', [['', stranded]])
    metric('mailweave_exposures_total', 'Exposures recorded (protocol rule 5).', 'counter', [['', exposures]])
    metric('mailweave_verify_timeouts_total', 'Fast-path exposures where a peer did not answer in time.', 'counter', [
      ['', this.store.stats.verifyTimeouts],
    ])
    const peers = this.peers?.status() ?? []
    metric(
      'mailweave_peer_up',
      'Whether the link to a peer is open.',
      'gauge',
      peers.map((p) => [`{peer="${p.id}"}`, p.state === 'open' ? 1 : 0]),
    )
    metric(
      'mailweave_peer_lag_seconds',
      'Round-trip time of the last ping to a peer.',
      'gauge',
      peers.map((p) => [`{peer="${p.id}"}`, (p.lagMs ?? 0) / 1000]),
    )
    metric('mailweave_fsync_total', 'Fsyncs of the update store.', 'counter', [['', st?.fsyncCount ?? 0]])
    metric('mailweave_fsync_last_seconds', 'Latency of the last fsync.', 'gauge', [['', (st?.lastFsyncMs ?? 0) / 1000]])
    metric('mailweave_fsync_avg_seconds', 'Average fsync latency.', 'gauge', [['', (st?.avgFsyncMs ?? 0) / 1000]])
    if (st?.fencedWrites !== undefined)
      metric('mailweave_fenced_writes_total', 'Writes refused by account lease fencing (lease lost).', 'counter', [['', st.fencedWrites]])
    metric('mailweave_edge_connections', 'Open edge (y-websocket) connections.', 'gauge', [['', this.edge.connections]])
    return lines.join('\n') + '\n'
  }

  /** Stops everything, flushing pending writes. */
  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    // deliveries in progress finish (durable) before the stores close
    await this.lmtp?.close()
    await this.imap?.close()
    await this.peers?.close()
    await this.edge?.close()
    const server = this.server
    // (a start that failed early has no listener to close)
    if (server !== undefined) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
    }
    this.router?.close()
    for (const u of this.unwatch) u()
    this.usersHandle?.release()
    await this.registry?.close()
    const cursor = this.registry?.savedCursor()
    if (this.markerWritten && cursor !== undefined) await this.storage?.meta.put(CHANGE_CURSOR, utf8.encode(JSON.stringify(cursor)))
    if (this.markerWritten) await this.storage?.meta.delete(this.marker)
    // everything is written: the leases go now, so other processes take the accounts at once
    await this.storage?.ownership?.close().catch((e: unknown) => this.log.warn({ err: String(e) }, 'releasing the leases failed'))
    await this.storage?.close()
    await this.lock?.release()
    this.log.info({ node: this.config.nodeId }, 'node stopped')
  }
}
