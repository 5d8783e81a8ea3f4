import * as Y from 'yjs'
import { createStore, promisifyRequest, type UseStore } from 'idb-keyval'
import { EdgeError } from './EdgeError.ts'

/** Tuning of a {@link DocPersistence}. */
export interface DocPersistenceOptions {
  /** Updates are batched for this long before one IndexedDB write (default 40 ms). */
  debounceMs?: number
  /** A batch this large is written at once, without waiting for the debounce (default 256 KiB). */
  maxPendingBytes?: number
  /** Compact once this many entries of the document are stored (default 64). */
  compactAfter?: number
  /** Also compact at this period when more than one entry is stored (default 60 s; 0 = never). */
  compactIntervalMs?: number
  /** Called when a background write fails (the update stays pending and is retried). */
  onError?: (e: EdgeError) => void
  /** Called whenever the number of pending (not yet durable) updates changes. */
  onPendingChange?: (pending: number) => void
}

/** A stored entry's key: `[docName, ms, seq, writer]`, unique across tabs, ordered by time. */
type EntryKey = [string, number, number, string]

const writer = Array.from(globalThis.crypto.getRandomValues(new Uint8Array(6)), (b) => b.toString(16).padStart(2, '0')).join('')
let seq = 0
const newKey = (docName: string): EntryKey => [docName, Date.now(), seq++, writer]
// [docName] sorts before every [docName, ...] and [docName, []] after: arrays sort above numbers
const docRange = (docName: string) => IDBKeyRange.bound([docName], [docName, []])

function storageError(e: unknown, what: string): EdgeError {
  if (e instanceof EdgeError) return e
  const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e)
  return new EdgeError('STORAGE', `IndexedDB ${what} failed (${msg})`)
}

/**
 * Yjs documents persisted in one IndexedDB object store (via idb-keyval): every document
 * is a set of entries (updates or snapshots) under `[docName, …]` keys. Entries are only
 * ever added, or replaced by a snapshot that contains them in one transaction, so two
 * tabs sharing the store never lose each other's writes.
 */
export class IdbDocStore {
  private readonly store: UseStore

  /** Opens (lazily creates) the IndexedDB database `dbName`. */
  constructor(readonly dbName: string) {
    this.store = createStore(dbName, 'updates')
  }

  /** Names of every document with stored entries. */
  async docNames(): Promise<string[]> {
    try {
      const keys = await this.store('readonly', (s) => promisifyRequest(s.getAllKeys()))
      return [...new Set(keys.map((k) => (Array.isArray(k) ? String(k[0]) : '')).filter((n) => n !== ''))].sort()
    } catch (e) {
      throw storageError(e, 'listing documents')
    }
  }

  /** Number of entries and stored bytes of one document. */
  async stats(docName: string): Promise<{ entries: number; bytes: number }> {
    try {
      const values = await this.store('readonly', (s) => promisifyRequest(s.getAll(docRange(docName))))
      return {
        entries: values.length,
        bytes: values.reduce((n: number, v: unknown) => n + (v instanceof Uint8Array ? v.byteLength : 0), 0),
      }
    } catch (e) {
      throw storageError(e, 'reading statistics')
    }
  }

  /** The merged stored state of `docName` (one update), or undefined when nothing is stored. */
  async read(docName: string): Promise<Uint8Array | undefined> {
    const { values } = await this.load(docName)
    if (values.length === 0) return undefined
    return values.length === 1 ? values[0] : Y.mergeUpdates(values)
  }

  /** Deletes every stored entry of every document. */
  async clear(): Promise<void> {
    try {
      await this.store('readwrite', (s) => {
        s.clear()
        return promisifyRequest(s.transaction)
      })
    } catch (e) {
      throw storageError(e, 'clearing')
    }
  }

  /**
   * Persists `doc` as `docName`: starts recording its updates at once (before any await,
   * so none is missed), then applies what is stored. Resolves once the stored state is in
   * the document, which is the moment to connect a provider.
   */
  async attach(doc: Y.Doc, docName: string, opts: DocPersistenceOptions = {}): Promise<DocPersistence> {
    const p = new DocPersistence(this, doc, docName, opts)
    try {
      const { keys, values } = await this.load(docName)
      p.loaded(keys, values)
    } catch (e) {
      p.destroy()
      throw e
    }
    return p
  }

  /** @internal every entry of a document, keys and values of one consistent read. */
  async load(docName: string): Promise<{ keys: EntryKey[]; values: Uint8Array[] }> {
    try {
      const [keys, values] = await this.store('readonly', (s) =>
        Promise.all([promisifyRequest(s.getAllKeys(docRange(docName))), promisifyRequest(s.getAll(docRange(docName)))]),
      )
      const k: EntryKey[] = []
      const v: Uint8Array[] = []
      keys.forEach((key, i) => {
        const value: unknown = values[i]
        if (Array.isArray(key) && value instanceof Uint8Array) {
          k.push(key as EntryKey)
          v.push(value)
        }
      })
      return { keys: k, values: v }
    } catch (e) {
      throw storageError(e, `loading ${docName}`)
    }
  }

  /** @internal writes `put` and deletes `remove` in one transaction. */
  async write(put: [EntryKey, Uint8Array], remove: readonly EntryKey[]): Promise<void> {
    try {
      await this.store('readwrite', (s) => {
        s.put(put[1], put[0])
        for (const k of remove) s.delete(k)
        return promisifyRequest(s.transaction)
      })
    } catch (e) {
      throw storageError(e, `writing ${put[0][0]}`)
    }
  }
}

/**
 * The persistence of one document: its updates are batched (debounced) into one
 * IndexedDB write, and the stored entries are compacted into one snapshot now and then.
 * `flush()` resolves once everything the document held when it was called is durable.
 */
export class DocPersistence {
  /** Bytes and entries read at load. */
  loadedBytes = 0
  loadedEntries = 0
  /** IndexedDB writes done (updates and snapshots). */
  writes = 0
  compactions = 0
  private pending: Uint8Array[] = []
  private pendingSize = 0
  /** Stored entries whose content this document holds (the ones a compaction may replace). */
  private known: EntryKey[] = []
  private chain: Promise<void> = Promise.resolve()
  private timer: ReturnType<typeof setTimeout> | undefined
  private readonly interval: ReturnType<typeof setInterval> | undefined
  private destroyed = false
  private readonly onUpdate = (update: Uint8Array, origin: unknown) => {
    if (origin === this || this.destroyed) return
    this.pending.push(update)
    this.pendingSize += update.byteLength
    this.o.onPendingChange?.(this.pending.length)
    if (this.pendingSize >= (this.o.maxPendingBytes ?? 256 * 1024)) void this.flush().catch(() => undefined)
    else if (this.timer === undefined) this.timer = setTimeout(() => void this.flush().catch(() => undefined), this.o.debounceMs ?? 40)
  }

  /** @internal use {@link IdbDocStore.attach}. */
  constructor(
    private readonly store: IdbDocStore,
    readonly doc: Y.Doc,
    readonly docName: string,
    private readonly o: DocPersistenceOptions,
  ) {
    doc.on('update', this.onUpdate)
    const every = o.compactIntervalMs ?? 60_000
    if (every > 0)
      this.interval = setInterval(() => {
        if (this.known.length > 1) void this.compact().catch(() => undefined)
      }, every)
  }

  /** @internal applies what was stored, in one transaction. */
  loaded(keys: EntryKey[], values: Uint8Array[]): void {
    this.known.push(...keys)
    this.loadedEntries = values.length
    this.loadedBytes = values.reduce((n, v) => n + v.byteLength, 0)
    if (values.length > 0)
      this.doc.transact(() => {
        for (const v of values) Y.applyUpdate(this.doc, v, this)
      }, this)
  }

  /** Updates received but not yet durable. */
  get pendingUpdates(): number {
    return this.pending.length
  }

  /** Entries of this document in the store that this replica knows of. */
  get storedEntries(): number {
    return this.known.length
  }

  /** Writes pending updates now; resolves once they (and earlier writes) are durable. */
  flush(): Promise<void> {
    this.clearTimer()
    if (this.pending.length > 0) {
      const batch = this.pending.splice(0)
      this.pendingSize = 0
      this.chain = this.chain
        .catch(() => undefined)
        .then(async () => {
          const update = batch.length === 1 ? batch[0]! : Y.mergeUpdates(batch)
          const key = newKey(this.docName)
          try {
            await this.store.write([key, update], [])
          } catch (e) {
            this.restore(update)
            throw e
          }
          this.writes++
          this.known.push(key)
          this.o.onPendingChange?.(this.pending.length)
          if (this.known.length >= (this.o.compactAfter ?? 64)) void this.compact().catch(() => undefined)
        })
    }
    return this.chain
  }

  /**
   * Replaces every entry this document holds by one snapshot of its state, atomically.
   * Entries written meanwhile by other tabs are left alone (a later load picks them up).
   */
  compact(): Promise<void> {
    this.clearTimer()
    this.chain = this.chain
      .catch(() => undefined)
      .then(async () => {
        if (this.destroyed && this.pending.length === 0) return
        // the snapshot contains every pending update too: they came from this document
        this.pending = []
        this.pendingSize = 0
        const snapshot = Y.encodeStateAsUpdate(this.doc)
        const key = newKey(this.docName)
        const replaced = this.known.slice()
        try {
          await this.store.write([key, snapshot], replaced)
        } catch (e) {
          this.restore(snapshot)
          throw e
        }
        this.writes++
        this.compactions++
        this.known = this.known.filter((k) => !replaced.includes(k))
        this.known.push(key)
        this.o.onPendingChange?.(this.pending.length)
      })
    return this.chain
  }

  /** Stops recording; pending updates are flushed first. */
  async close(): Promise<void> {
    try {
      await this.flush()
    } finally {
      this.destroy()
    }
  }

  /** Stops recording at once (pending updates are dropped). */
  destroy(): void {
    this.destroyed = true
    this.clearTimer()
    if (this.interval !== undefined) clearInterval(this.interval)
    this.doc.off('update', this.onUpdate)
  }

  private restore(update: Uint8Array): void {
    this.pending.unshift(update)
    this.pendingSize += update.byteLength
    if (!this.destroyed && this.timer === undefined)
      this.timer = setTimeout(() => void this.flush().catch((e: unknown) => this.o.onError?.(storageError(e, 'retrying a write'))), 1000)
    this.o.onError?.(new EdgeError('STORAGE', `IndexedDB write of ${this.docName} failed; will retry`))
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
  }
}
