import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import { accountDocName, edgeClientId, isEdgeRejection, isValidUser, mailboxDocName, mailboxDocPrefix, MailweaveError, openMailbox, type AppendOptions, type BlobStore, type Mailbox, type MailboxView, type MessageInfo } from '@mailweave/core'
import { EdgeError } from './EdgeError.ts'
import { IdbBlobStore, sha256Hex } from './IdbBlobStore.ts'
import { IdbDocStore, type DocPersistence, type DocPersistenceOptions } from './IdbDocStore.ts'
import { INBOX_ID, listMailboxes, type MailboxEntry } from './listMailboxes.ts'
import type { FetchLike } from '@mailweave/client'
import { NodeClient } from './NodeClient.ts'

/** How one region (node) link of the account is doing. */
export type ConnectionState =
  /** The explicit offline switch is on: no sockets, no uploads. */
  | 'offline'
  | 'connecting'
  /** Every open document has a socket to the node. */
  | 'connected'
  /** Trying to reconnect (the node or the network is down). */
  | 'disconnected'
  /** The node refused this replica's updates (see `error`); it does not retry. */
  | 'rejected'

/** What this tab knows about one node it was connected to. */
export interface RegionStatus {
  nodeUrl: string
  connection: ConnectionState
  /** When `connection` last changed (ms since epoch). */
  since: number
  /** When every open document last finished a sync with this node. */
  lastSyncedAt: number | undefined
  error: string | undefined
}

/** A snapshot of the account's observable state. */
export interface AccountStatus {
  nodeUrl: string
  /** The IndexedDB namespace of the local replica (one per user and region). */
  namespace: string
  /** The explicit online switch. */
  online: boolean
  /** Connection of the current node, over every open document. */
  connection: ConnectionState
  /** Every node used in this session, the current one first. */
  regions: RegionStatus[]
  /** Sync progress: documents open, and those in sync with the node now. */
  docs: { open: number; synced: number }
  /** Document updates not yet durable in IndexedDB. */
  pendingWrites: number
  /** Bodies appended here and not yet uploaded to a node. */
  pendingUploads: number
  lastError: string | undefined
}

/** Options of {@link openAccount}. */
export interface OpenAccountOptions {
  /** Base URL of a node's HTTP listener, e.g. `http://127.0.0.1:7101`. */
  nodeUrl: string
  /** Bearer token (see `requestToken`). */
  token: string
  user: string
  /** This edge replica's id: stable per tab (it orders concurrent flag changes). */
  replica: string
  /** The cluster's stride K (only checked against the mailbox; edges never allocate). */
  stride: number
  idb?: {
    /** Prefix of the IndexedDB database names (default `mailweave:`). */
    prefix?: string
    /** Local replica namespace (default `<user>@<node host>`): one per user and region. */
    namespace?: string
    persistence?: DocPersistenceOptions
  }
  /** Start online (default true). */
  online?: boolean
  /**
   * Ask the node to bind this replica's appends to UIDs as soon as they arrived there, by
   * reading the mailbox through the HTTP API (an exposure). Default true.
   */
  autoBind?: boolean
  /** A WebSocket class (Node tests pass `ws`); default the global one. */
  WebSocket?: unknown
  fetch?: FetchLike
}

/** One mailbox of the account, replicated in this tab. */
export interface EdgeMailbox {
  readonly id: string
  readonly docName: string
  /** Current name (from the account document; the id until known). */
  readonly name: string
  /** The core edge replica: `view()`, `message(guid)` with its UID history, `onChange`. */
  readonly core: Mailbox
  /** In sync with the node now. */
  readonly synced: boolean
  view(): MailboxView
  message(guid: string): MessageInfo | undefined
  /** Live messages without a UID yet: appended here and not bound by a node, or stranded. */
  pending(): MessageInfo[]
  /** Appends a message; resolves once it and its body are durable in IndexedDB (and queued for upload). */
  append(raw: Uint8Array, opts?: AppendOptions): Promise<string>
  /** Changes flags; resolves once durable in IndexedDB. */
  setFlags(guid: string, change: { add?: string[]; remove?: string[] }): Promise<void>
  /** Expunges; resolves once durable in IndexedDB. */
  expunge(guids: string[]): Promise<void>
  /**
   * The raw message: from the IndexedDB cache, else fetched from the node, verified against
   * the message's SHA-256 and cached. Undefined when unknown, or not reachable right now.
   */
  body(guid: string): Promise<Uint8Array | undefined>
  /** Calls `fn` (coalesced) after any change of the mailbox, local or remote. */
  onChange(fn: () => void): () => void
  /** True once the account closed this handle (after `close` or `switchNode`). */
  readonly closed: boolean
}

/** A user's account replicated in this tab: the account document and its mailbox documents. */
export interface Account {
  readonly user: string
  readonly replica: string
  readonly nodeUrl: string
  status(): AccountStatus
  /** Calls `fn` on every status change (coalesced); returns an unsubscribe function. */
  subscribe(fn: (s: AccountStatus) => void): () => void
  /** The account's mailboxes (INBOX always first). */
  mailboxes(): MailboxEntry[]
  onMailboxesChange(fn: (list: MailboxEntry[]) => void): () => void
  /** Opens a mailbox by id (loads from IndexedDB, then syncs); the same handle while open. */
  mailbox(id: string): Promise<EdgeMailbox>
  /** The explicit offline switch: disconnects every socket and stops uploads, or reconnects. */
  setOnline(online: boolean): void
  /**
   * Moves to another node (region): flushes and closes every document, then reopens them
   * in that region's local namespace. Handles from `mailbox()` are closed: get new ones
   * (listeners of `onSwitch` are told).
   */
  switchNode(nodeUrl: string, opts?: { namespace?: string; token?: string }): Promise<void>
  onSwitch(fn: () => void): () => void
  /** Creates a mailbox at the node (online only). */
  createMailbox(name: string): Promise<MailboxEntry>
  /** Resolves once every change made so far is durable in IndexedDB. */
  flush(): Promise<void>
  /** Uploads queued bodies now (when online); resolves when the queue is drained or failed. */
  uploadNow(): Promise<void>
  /** Deletes this region's local replica (unsynced local changes are lost) and resyncs. */
  resetLocalCopy(): Promise<void>
  close(): Promise<void>
}

/** A tiny listener set. */
class Listeners<T> {
  private readonly fns = new Set<(v: T) => void>()
  add(fn: (v: T) => void): () => void {
    this.fns.add(fn)
    return () => this.fns.delete(fn)
  }
  emit(v: T): void {
    for (const fn of [...this.fns]) {
      try {
        fn(v)
      } catch (e) {
        queueMicrotask(() => {
          throw e
        })
      }
    }
  }
  clear(): void {
    this.fns.clear()
  }
}

const edgeUrl = (nodeUrl: string) => nodeUrl.replace(/\/+$/, '').replace(/^http/, 'ws') + '/edge'

/** One document: its IndexedDB persistence and its socket to the node. */
class Replica {
  provider: WebsocketProvider | undefined
  connection: ConnectionState = 'offline'
  synced = false
  error: string | undefined
  private readonly onDocUpdate: () => void
  private readonly listeners = new Listeners<void>()
  private notifyQueued = false

  constructor(
    readonly docName: string,
    readonly doc: Y.Doc,
    readonly persistence: DocPersistence,
    private readonly changed: () => void,
  ) {
    this.onDocUpdate = () => {
      if (this.notifyQueued) return
      this.notifyQueued = true
      queueMicrotask(() => {
        this.notifyQueued = false
        this.listeners.emit()
      })
    }
    doc.on('update', this.onDocUpdate)
  }

  onUpdate(fn: () => void): () => void {
    return this.listeners.add(fn)
  }

  connect(nodeUrl: string, token: string, WS: unknown): void {
    if (this.provider !== undefined) {
      this.provider.connect()
      return
    }
    const opts: ConstructorParameters<typeof WebsocketProvider>[3] = {
      params: { token },
      // tabs sync through the node, never behind its back (that would hide partitions)
      disableBc: true,
      shouldReconnect: (ev) => !isEdgeRejection(ev.code),
    }
    if (WS !== undefined) opts.WebSocketPolyfill = WS as NonNullable<typeof opts.WebSocketPolyfill>
    const p = new WebsocketProvider(edgeUrl(nodeUrl), this.docName, this.doc, opts)
    p.on('status', ({ status }) => {
      if (this.connection === 'rejected') return
      this.connection = status === 'connected' ? 'connected' : status === 'connecting' ? 'connecting' : 'disconnected'
      if (status !== 'connected') this.synced = false
      this.changed()
    })
    p.on('sync', (s) => {
      this.synced = s
      this.changed()
    })
    p.on('closed', (ev) => {
      this.connection = 'rejected'
      this.error = `the node refused this replica (${ev.code}${ev.reason === '' ? '' : `: ${ev.reason}`})`
      this.changed()
    })
    this.provider = p
    this.connection = 'connecting'
    this.changed()
  }

  disconnect(): void {
    this.provider?.disconnect()
    this.synced = false
    this.connection = 'offline'
    this.changed()
  }

  async close(): Promise<void> {
    this.doc.off('update', this.onDocUpdate)
    this.listeners.clear()
    if (this.provider !== undefined) {
      this.provider.awareness.destroy()
      this.provider.destroy()
      this.provider = undefined
    }
    try {
      await this.persistence.close()
    } finally {
      this.doc.destroy()
    }
  }
}

class EdgeMailboxImpl implements EdgeMailbox {
  closed = false
  private bindTimer: ReturnType<typeof setTimeout> | undefined
  private bindAttempts = 0
  private readonly unsub: () => void

  constructor(
    private readonly account: AccountImpl,
    readonly id: string,
    readonly replica: Replica,
    readonly core: Mailbox,
  ) {
    // any change may strand or bind messages: start the backoff afresh
    this.unsub = replica.onUpdate(() => this.resetBind())
  }

  get docName(): string {
    return this.replica.docName
  }

  get name(): string {
    return this.account.mailboxes().find((m) => m.id === this.id)?.name ?? this.id
  }

  get synced(): boolean {
    return this.replica.synced
  }

  private live(): void {
    if (this.closed) throw new EdgeError('CLOSED', `mailbox ${this.id} was closed (account closed or switched node)`)
  }

  view(): MailboxView {
    return this.core.view()
  }

  message(guid: string): MessageInfo | undefined {
    return this.core.message(guid)
  }

  pending(): MessageInfo[] {
    if (this.core.strandedCount === 0) return []
    const out: MessageInfo[] = []
    for (const guid of this.core.inspect().stranded) {
      const m = this.core.message(guid)
      if (m !== undefined && !m.expunged) out.push(m)
    }
    return out.sort((a, b) => a.appendedAt - b.appendedAt)
  }

  async append(raw: Uint8Array, opts?: AppendOptions): Promise<string> {
    this.live()
    const guid = wrapCore(() => this.core.append(raw, opts))
    await this.core.whenBlobsStored()
    await this.replica.persistence.flush()
    void this.account.uploadNow()
    return guid
  }

  async setFlags(guid: string, change: { add?: string[]; remove?: string[] }): Promise<void> {
    this.live()
    wrapCore(() => this.core.setFlags(guid, change))
    await this.replica.persistence.flush()
  }

  async expunge(guids: string[]): Promise<void> {
    this.live()
    wrapCore(() => this.core.expunge(guids))
    await this.replica.persistence.flush()
  }

  async body(guid: string): Promise<Uint8Array | undefined> {
    const info = this.core.message(guid)
    if (info === undefined || info.hash === '') return undefined
    const cached = await this.account.blobs.get(info.hash)
    if (cached !== undefined) return cached
    if (!this.account.online || this.closed) return undefined
    let bytes: Uint8Array | undefined
    try {
      bytes = await this.account.client.raw(this.name, guid)
    } catch (e) {
      if (e instanceof EdgeError && e.code === 'OFFLINE') return undefined
      throw e
    }
    if (bytes === undefined) return undefined
    if (sha256Hex(bytes) !== info.hash) throw new EdgeError('CORRUPT_BODY', `the node sent a body for ${guid} that does not hash to ${info.hash}`)
    await this.account.blobs.put(info.hash, bytes)
    return bytes
  }

  onChange(fn: () => void): () => void {
    return this.replica.onUpdate(fn)
  }

  /** Rebinding requests are retried with backoff while stranded messages remain. */
  scheduleBind(): void {
    const a = this.account
    if (this.closed || !a.autoBind || this.bindTimer !== undefined || !a.online || !this.replica.synced || this.core.strandedCount === 0 || this.bindAttempts >= 8) return
    this.bindTimer = setTimeout(() => {
      void (async () => {
        try {
          await a.client.readMailbox(this.name)
        } catch (e) {
          a.noteError(e)
        }
        this.bindTimer = undefined
        this.bindAttempts++
        this.scheduleBind()
      })()
    }, 150 * 2 ** this.bindAttempts)
  }

  resetBind(): void {
    this.bindAttempts = 0
    this.scheduleBind()
  }

  close(): void {
    this.closed = true
    this.unsub()
    if (this.bindTimer !== undefined) clearTimeout(this.bindTimer)
    this.core.destroy()
  }
}

function wrapCore<T>(fn: () => T): T {
  try {
    return fn()
  } catch (e) {
    if (e instanceof MailweaveError) throw new EdgeError(e.code === 'UNKNOWN_GUID' ? 'UNKNOWN_MESSAGE' : 'INVALID_ARGUMENT', e.message)
    throw e
  }
}

class AccountImpl implements Account {
  nodeUrl: string
  namespace: string
  token: string
  online: boolean
  readonly autoBind: boolean
  client: NodeClient
  readonly blobs: IdbBlobStore
  private docs: IdbDocStore
  private account: Replica | undefined
  private mailboxReplicas: Replica[] = []
  private readonly open = new Map<string, Promise<EdgeMailboxImpl>>()
  private readonly statusListeners = new Listeners<AccountStatus>()
  private readonly listListeners = new Listeners<MailboxEntry[]>()
  private readonly switchListeners = new Listeners<void>()
  private readonly regions = new Map<string, RegionStatus>()
  private pendingUploads = 0
  private uploading: Promise<void> | undefined
  private uploadRetry: ReturnType<typeof setTimeout> | undefined
  private uploadBackoff = 0
  private lastError: string | undefined
  private statusQueued = false
  private closed = false
  private lastList = ''
  private readonly onPageHide = () => void this.flush().catch(() => undefined)

  constructor(readonly o: OpenAccountOptions) {
    this.nodeUrl = o.nodeUrl.replace(/\/+$/, '')
    this.token = o.token
    this.online = o.online ?? true
    this.autoBind = o.autoBind ?? true
    this.namespace = o.idb?.namespace ?? defaultNamespace(o.user, this.nodeUrl)
    this.client = new NodeClient(this.nodeUrl, this.token, o.fetch)
    this.blobs = new IdbBlobStore(`${this.prefix}${o.user}/blobs`)
    this.docs = new IdbDocStore(`${this.prefix}${this.namespace}/docs`)
    if (typeof globalThis.addEventListener === 'function') globalThis.addEventListener('pagehide', this.onPageHide)
  }

  get user(): string {
    return this.o.user
  }

  get replica(): string {
    return this.o.replica
  }

  private get prefix(): string {
    return this.o.idb?.prefix ?? 'mailweave:'
  }

  /** Loads the account document and every mailbox stored in this namespace, then connects. */
  async start(): Promise<void> {
    this.account = await this.openReplica(accountDocName(this.o.user))
    this.account.onUpdate(() => this.listChanged())
    this.listChanged()
    const prefix = mailboxDocPrefix(this.o.user)
    const stored = (await this.docs.docNames()).filter((n) => n.startsWith(prefix)).map((n) => n.slice(prefix.length))
    // mailboxes this browser holds stay replicated, so offline changes reach the node
    await Promise.all(stored.map((id) => this.mailbox(id)))
    await this.refreshUploads()
    this.emitStatus()
  }

  private async openReplica(docName: string): Promise<Replica> {
    const doc = new Y.Doc()
    // nodes refuse edge writes under any other client id (a node's own half)
    doc.clientID = edgeClientId()
    const persistence = await this.docs.attach(doc, docName, {
      ...this.o.idb?.persistence,
      onError: (e) => {
        this.noteError(e)
        this.o.idb?.persistence?.onError?.(e)
      },
      onPendingChange: () => this.emitStatus(),
    })
    const r = new Replica(docName, doc, persistence, () => this.replicaChanged(r))
    if (this.online) r.connect(this.nodeUrl, this.token, this.o.WebSocket)
    return r
  }

  private replicaChanged(r: Replica): void {
    if (r.synced) for (const p of this.open.values()) void p.then((m) => m.replica === r && m.resetBind())
    if (r.connection === 'connected') this.kickUploads()
    this.emitStatus()
  }

  private listChanged(): void {
    const list = this.mailboxes()
    const key = JSON.stringify(list)
    if (key === this.lastList) return
    this.lastList = key
    this.listListeners.emit(list)
  }

  /** The account document's replica and every open mailbox's, in that order. */
  private replicas(): Replica[] {
    return this.account === undefined ? [...this.mailboxReplicas] : [this.account, ...this.mailboxReplicas]
  }

  status(): AccountStatus {
    const rs = this.replicas()
    const connection = this.aggregate(rs)
    const synced = rs.filter((r) => r.synced).length
    const cur = this.region(this.nodeUrl)
    if (cur.connection !== connection) {
      cur.connection = connection
      cur.since = Date.now()
    }
    cur.error = rs.find((r) => r.error !== undefined)?.error
    if (connection === 'connected' && synced === rs.length && rs.length > 0) cur.lastSyncedAt = Date.now()
    return {
      nodeUrl: this.nodeUrl,
      namespace: this.namespace,
      online: this.online,
      connection,
      regions: [cur, ...[...this.regions.values()].filter((r) => r !== cur)].map((r) => ({ ...r })),
      docs: { open: rs.length, synced },
      pendingWrites: rs.reduce((n, r) => n + r.persistence.pendingUpdates, 0),
      pendingUploads: this.pendingUploads,
      lastError: this.lastError,
    }
  }

  private aggregate(rs: Replica[]): ConnectionState {
    if (!this.online) return 'offline'
    if (rs.some((r) => r.connection === 'rejected')) return 'rejected'
    if (rs.length > 0 && rs.every((r) => r.connection === 'connected')) return 'connected'
    if (rs.some((r) => r.connection === 'connecting')) return 'connecting'
    return 'disconnected'
  }

  private region(nodeUrl: string): RegionStatus {
    let r = this.regions.get(nodeUrl)
    if (r === undefined) {
      r = { nodeUrl, connection: 'offline', since: Date.now(), lastSyncedAt: undefined, error: undefined }
      this.regions.set(nodeUrl, r)
    }
    return r
  }

  subscribe(fn: (s: AccountStatus) => void): () => void {
    return this.statusListeners.add(fn)
  }

  emitStatus(): void {
    if (this.statusQueued || this.closed) return
    this.statusQueued = true
    queueMicrotask(() => {
      this.statusQueued = false
      if (!this.closed) this.statusListeners.emit(this.status())
    })
  }

  noteError(e: unknown): void {
    this.lastError = e instanceof Error ? e.message : String(e)
    this.emitStatus()
  }

  mailboxes(): MailboxEntry[] {
    return this.account === undefined ? [{ id: INBOX_ID, name: 'INBOX', uidValidity: 0 }] : listMailboxes(this.account.doc)
  }

  onMailboxesChange(fn: (list: MailboxEntry[]) => void): () => void {
    return this.listListeners.add(fn)
  }

  onSwitch(fn: () => void): () => void {
    return this.switchListeners.add(fn)
  }

  mailbox(id: string): Promise<EdgeMailbox> {
    return this.mailboxImpl(id)
  }

  private mailboxImpl(id: string): Promise<EdgeMailboxImpl> {
    if (this.closed) return Promise.reject(new EdgeError('CLOSED', 'the account was closed'))
    if (!/^[A-Za-z0-9._-]+$/.test(id)) return Promise.reject(new EdgeError('UNKNOWN_MAILBOX', `invalid mailbox id ${JSON.stringify(id)}`))
    let p = this.open.get(id)
    if (p === undefined) {
      p = (async () => {
        const r = await this.openReplica(mailboxDocName(this.o.user, id))
        this.mailboxReplicas.push(r)
        const blobs: BlobStore = {
          // bodies appended here are queued for upload in the same IndexedDB transaction
          put: async (key, bytes) => {
            await this.blobs.put(key, bytes, { upload: true })
            void this.refreshUploads()
          },
          get: (key) => this.blobs.get(key),
          has: (key) => this.blobs.has(key),
          delete: (key) => this.blobs.delete(key),
          keys: () => this.blobs.keys(),
        }
        const core = openEdgeMailbox(r.doc, this.o.replica, this.o.stride, blobs)
        const m = new EdgeMailboxImpl(this, id, r, core)
        this.emitStatus()
        return m
      })()
      p.catch(() => this.open.delete(id))
      this.open.set(id, p)
    }
    return p
  }

  setOnline(online: boolean): void {
    if (this.closed || online === this.online) return
    this.online = online
    const rs = this.replicas()
    if (online) {
      for (const r of rs) r.connect(this.nodeUrl, this.token, this.o.WebSocket)
      this.uploadBackoff = 0
      this.kickUploads()
    } else {
      for (const r of rs) r.disconnect()
      if (this.uploadRetry !== undefined) clearTimeout(this.uploadRetry)
      this.uploadRetry = undefined
    }
    this.emitStatus()
  }

  async switchNode(nodeUrl: string, opts: { namespace?: string; token?: string } = {}): Promise<void> {
    if (this.closed) throw new EdgeError('CLOSED', 'the account was closed')
    const ids = [...this.open.keys()]
    await this.closeReplicas()
    this.nodeUrl = nodeUrl.replace(/\/+$/, '')
    if (opts.token !== undefined) this.token = opts.token
    this.namespace = opts.namespace ?? defaultNamespace(this.o.user, this.nodeUrl)
    this.client = new NodeClient(this.nodeUrl, this.token, this.o.fetch)
    this.docs = new IdbDocStore(`${this.prefix}${this.namespace}/docs`)
    this.lastError = undefined
    this.lastList = ''
    await this.start()
    await Promise.all(ids.map((id) => this.mailbox(id)))
    this.switchListeners.emit()
  }

  private async closeReplicas(): Promise<void> {
    const mailboxes = await Promise.all([...this.open.values()].map((p) => p.catch(() => undefined)))
    this.open.clear()
    for (const m of mailboxes) m?.close()
    const rs = this.replicas()
    this.mailboxReplicas = []
    this.account = undefined
    const cur = this.region(this.nodeUrl)
    cur.connection = 'offline'
    cur.since = Date.now()
    const results = await Promise.allSettled(rs.map((r) => r.close()))
    const failed = results.find((r) => r.status === 'rejected')
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason
  }

  async createMailbox(name: string): Promise<MailboxEntry> {
    if (!this.online) throw new EdgeError('OFFLINE', 'creating a mailbox needs a node: go online first')
    const e = await this.client.createMailbox(name)
    return { id: e.id, name: e.name, uidValidity: e.uidValidity }
  }

  async flush(): Promise<void> {
    const ms = await Promise.all([...this.open.values()].map((p) => p.catch(() => undefined)))
    await Promise.all(ms.map((m) => m?.core.whenBlobsStored()))
    await Promise.all(this.replicas().map((r) => r.persistence.flush()))
  }

  private async refreshUploads(): Promise<void> {
    try {
      const q = await this.blobs.uploads()
      this.pendingUploads = q.length
      this.emitStatus()
      if (q.length > 0) this.kickUploads()
    } catch (e) {
      this.noteError(e)
    }
  }

  private kickUploads(): void {
    if (this.uploading === undefined && this.uploadRetry === undefined && this.online && !this.closed) void this.uploadNow()
  }

  uploadNow(): Promise<void> {
    if (this.uploading !== undefined) return this.uploading
    if (!this.online || this.closed) return Promise.resolve()
    this.uploading = this.drainUploads().finally(() => {
      this.uploading = undefined
    })
    return this.uploading
  }

  private async drainUploads(): Promise<void> {
    const client = this.client
    try {
      for (let round = 0; round < 100; round++) {
        const queue = await this.blobs.uploads()
        this.pendingUploads = queue.length
        this.emitStatus()
        if (queue.length === 0 || !this.online || this.closed) break
        for (const q of queue) {
          if (!this.online || this.closed || client !== this.client) return
          const bytes = await this.blobs.get(q.hash)
          if (bytes !== undefined) {
            try {
              await client.putBlob(q.hash, bytes)
            } catch (e) {
              // 4xx other than auth can never succeed (too large, bad hash): drop, say so
              if (!(e instanceof EdgeError && e.code === 'HTTP' && e.status !== undefined && e.status >= 400 && e.status < 500)) throw e
              this.noteError(e)
            }
          }
          await this.blobs.uploaded(q.hash)
          this.pendingUploads = Math.max(0, this.pendingUploads - 1)
          this.emitStatus()
        }
      }
      this.uploadBackoff = 0
    } catch (e) {
      this.noteError(e)
      if (e instanceof EdgeError && e.code === 'UNAUTHORIZED') return
      this.uploadBackoff = Math.min(30_000, Math.max(500, this.uploadBackoff * 2))
      if (this.uploadRetry === undefined && !this.closed) this.uploadRetry = setTimeout(() => {
        this.uploadRetry = undefined
        this.kickUploads()
      }, this.uploadBackoff)
    }
  }

  async resetLocalCopy(): Promise<void> {
    const ids = [...this.open.keys()]
    await this.closeReplicas().catch(() => undefined)
    await this.docs.clear()
    this.region(this.nodeUrl).error = undefined
    this.lastList = ''
    await this.start()
    await Promise.all(ids.map((id) => this.mailbox(id)))
    this.switchListeners.emit()
  }

  async close(): Promise<void> {
    if (this.closed) return
    try {
      await this.closeReplicas()
    } finally {
      this.closed = true
      if (this.uploadRetry !== undefined) clearTimeout(this.uploadRetry)
      if (typeof globalThis.removeEventListener === 'function') globalThis.removeEventListener('pagehide', this.onPageHide)
      this.statusListeners.clear()
      this.listListeners.clear()
      this.switchListeners.clear()
    }
    await this.uploading?.catch(() => undefined)
  }
}

function defaultNamespace(user: string, nodeUrl: string): string {
  let host = nodeUrl
  try {
    host = new URL(nodeUrl).host
  } catch {
    // not a URL: the caller's string is as good a name as any
  }
  return `${user}@${host}`
}

/** An edge core mailbox; the stride of a stored configuration wins over the option. */
function openEdgeMailbox(doc: Y.Doc, replica: string, stride: number, blobs: BlobStore): Mailbox {
  try {
    return openMailbox(doc, { replica, stride, blobs, create: false })
  } catch (e) {
    const actual = e instanceof MailweaveError && e.code === 'STRIDE_MISMATCH' ? (e.details as { stride?: unknown } | undefined)?.stride : undefined
    if (typeof actual === 'number') return openMailbox(doc, { replica, stride: actual, blobs, create: false })
    if (e instanceof MailweaveError) throw new EdgeError('INVALID_OPTIONS', e.message)
    throw e
  }
}

/**
 * Opens a user's account as an edge replica: the account document and every mailbox
 * document this browser holds are loaded from IndexedDB first, then synced with the node
 * through y-websocket (one socket per document). Local changes are durable in IndexedDB
 * before the returned promises resolve; bodies appended here are uploaded when online.
 * Edge replicas never allocate UIDs: a node binds their appends (`autoBind` asks it to).
 */
export async function openAccount(options: OpenAccountOptions): Promise<Account> {
  const { nodeUrl, token, user, replica, stride } = options
  if (typeof nodeUrl !== 'string' || !/^https?:\/\//.test(nodeUrl)) throw new EdgeError('INVALID_OPTIONS', `nodeUrl must be an http(s) URL, got ${JSON.stringify(nodeUrl)}`)
  if (typeof token !== 'string' || token === '') throw new EdgeError('INVALID_OPTIONS', 'a token is required (see requestToken)')
  if (typeof user !== 'string' || !isValidUser(user)) throw new EdgeError('INVALID_OPTIONS', `invalid user ${JSON.stringify(user)}`)
  if (typeof replica !== 'string' || replica === '' || replica.length > 256) throw new EdgeError('INVALID_OPTIONS', 'replica must be a non-empty string of at most 256 characters')
  if (!Number.isInteger(stride) || stride < 1 || stride > 4096) throw new EdgeError('INVALID_OPTIONS', `stride must be an integer in [1, 4096], got ${String(stride)}`)
  const a = new AccountImpl(options)
  try {
    await a.start()
  } catch (e) {
    await a.close().catch(() => undefined)
    throw e
  }
  return a
}
