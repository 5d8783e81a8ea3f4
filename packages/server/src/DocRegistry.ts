import { randomBytes } from 'node:crypto'
import * as Y from 'yjs'
import { nodeClientId, type UpdateStore } from '@mailweave/core'
import type { Logger } from './Logger.ts'
import { NodeError } from './NodeError.ts'
import { pagedListOf, sharedLogOf, type SharedUpdateLog } from './SharedUpdateLog.ts'

/** Document names read per page when a full catch-up lists every stored document. */
const LIST_PAGE = 1000

/** Transaction origin of updates replayed from disk (never persisted again). */
export const FROM_DISK = Symbol('from-disk')

/**
 * Transaction origin (and listener origin) of records another process of the region wrote
 * to the shared store: durable already, never persisted again.
 */
export const FROM_STORE = Symbol('from-store')

/** An open document; the registry keeps it loaded until every handle is released. */
export interface DocHandle {
  readonly name: string
  readonly doc: Y.Doc
  release(): void
}

/** A position in this node's change counter (see network-peer's ChangeCursor). */
export interface ChangeCursor {
  epoch: string
  seq: number
}

/**
 * The change counter of a registry over a store of one process (the file store), as saved
 * at a clean stop and handed to the next start ({@link DocRegistryOptions.cursor}): the epoch
 * and seq go on, and `changes` (document, seq of its last change) answers `changedSince`
 * for cursors at or after `floor`.
 */
export interface SavedChangeCursor {
  epoch: string
  seq: number
  floor: number
  changes: [name: string, seq: number][]
}

/** An update of a document waiting in its outbox for the listeners. */
interface OutboxItem {
  update: Uint8Array
  origin: unknown
  durable: boolean
}

interface Entry {
  name: string
  doc: Y.Doc
  refs: number
  loaded: Promise<void>
  pending: Set<Promise<void>>
  failed: unknown
  records: number
  idle: NodeJS.Timeout | undefined
  /** The newest append: the store runs a document's appends in call order, so it settles last. */
  last: Promise<void> | undefined
  /** Updates waiting for their fsync before listeners (peers, edges) may see them, in order. */
  outbox: OutboxItem[]
  /** Unsettled `hold`s: an update made now is durable only once they settle too. */
  holds: Set<Promise<unknown>>
  /** Updates whose append failed and is being retried: the document stays loaded meanwhile. */
  retrying: Set<Promise<void>>
  /** Encoded bytes of the document's stored records (what it was loaded from, plus updates since). */
  bytes: number
  /** Shared store: every record below this position is in `doc` (undefined while loading). */
  position: number | undefined
}

/** Options of {@link DocRegistry}. */
export interface DocRegistryOptions {
  log: Logger
  /** Unload a document this long after its last handle is released. */
  idleMs?: number
  /** Compact a document's log once it holds this many records. */
  compactAfter?: number
  /**
   * Budget, in estimated heap bytes ({@link docHeapEstimate}), of the loaded documents: past
   * it the least recently released ones are unloaded at once instead of after `idleMs`.
   * Documents in use are never unloaded. Default: no budget (idle unloading only).
   */
  budgetBytes?: number
  /**
   * Shared store only: hand every record other processes write to the listeners, also of
   * documents not loaded (the region's peer process, whose links forward them), and keep the
   * change cursor at the store's position. Otherwise only loaded documents follow the store.
   */
  followAll?: boolean
  /** Shared store: how often to read the store even without a commit signal (default 2000 ms). */
  pollMs?: number
  /** Store of one process: the counter saved at the last clean stop ({@link DocRegistry.savedCursor}); absent = a new epoch. */
  cursor?: SavedChangeCursor
  /** Store of one process: documents the counter remembers (older ones answer `changedSince` with "unknown"); default 100,000. */
  maxChanges?: number
}

/** Heap of a loaded document per byte of its encoded size (measured on mailbox documents). */
export const HEAP_PER_ENCODED_BYTE = 3.5
/**
 * Heap a loaded document costs whatever its size: the Y.Doc, the registry's entry and what
 * its owner builds on it (measured with bench/accounts.ts: ~4 KiB for an account document,
 * ~11 KiB for a mailbox document with one message and its core Mailbox).
 */
export const DOC_HEAP_BYTES = 8 * 1024

/**
 * The heap a loaded document of `encodedBytes` is counted at against the budget. Counting
 * encoded bytes alone let 100,000 small accounts (a few hundred bytes each, ~15 KiB of heap)
 * stay loaded under a budget meant for a fraction of them.
 */
export function docHeapEstimate(encodedBytes: number): number {
  return Math.round(encodedBytes * HEAP_PER_ENCODED_BYTE) + DOC_HEAP_BYTES
}

/**
 * Owns every Y.Doc of the node: loads lazily from the update store, persists every update
 * (registered before the first await, so none is missed) and reports it to listeners
 * only once it is durable, unloads idle documents (and, past a byte budget, the least
 * recently used ones at once) so memory follows the active mailboxes, and compacts long logs. `flush` resolves once
 * every update made so far to a document is durable (fsynced): the node calls it before
 * acknowledging an APPEND or answering an exposure.
 *
 * Over a store several processes share ({@link SharedUpdateLog}), loaded documents follow
 * the store: records the other processes commit are applied (origin {@link FROM_STORE}) and
 * handed to the listeners, on a commit signal and by polling; with `followAll`, every record
 * of the region is handed to the listeners, loaded or not. The change cursor is then the
 * store's identity and position, so it survives restarts; over a store of one process it is
 * kept in memory and can be saved at a clean stop.
 */
export class DocRegistry {
  private readonly docs = new Map<string, Entry>()
  private readonly listeners = new Set<(name: string, update: Uint8Array, origin: unknown) => void>()
  private readonly unloadListeners = new Set<(name: string) => void>()
  private readonly changes = new Map<string, number>()
  private seq = 0
  private floor = 0
  /** The change counter's epoch: the shared store's identity, or drawn at start (or taken from the saved cursor). */
  readonly epoch: string
  private readonly shared: SharedUpdateLog | undefined
  private following = false
  /** Following all: every record of other writers below it was handed to the listeners. */
  private tailFrom = 0
  /** Following all: the change cursor's seq (what was handed out, own updates included). */
  private given = 0
  private tailing: Promise<void> | undefined
  private tailAgain = false
  private readonly undrained = new Set<OutboxItem>()
  private cursorWaits: { position: number; items: OutboxItem[] }[] = []
  private unsubscribeCommits: (() => void) | undefined
  private poll: NodeJS.Timeout | undefined
  private readonly idleMs: number
  private readonly compactAfter: number
  private closed = false
  /** Loaded documents without a handle, least recently released first. */
  private readonly released = new Set<Entry>()
  /** Encoded bytes of the loaded documents. */
  private bytes = 0
  private evicted = 0

  private constructor(
    private readonly store: UpdateStore,
    private readonly options: DocRegistryOptions,
    shared: { log: SharedUpdateLog; id: string } | undefined,
  ) {
    this.idleMs = options.idleMs ?? 60_000
    this.compactAfter = options.compactAfter ?? 1000
    this.shared = shared?.log
    const saved = options.cursor
    if (shared !== undefined) this.epoch = shared.id
    else if (saved !== undefined) {
      this.epoch = saved.epoch
      this.seq = saved.seq
      this.floor = saved.floor
      for (const [name, seq] of saved.changes) if (seq > saved.floor && seq <= saved.seq) this.changes.set(name, seq)
    } else this.epoch = randomBytes(8).toString('hex')
  }

  /**
   * A registry over `store`. Lists nothing: documents load when opened. Over a shared store
   * it subscribes to the store's commits (and, with `followAll`, starts at its position now).
   */
  static async create(store: UpdateStore, options: DocRegistryOptions): Promise<DocRegistry> {
    const log = sharedLogOf(store)
    const r = new DocRegistry(store, options, log === undefined ? undefined : { log, id: await log.logId() })
    if (log !== undefined) {
      if (options.followAll === true) await r.followAll()
      r.unsubscribeCommits = log.onCommit(() => r.scheduleTail())
      r.poll = setInterval(() => r.scheduleTail(), options.pollMs ?? 2000)
      r.poll.unref()
    }
    return r
  }

  /**
   * Shared store: from now on every record other processes write reaches the listeners,
   * loaded or not, and the change cursor is the store's position (the region's peer process
   * calls it when it takes that role). No-op over a store of one process.
   */
  async followAll(): Promise<void> {
    if (this.shared === undefined || this.following) return
    const position = await this.shared.position()
    this.tailFrom = this.given = position
    this.cursorWaits = []
    this.following = true
  }

  /** Stops handing records of documents not loaded to the listeners (the peer role went elsewhere). */
  stopFollowingAll(): void {
    this.following = false
    this.cursorWaits = []
  }

  /** Opens (loading if needed) a document. */
  async open(name: string): Promise<DocHandle> {
    if (this.closed) throw new NodeError('UNAVAILABLE', 'node is shutting down')
    let e = this.docs.get(name)
    if (e === undefined) {
      const entry: Entry = {
        name,
        doc: nodeDoc(),
        refs: 0,
        loaded: Promise.resolve(),
        pending: new Set(),
        failed: undefined,
        records: 0,
        idle: undefined,
        outbox: [],
        last: undefined,
        holds: new Set(),
        retrying: new Set(),
        bytes: 0,
        position: undefined,
      }
      e = entry
      this.docs.set(name, entry)
      entry.doc.on('update', (update: Uint8Array, origin: unknown) => {
        if (origin === FROM_DISK || origin === FROM_STORE) return
        this.persist(entry, update, origin)
      })
      entry.loaded = this.load(entry).catch((err: unknown) => {
        this.docs.delete(name)
        entry.doc.destroy()
        throw err
      })
    }
    e.refs++
    this.released.delete(e)
    if (e.idle !== undefined) {
      clearTimeout(e.idle)
      e.idle = undefined
    }
    try {
      await e.loaded
    } catch (err) {
      e.refs--
      throw err
    }
    const entry = e
    let released = false
    return {
      name,
      doc: entry.doc,
      release: () => {
        if (released) return
        released = true
        if (--entry.refs === 0 && !this.closed) {
          entry.idle = setTimeout(() => void this.unload(entry), this.idleMs)
          entry.idle.unref()
          this.released.add(entry)
          this.enforceBudget()
        }
      },
    }
  }

  private async load(e: Entry): Promise<void> {
    let records: Uint8Array[]
    let position: number | undefined
    if (this.shared !== undefined) ({ records, position } = await this.shared.loadAt(e.name))
    else records = await this.store.load(e.name)
    e.records = records.length
    for (const r of records) e.bytes += r.length
    this.bytes += e.bytes
    e.position = position
    if (records.length === 0) return
    // one transaction, record by record: measured 2-3x faster than Y.mergeUpdates + one apply
    // for a 10,000-message mailbox (a snapshot and ~700 records), and a bad record is skipped alone
    let bad = 0
    e.doc.transact(() => {
      for (const r of records) {
        try {
          Y.applyUpdate(e.doc, r, FROM_DISK)
        } catch {
          bad++
        }
      }
    }, FROM_DISK)
    if (bad > 0) this.options.log.error({ doc: e.name, bad, records: records.length }, 'skipped undecodable stored updates')
  }

  /**
   * Stores an update, and only once it is durable hands it to the listeners (peers, edge
   * sockets), in order: nothing leaves this node before it would survive a crash, so a
   * restarted node never re-allocates a UID a peer already holds.
   */
  private persist(e: Entry, update: Uint8Array, origin: unknown): void {
    const item = { update, origin, durable: false }
    e.bytes += update.length
    this.bytes += update.length
    e.outbox.push(item)
    this.undrained.add(item)
    const stored = this.store.append(e.name, update)
    const gated = e.holds.size === 0 ? stored : Promise.all([stored, Promise.allSettled(e.holds)])
    const p: Promise<void> = gated.then(
      () => {
        e.records++
        item.durable = true
        this.drain(e)
      },
      (err: unknown) => {
        // the waiting client is told (flush rejects), but the update stays in the live document
        // and later updates of this client build on it: it is stored by retrying, or a reload
        // would leave every later update pending (acknowledged mail gone) and could bind its
        // UIDs again. Until then it and everything after it wait in the outbox.
        e.failed ??= err
        this.options.log.error(
          { doc: e.name, err: String(err) },
          'could not persist an update; retrying, nothing after it is forwarded meanwhile',
        )
        const retry = this.retry(e, update)
        e.retrying.add(retry)
        retry.then(
          () => {
            e.retrying.delete(retry)
            e.records++
            item.durable = true
            this.drain(e)
            if (e.refs === 0 && e.retrying.size === 0 && !this.closed) void this.unload(e)
          },
          (err2: unknown) => this.options.log.error({ doc: e.name, err: String(err2) }, 'closed with an update not stored'),
        )
        e.retrying.add(retry)
      },
    )
    e.pending.add(p)
    e.last = p
    void p.finally(() => {
      e.pending.delete(p)
      if (e.records >= this.compactAfter && e.pending.size === 0) void this.compact(e)
    })
  }

  /** Appends `update` until it is stored, backing off to 1 s; stops trying once the registry closed. */
  private async retry(e: Entry, update: Uint8Array): Promise<void> {
    for (let delay = 50; ; delay = Math.min(1000, delay * 2)) {
      await new Promise((resolve) => setTimeout(resolve, delay).unref())
      try {
        await this.store.append(e.name, update)
        this.options.log.warn({ doc: e.name }, 'a failed update is stored now')
        return
      } catch (err) {
        if (this.closed) throw err
      }
    }
  }

  private drain(e: Entry): void {
    let drained = false
    while (e.outbox.length > 0 && e.outbox[0]!.durable) {
      const next = e.outbox.shift()!
      drained ||= this.undrained.delete(next)
      if (this.shared === undefined) this.stamp(e.name)
      for (const fn of this.listeners) fn(e.name, next.update, next.origin)
    }
    if (drained) this.advanceCursor()
  }

  /** Counts a change of `name` (store of one process), forgetting the oldest past `maxChanges`. */
  private stamp(name: string): void {
    this.changes.delete(name) // re-inserted last: the map stays in order of last change
    this.changes.set(name, ++this.seq)
    const max = this.options.maxChanges ?? 100_000
    for (const [oldest, seq] of this.changes) {
      if (this.changes.size <= max) break
      this.changes.delete(oldest)
      this.floor = seq
    }
  }

  /**
   * Following all: moves the cursor to a read's position once the local updates pending
   * when the read was issued reached the listeners (one of them may lie below that position).
   */
  private advanceCursor(): void {
    while (this.cursorWaits.length > 0) {
      const head = this.cursorWaits[0]!
      if (head.items.some((i) => this.undrained.has(i))) return
      this.given = Math.max(this.given, head.position)
      this.cursorWaits.shift()
    }
  }

  private scheduleTail(): void {
    if (this.closed || this.shared === undefined) return
    if (this.tailing !== undefined) {
      this.tailAgain = true
      return
    }
    this.tailing = this.runTail().finally(() => (this.tailing = undefined))
  }

  private async runTail(): Promise<void> {
    do {
      this.tailAgain = false
      try {
        await this.tail(this.shared!)
      } catch (err) {
        // the next commit signal or poll tries again from the same positions
        this.options.log.warn({ err: String(err) }, 'could not read the shared update log')
        return
      }
    } while (this.tailAgain && !this.closed)
  }

  /**
   * Reads what other processes committed since the lowest position of the loaded documents
   * (and, following all, of the registry), applies it to the loaded documents and hands it
   * to the listeners: each record exactly once, in order per document behind the local
   * updates already waiting.
   */
  private async tail(log: SharedUpdateLog): Promise<void> {
    const ready = new Map<Entry, number>()
    let from = this.following ? this.tailFrom : Infinity
    for (const e of this.docs.values()) {
      if (e.position === undefined) continue
      ready.set(e, e.position)
      from = Math.min(from, e.position)
    }
    if (from === Infinity) return
    const following = this.following
    const handedFrom = this.tailFrom
    const read = await log.readSince(from, following ? undefined : [...ready.keys()].map((e) => e.name))
    if (this.closed) return
    // local updates not handed out yet, taken after the read: one committed before its
    // snapshot lies below its position even if it was made after the read was issued
    const pending = [...this.undrained]
    for (const rec of read.records) {
      const e = this.docs.get(rec.docName)
      // following all, records below the registry's position were handed out already; else
      // records below the document's position came with its load
      const since = following ? handedFrom : e === undefined ? undefined : ready.get(e)
      const handOut = since !== undefined && rec.at >= since
      if (e === undefined) {
        if (handOut) for (const fn of this.listeners) fn(rec.docName, rec.data, FROM_STORE)
        continue
      }
      try {
        Y.applyUpdate(e.doc, rec.data, FROM_STORE)
      } catch {
        this.options.log.error({ doc: e.name, bytes: rec.data.length }, 'skipped an undecodable record of another process')
        continue
      }
      e.records++
      e.bytes += rec.data.length
      this.bytes += rec.data.length
      if (handOut) {
        e.outbox.push({ update: rec.data, origin: FROM_STORE, durable: true })
        this.drain(e)
      }
      if (e.records >= this.compactAfter && e.pending.size === 0 && e.refs > 0) void this.compact(e)
    }
    for (const [e] of ready) if (this.docs.get(e.name) === e) e.position = Math.max(e.position ?? 0, read.position)
    if (following && this.following) {
      this.tailFrom = Math.max(this.tailFrom, read.position)
      // one wait per read at most: merged into the newest, the cursor moves later, never too far
      const last = this.cursorWaits.length > 1 ? this.cursorWaits.pop() : undefined
      this.cursorWaits.push({ position: read.position, items: last === undefined ? pending : [...new Set([...last.items, ...pending])] })
      this.advanceCursor()
    }
    if (read.more)
      setTimeout(() => {
        this.tailAgain = true
        this.scheduleTail()
      }, 20).unref()
  }

  private async compact(e: Entry): Promise<void> {
    if (this.docs.get(e.name) !== e || e.records < this.compactAfter) return
    e.records = 1
    const snapshot = Y.encodeStateAsUpdate(e.doc)
    this.bytes += snapshot.length - e.bytes
    e.bytes = snapshot.length
    try {
      // a shared store keeps the records of other processes this document has not seen yet
      if (this.shared !== undefined && e.position !== undefined) await this.shared.compactBelow(e.name, snapshot, e.position)
      else await this.store.compact(e.name, snapshot)
    } catch (err) {
      this.options.log.warn({ doc: e.name, err: String(err) }, 'compaction failed; the log stays as it was')
    }
  }

  /**
   * Until `work` settles, updates made to the loaded document `name` count as durable (for
   * `flush` and for listeners) only once `work` has settled as well: the node holds a message
   * fact back from peers until its body is durable, while both are written in parallel.
   * `work`'s failure is the caller's to handle; the held updates are released either way.
   */
  hold(name: string, work: Promise<unknown>): void {
    const e = this.docs.get(name)
    if (e === undefined) return
    const settled = work.then(
      () => undefined,
      () => undefined,
    )
    e.holds.add(settled)
    void settled.then(() => e.holds.delete(settled))
  }

  /** Resolves once every update made so far to `name` is durable; rejects if one failed. */
  async flush(name: string): Promise<void> {
    const e = this.docs.get(name)
    if (e === undefined) return
    if (e.last !== undefined) await e.last
    if (e.failed !== undefined) {
      const err = e.failed
      e.failed = undefined
      throw new NodeError('STORAGE', `could not store changes of ${name}: ${String(err)}`)
    }
    // a later update is durable only with every earlier one: a reload would leave it pending
    // behind a missing one (acknowledged mail invisible), so wait for the retries
    if (e.retrying.size > 0) {
      await Promise.all(e.retrying).catch((err: unknown) => {
        throw new NodeError('STORAGE', `could not store changes of ${name}: ${String(err)}`)
      })
    }
  }

  /**
   * Unloads the least recently released documents while the loaded ones exceed the budget.
   * Only documents without a handle and with every update stored go (what the idle timer
   * unloads too), so nothing unstored is dropped.
   */
  private enforceBudget(): void {
    const budget = this.options.budgetBytes
    if (budget === undefined) return
    let over = this.heapEstimate() - budget
    for (const e of this.released) {
      if (over <= 0) break
      if (e.retrying.size > 0) continue
      this.released.delete(e)
      clearTimeout(e.idle)
      e.idle = undefined
      over -= docHeapEstimate(e.bytes)
      this.evicted++
      void this.unload(e)
    }
  }

  private heapEstimate(): number {
    return Math.round(this.bytes * HEAP_PER_ENCODED_BYTE) + this.docs.size * DOC_HEAP_BYTES
  }

  /**
   * The loaded documents (how many, their encoded bytes, their estimated heap, which the
   * budget bounds) and how many were unloaded early to keep the budget.
   */
  memory(): { documents: number; loadedBytes: number; heapEstimateBytes: number; budgetBytes: number | undefined; evicted: number } {
    return {
      documents: this.docs.size,
      loadedBytes: this.bytes,
      heapEstimateBytes: this.heapEstimate(),
      budgetBytes: this.options.budgetBytes,
      evicted: this.evicted,
    }
  }

  private async unload(e: Entry): Promise<void> {
    if (e.refs > 0 || this.docs.get(e.name) !== e || e.retrying.size > 0) return
    await this.flush(e.name).catch(() => undefined)
    if (e.refs > 0) return
    this.docs.delete(e.name)
    this.released.delete(e)
    this.bytes -= e.bytes
    for (const fn of this.unloadListeners) fn(e.name)
    e.doc.destroy()
  }

  /** Every update integrated into any loaded document (local, edge or peer), with its origin. */
  onUpdate(fn: (name: string, update: Uint8Array, origin: unknown) => void): () => void {
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }

  /** Called when a document is unloaded (owners of per-document state drop it). */
  onUnload(fn: (name: string) => void): () => void {
    this.unloadListeners.add(fn)
    return () => this.unloadListeners.delete(fn)
  }

  /** Whether `name` is loaded now. */
  isLoaded(name: string): boolean {
    return this.docs.has(name)
  }

  /** The loaded doc, or undefined (no reference is taken). */
  peek(name: string): Y.Doc | undefined {
    return this.docs.get(name)?.doc
  }

  loadedNames(): string[] {
    return [...this.docs.keys()]
  }

  /** Every document stored or loaded, read from the store only when iterated (never at start). */
  async *allDocs(): AsyncIterable<string> {
    const loaded = new Set(this.docs.keys())
    for await (const name of this.storedNames()) {
      loaded.delete(name)
      yield name
    }
    yield* loaded
  }

  /** The stored document names, a page at a time when the store can (so a million names are never in memory at once). */
  private async *storedNames(): AsyncIterable<string> {
    const paged = pagedListOf(this.store)
    if (paged === undefined) {
      yield* await this.store.list()
      return
    }
    for (let after: string | undefined; ;) {
      const page = await paged.listPage(after, LIST_PAGE)
      yield* page
      if (page.length < LIST_PAGE) return
      after = page[page.length - 1]
    }
  }

  /**
   * The change counter now: every change it counts reached the listeners. Over a shared
   * store followed in full, the store's identity and position (it survives restarts).
   */
  changeCursor(): ChangeCursor {
    return { epoch: this.epoch, seq: this.shared !== undefined ? this.given : this.seq }
  }

  /**
   * Documents changed after `cursor` (a query of the store when shared), or undefined when
   * the cursor is of another epoch, ahead of this counter, or older than what it remembers.
   */
  async changedSince(cursor: ChangeCursor): Promise<string[] | undefined> {
    if (cursor.epoch !== this.epoch) return undefined
    if (this.shared !== undefined) {
      if (!this.following || cursor.seq > this.given) return undefined
      return this.shared.changedSince(cursor.seq)
    }
    if (cursor.seq > this.seq || cursor.seq < this.floor) return undefined
    return [...this.changes].filter(([, s]) => s > cursor.seq).map(([n]) => n)
  }

  /**
   * The change counter to hand to the next start over the same store of one process (call
   * after {@link close}); undefined over a shared store, whose counter is durable already.
   */
  savedCursor(): SavedChangeCursor | undefined {
    if (this.shared !== undefined) return undefined
    return { epoch: this.epoch, seq: this.seq, floor: this.floor, changes: [...this.changes] }
  }

  /** Flushes and unloads everything. */
  async close(): Promise<void> {
    this.closed = true
    this.unsubscribeCommits?.()
    clearInterval(this.poll)
    await this.tailing
    for (const e of this.docs.values()) {
      if (e.idle !== undefined) clearTimeout(e.idle)
      await this.flush(e.name).catch(() => undefined)
      // one last try each for updates that failed (a store that came back stores them now)
      await Promise.allSettled(e.retrying)
    }
    for (const e of this.docs.values()) {
      for (const fn of this.unloadListeners) fn(e.name)
      e.doc.destroy()
    }
    this.docs.clear()
    this.released.clear()
    this.bytes = 0
  }
}

/** A document this node writes to: under a node client id, which no edge replica may write under. */
function nodeDoc(): Y.Doc {
  const doc = new Y.Doc({ gc: true })
  doc.clientID = nodeClientId()
  return doc
}
