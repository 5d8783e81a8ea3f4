import { createHash } from 'node:crypto'
import {
  accountDocName,
  mailboxDocName,
  openMailbox,
  parseDocName,
  type AppendOptions,
  type BlobStore,
  type Mailbox,
  type MailboxView,
} from '@mailweave/core'
import { AccountDoc, INBOX_ID, type MailboxEntry } from './AccountDoc.ts'
import type { DocHandle, DocRegistry } from './DocRegistry.ts'
import type { Logger } from './Logger.ts'
import { NodeError } from './NodeError.ts'
import type { UserDirectory } from './UserDirectory.ts'

/** What the mail store needs from peer replication (the connected fast path, blob fetch). */
export interface PeerBarrier {
  /** Number of peers connected now. */
  connectedCount(): number
  /** Number of peers known (configured or ever connected). */
  knownCount(): number
  /** Waits (bounded) until every connected peer integrated everything sent so far for `docName`. */
  verify(docName: string): Promise<{ answered: string[]; timedOut: string[] }>
  /** Fetches a blob from a peer that has it; resolves whether it is stored now. */
  want(hash: string, timeoutMs: number): Promise<boolean>
}

/** How long the unclean-stop check waits for peers to send a lost body back. */
const SWEEP_FETCH_MS = 30_000

/** This node's identity in the UID protocol. */
export interface NodeIdentity {
  nodeId: string
  slot: number
  stride: number
}

/** Counters of the exposure path, for /metrics. */
export interface ExposureStats {
  exposures: number
  verifyTimeouts: number
}

/**
 * What a caller may say about a message it stores: flags, INTERNALDATE, and, for mail
 * received from an MTA only, its delivery key (core's `deliveryKey`), which merges copies
 * of one delivery that reached several regions (docs/protocol.md).
 */
export type AppendMessageOptions = Pick<AppendOptions, 'flags' | 'internalDate' | 'delivery'>

/** One open mailbox of one account: every method is durable before it resolves. */
export interface MailboxHandle {
  readonly user: string
  readonly entry: MailboxEntry
  readonly docName: string
  readonly mailbox: Mailbox
  /** docs/protocol.md rule 5 through the fast path: fixups, reservation, peer barrier, exposure, fsync. */
  expose(): Promise<MailboxView>
  /** Appends and binds a message; resolves once body and metadata are durable. */
  append(raw: Uint8Array, opts?: AppendMessageOptions): Promise<string>
  /**
   * Appends and binds a message like `append`, but resolves at once: the message and its body
   * become durable with the next `expose()` or `flush()` of this handle, which the caller must
   * await before acknowledging, and which rejects (the message expunged) if the body could
   * not be stored. IMAP APPEND exposes anyway: one round of fsyncs, not three.
   */
  stage(raw: Uint8Array, opts?: AppendMessageOptions): Promise<string>
  /** Resolves once earlier flag and expunge changes are durable. */
  flush(): Promise<void>
  /** The raw message, fetched from a peer when this node does not hold it yet. */
  body(guid: string): Promise<Uint8Array | undefined>
  release(): void
}

/** Options of {@link MailStore}. */
export interface MailStoreOptions {
  registry: DocRegistry
  users: UserDirectory
  blobs: BlobStore
  node: NodeIdentity
  log: Logger
  peers?: PeerBarrier
  maxMessageBytes?: number
  /** How long a read of a body this node lacks waits for a peer to send it (default 5 000 ms). */
  bodyWaitMs?: number
  /**
   * The node did not stop cleanly last time: each mailbox, as it loads, is checked for
   * messages of this node whose body never became durable (see `sweepBodiless`).
   */
  uncleanStop?: boolean
  /**
   * Whether this process serves `user`'s account now (a region of several processes: only
   * the owner allocates). Default: every account.
   */
  owns?: (user: string) => boolean
}

/**
 * Accounts and mailboxes on top of the document registry: one core `Mailbox` per loaded
 * mailbox document (dropped when the registry unloads it), exposures serialised per
 * mailbox, and every acknowledgement after the fsync of what it acknowledges.
 */
export class MailStore {
  private readonly mailboxes = new Map<string, Mailbox>()
  private readonly exposing = new Map<string, Promise<unknown>>()
  private readonly nextExposure = new Map<string, Promise<MailboxView>>()
  /** Mailboxes checked by `sweepBodiless` since start (a reload after an idle unload needs no second check). */
  private readonly swept = new Set<string>()
  readonly stats: ExposureStats = { exposures: 0, verifyTimeouts: 0 }
  readonly maxMessageBytes: number

  constructor(private readonly o: MailStoreOptions) {
    this.maxMessageBytes = o.maxMessageBytes ?? 50 * 1024 * 1024
    o.registry.onUnload((name) => {
      this.mailboxes.get(name)?.destroy()
      this.mailboxes.delete(name)
    })
  }

  get node(): NodeIdentity {
    return this.o.node
  }

  /** Runs `fn` with the account document of `user`. */
  async withAccount<T>(user: string, fn: (acct: AccountDoc) => T | Promise<T>): Promise<T> {
    this.mustOwn(user)
    const rec = this.o.users.get(user)
    if (rec === undefined) throw new NodeError('NOT_FOUND', `no account ${user}`)
    const h = await this.o.registry.open(accountDocName(user))
    try {
      const out = await fn(new AccountDoc(h.doc, this.o.node.nodeId, rec.created || 1))
      await this.o.registry.flush(h.name)
      return out
    } finally {
      h.release()
    }
  }

  /** Opens mailbox `name` of `user`; undefined when it does not exist. */
  async open(user: string, name: string): Promise<MailboxHandle | undefined> {
    const entry = await this.withAccount(user, (a) => a.find(name))
    return entry === undefined ? undefined : this.openEntry(user, entry)
  }

  /** Refuses to touch an account another process of the region serves (it alone allocates for it). */
  private mustOwn(user: string): void {
    if (this.o.owns !== undefined && !this.o.owns(user))
      throw new NodeError('UNAVAILABLE', `account ${user} is served by another process of this region now`)
  }

  private async openEntry(user: string, entry: MailboxEntry): Promise<MailboxHandle> {
    this.mustOwn(user)
    const docName = mailboxDocName(user, entry.id)
    const h = await this.o.registry.open(docName)
    let mailbox = this.mailboxes.get(docName)
    if (mailbox === undefined) {
      try {
        mailbox = openMailbox(h.doc, {
          replica: this.o.node.nodeId,
          slot: this.o.node.slot,
          stride: this.o.node.stride,
          uidValidity: entry.uidValidity,
        })
      } catch (e) {
        h.release()
        throw e
      }
      this.mailboxes.set(docName, mailbox)
      if (this.o.uncleanStop === true && !this.swept.has(docName)) void this.sweepBodiless(docName, mailbox)
    }
    return this.handle(user, entry, h, mailbox)
  }

  /**
   * Binds messages that edge replicas appended to `docName` (`mbox/<user>/<id>`): a
   * fixup (docs/protocol.md rule 4) without an exposure, so a browser's saved message gets its UID as soon
   * as it reaches a node, not only when a client next reads the mailbox. Returns how many
   * were bound.
   */
  async bindEdgeAppends(docName: string): Promise<number> {
    const parsed = parseDocName(docName)
    if (parsed?.kind !== 'mailbox') return 0
    const { user, mailboxId: id } = parsed
    if (this.o.users.get(user) === undefined) return 0
    const entry = await this.withAccount(user, (a) => a.list().find((e) => e.id === id))
    if (entry === undefined) return 0
    const h = await this.openEntry(user, entry)
    try {
      if (h.mailbox.strandedCount === 0) return 0
      const n = h.mailbox.fixup()
      await h.flush()
      return n
    } finally {
      h.release()
    }
  }

  /** Mailboxes loaded now with their core objects (metrics, inspect). */
  loadedMailboxes(): [string, Mailbox][] {
    return [...this.mailboxes]
  }

  private handle(user: string, entry: MailboxEntry, h: DocHandle, mailbox: Mailbox): MailboxHandle {
    const { registry } = this.o
    const docName = h.name
    // bodies of `stage`d messages still being written: expose and flush wait for them
    const bodies = new Map<string, Promise<void>>()
    const settleBodies = async (): Promise<void> => {
      if (bodies.size === 0) return
      const mine = [...bodies]
      bodies.clear()
      const results = await Promise.allSettled(mine.map(([, p]) => p))
      const failed = mine.filter((_, i) => results[i]!.status === 'rejected').map(([guid]) => guid)
      if (failed.length === 0) return
      // never acknowledged: the messages go, so no client is shown a UID without a body
      mailbox.expunge(failed)
      await registry.flush(docName).catch(() => undefined)
      throw (results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason
    }
    const stage = (raw: Uint8Array, opts?: AppendMessageOptions): string => {
      if (raw.length > this.maxMessageBytes)
        throw new NodeError('TOO_LARGE', `message of ${raw.length} bytes exceeds the limit of ${this.maxMessageBytes}`)
      const hash = createHash('sha256').update(raw).digest('hex')
      // body and metadata are written and fsynced in parallel (one round of fsyncs per APPEND);
      // the registry holds the message fact back from peers until its body is durable
      const stored = this.o.blobs.put(hash, raw)
      registry.hold(docName, stored)
      const guid = mailbox.append(raw, { ...opts, hash })
      bodies.set(guid, stored)
      return guid
    }
    return {
      user,
      entry,
      docName,
      mailbox,
      expose: async () => {
        const view = await this.coalesced(docName, () => this.exposeNow(docName, mailbox))
        await settleBodies()
        return view
      },
      append: async (raw, opts) => {
        const guid = stage(raw, opts)
        await registry.flush(docName)
        await settleBodies()
        return guid
      },
      stage: async (raw, opts) => stage(raw, opts),
      flush: async () => {
        await registry.flush(docName)
        await settleBodies()
      },
      body: async (guid) => {
        const info = mailbox.message(guid)
        if (info === undefined || info.hash === '') return undefined
        const have = await this.o.blobs.get(info.hash)
        if (have !== undefined || this.o.peers === undefined) return have
        return (await this.o.peers.want(info.hash, this.o.bodyWaitMs ?? 5000)) ? this.o.blobs.get(info.hash) : undefined
      },
      release: () => h.release(),
    }
  }

  /**
   * A message this node appended is acknowledged only once its body is durable, but body and
   * metadata are fsynced in parallel: after a power loss the metadata can survive alone. Such a
   * message was never acknowledged and never left this node (the registry held it back), so it
   * is expunged when its mailbox is first loaded after an unclean stop. A missing body may also
   * be an acknowledged one lost since (a damaged pack): the peers are asked first, a body one of
   * them has is stored again, and nothing is expunged while a peer cannot be asked. Runs over
   * the messages known at load only, once per mailbox (again if the check failed or was put off).
   */
  private async sweepBodiless(docName: string, mailbox: Mailbox): Promise<void> {
    this.swept.add(docName)
    const mine: { guid: string; hash: string }[] = []
    for (const e of mailbox.view().messages) {
      const info = mailbox.message(e.guid)
      if (info !== undefined && info.origin === this.o.node.nodeId && info.hash !== '') mine.push({ guid: e.guid, hash: info.hash })
    }
    try {
      const absent: { guid: string; hash: string }[] = []
      for (const m of mine) if (!(await this.o.blobs.has(m.hash))) absent.push(m)
      if (absent.length === 0) return
      // A body a peer holds was durable here once (the message fact leaves only after its body
      // is fsynced): the message was acknowledged and its body was lost since (a damaged pack).
      // Fetch it back; only a body no peer has can be one that never became durable.
      const peers = this.o.peers
      const fetched =
        peers === undefined ? absent.map(() => false) : await Promise.all(absent.map((m) => peers.want(m.hash, SWEEP_FETCH_MS)))
      const missing = absent.filter((_, i) => !fetched[i]).map((m) => m.guid)
      if (fetched.some((f) => f))
        this.o.log.warn(
          { doc: docName, messages: fetched.filter((f) => f).length },
          'fetched again from peers the lost bodies of acknowledged messages of this node',
        )
      if (missing.length === 0) return
      if (peers !== undefined && peers.connectedCount() < peers.knownCount()) {
        // a peer that cannot be asked may hold the body: never expunge what may have been acknowledged
        this.swept.delete(docName)
        this.o.log.warn(
          { doc: docName, messages: missing.length },
          'messages of this node without a body are kept until every peer can be asked for it',
        )
        return
      }
      // unloaded meanwhile: the next load checks again
      if (this.mailboxes.get(docName) !== mailbox) return void this.swept.delete(docName)
      mailbox.expunge(missing)
      await this.o.registry.flush(docName)
      this.o.log.warn(
        { doc: docName, messages: missing.length },
        'expunged messages of this node whose body never became durable (unclean stop)',
      )
    } catch (err) {
      this.swept.delete(docName)
      this.o.log.error({ doc: docName, err: String(err) }, 'could not check for messages without a body')
    }
  }

  private async exposeNow(docName: string, mailbox: Mailbox): Promise<MailboxView> {
    const peers = this.o.peers
    let view: MailboxView
    if (peers !== undefined && peers.connectedCount() > 0) {
      mailbox.fixup()
      const r = mailbox.reserve()
      // durable first: updates reach peers only once stored, and the reservation must be
      // on the wire before the barrier request that follows it
      await this.o.registry.flush(docName)
      const res = await peers.verify(docName)
      if (res.timedOut.length > 0) this.stats.verifyTimeouts++
      view = mailbox.expose({ below: r })
    } else view = mailbox.expose()
    await this.o.registry.flush(docName)
    this.stats.exposures++
    return view
  }

  /**
   * Exposures of one mailbox run one at a time; a caller arriving while one runs joins the
   * next (not yet started) one instead of queueing its own. That exposure starts after the
   * caller's writes, so its view covers them: concurrent APPENDs share one exposure and one
   * round of fsyncs instead of each waiting for all the earlier ones.
   */
  private coalesced(key: string, fn: () => Promise<MailboxView>): Promise<MailboxView> {
    const waiting = this.nextExposure.get(key)
    if (waiting !== undefined) return waiting
    if (!this.exposing.has(key)) return this.serialised(key, fn)
    const next = this.serialised(key, () => {
      if (this.nextExposure.get(key) === next) this.nextExposure.delete(key)
      return fn()
    })
    this.nextExposure.set(key, next)
    return next
  }

  private serialised<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.exposing.get(key) ?? Promise.resolve()
    const next = prev.then(fn, fn)
    const tail = next.catch(() => undefined)
    this.exposing.set(key, tail)
    void tail.then(() => {
      if (this.exposing.get(key) === tail) this.exposing.delete(key)
    })
    return next
  }
}

export { INBOX_ID }
