import * as Y from 'yjs'
import {
  accountDocName,
  edgeClientId,
  isValidUser,
  mailboxDocName,
  mailboxDocPrefix,
  MailweaveError,
  openMailbox,
  type BlobStore,
  type Mailbox,
} from '@mailweave/core'
import type { FetchLike } from '@mailweave/client'
import { EdgeError } from './EdgeError.ts'
import { EdgeMailboxImpl, type EdgeMailbox, type MailboxHost } from './EdgeMailbox.ts'
import { IdbBlobStore } from './IdbBlobStore.ts'
import { IdbDocStore, type DocPersistenceOptions } from './IdbDocStore.ts'
import { Listeners } from './Listeners.ts'
import { INBOX_ID, listMailboxes, type MailboxEntry } from './listMailboxes.ts'
import { NodeClient } from './NodeClient.ts'
import { RegionTracker, type ConnectionState, type RegionStatus } from './RegionStatus.ts'
import { Replica } from './Replica.ts'
import { UploadQueue } from './UploadQueue.ts'

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

/**
 * The account: owns the document replicas, the open mailbox handles, the upload queue and
 * the region status, and wires them together. Each part reaches back only through the
 * small host interface it declares (MailboxHost, UploadHost) or a callback.
 */
class AccountImpl implements Account, MailboxHost {
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
  private readonly uploads: UploadQueue
  private readonly regions = new RegionTracker()
  private readonly statusListeners = new Listeners<AccountStatus>()
  private readonly listListeners = new Listeners<MailboxEntry[]>()
  private readonly switchListeners = new Listeners<void>()
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
    this.uploads = new UploadQueue(this.blobs, {
      canUpload: () => this.online && !this.closed,
      client: () => this.client,
      changed: () => this.emitStatus(),
      noteError: (e) => this.noteError(e),
    })
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
    await this.uploads.refresh()
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
    if (r.connection === 'connected') this.uploads.kick()
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
    const { connection, synced, regions } = this.regions.update(this.nodeUrl, this.online, rs)
    return {
      nodeUrl: this.nodeUrl,
      namespace: this.namespace,
      online: this.online,
      connection,
      regions,
      docs: { open: rs.length, synced },
      pendingWrites: rs.reduce((n, r) => n + r.persistence.pendingUpdates, 0),
      pendingUploads: this.uploads.pending,
      lastError: this.lastError,
    }
  }

  subscribe(fn: (s: AccountStatus) => void): () => void {
    return this.statusListeners.add(fn)
  }

  private emitStatus(): void {
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

  nameOf(id: string): string {
    return this.mailboxes().find((m) => m.id === id)?.name ?? id
  }

  bodiesQueued(): void {
    void this.uploads.now()
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
            void this.uploads.refresh()
          },
          get: (key) => this.blobs.get(key),
          has: (key) => this.blobs.has(key),
          delete: (key) => this.blobs.delete(key),
          keys: () => this.blobs.keys(),
        }
        const m = new EdgeMailboxImpl(this, id, r, openEdgeMailbox(r.doc, this.o.replica, blobs))
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
      this.uploads.resume()
    } else {
      for (const r of rs) r.disconnect()
      this.uploads.pause()
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
    this.regions.closed(this.nodeUrl)
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

  uploadNow(): Promise<void> {
    return this.uploads.now()
  }

  async resetLocalCopy(): Promise<void> {
    const ids = [...this.open.keys()]
    await this.closeReplicas().catch(() => undefined)
    await this.docs.clear()
    this.regions.clearError(this.nodeUrl)
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
      this.uploads.pause()
      if (typeof globalThis.removeEventListener === 'function') globalThis.removeEventListener('pagehide', this.onPageHide)
      this.statusListeners.clear()
      this.listListeners.clear()
      this.switchListeners.clear()
    }
    await this.uploads.close()
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

/** An edge core mailbox: no stride (edges never allocate), no configuration written. */
function openEdgeMailbox(doc: Y.Doc, replica: string, blobs: BlobStore): Mailbox {
  try {
    return openMailbox(doc, { replica, blobs, create: false })
  } catch (e) {
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
  const { nodeUrl, token, user, replica } = options
  if (typeof nodeUrl !== 'string' || !/^https?:\/\//.test(nodeUrl))
    throw new EdgeError('INVALID_OPTIONS', `nodeUrl must be an http(s) URL, got ${JSON.stringify(nodeUrl)}`)
  if (typeof token !== 'string' || token === '') throw new EdgeError('INVALID_OPTIONS', 'a token is required (see requestToken)')
  if (typeof user !== 'string' || !isValidUser(user)) throw new EdgeError('INVALID_OPTIONS', `invalid user ${JSON.stringify(user)}`)
  if (typeof replica !== 'string' || replica === '' || replica.length > 256)
    throw new EdgeError('INVALID_OPTIONS', 'replica must be a non-empty string of at most 256 characters')
  const a = new AccountImpl(options)
  try {
    await a.start()
  } catch (e) {
    await a.close().catch(() => undefined)
    throw e
  }
  return a
}
