import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto'
import { MemoryBlobStore, openMailbox } from '@mailweave/core'
import type { BlobStore, Mailbox } from '@mailweave/core'
import * as Y from 'yjs'
import { DurableMailbox } from './DurableMailbox.ts'
import type { ImapAccount, ImapBackend, ImapMailbox } from './ImapBackend.ts'
import { no } from './ImapError.ts'
import { ModSeqIndex } from './ModSeqIndex.ts'

/** Options of {@link MemoryBackend}. */
export interface MemoryBackendOptions {
  /** Replica id of this node (default `memory-node`). */
  readonly node?: string
  /** This node's slot (default 0) and the stride of mailboxes it creates (default 1); tests use a
   * larger stride to run other replicas of the same documents beside it. */
  readonly slot?: number
  readonly stride?: number
  /** Where bodies go (default a fresh {@link MemoryBlobStore}). */
  readonly blobs?: BlobStore
  /** Wall clock in ms (UIDVALIDITY, internal dates, mod-sequences). */
  readonly now?: () => number
}

interface MailboxEntry {
  readonly doc: Y.Doc
  readonly mailbox: Mailbox
  readonly modseq: ModSeqIndex
}

interface UserRecord {
  readonly salt: Buffer
  readonly hash: Buffer
  readonly mailboxes: Map<string, MailboxEntry>
  readonly subscriptions: Set<string>
  lastUidValidity: number
}

const KEY_LENGTH = 32

function hashPassword(password: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, KEY_LENGTH, (err, key) => (err ? reject(err) : resolve(key)))
  })
}

/**
 * A complete in-memory {@link ImapBackend} over @mailweave/core: one `Y.Doc` per mailbox,
 * this process as a node (by default the only one: slot 0, stride 1), bodies in a content-addressed blob
 * store, scrypt-hashed passwords. Everything is "durable" once in memory; nothing survives
 * the process. Used by the tests and the demo; a real node implements the same interface
 * over replicated, persisted documents.
 */
export class MemoryBackend implements ImapBackend {
  readonly blobs: BlobStore
  readonly #users = new Map<string, UserRecord>()
  readonly #node: string
  readonly #slot: number
  readonly #stride: number
  readonly #now: () => number
  readonly #dummySalt = randomBytes(16)

  constructor(options: MemoryBackendOptions = {}) {
    this.blobs = options.blobs ?? new MemoryBlobStore()
    this.#node = options.node ?? 'memory-node'
    this.#slot = options.slot ?? 0
    this.#stride = options.stride ?? 1
    this.#now = options.now ?? Date.now
  }

  /** Creates a user with an empty INBOX (or replaces the password of an existing one). */
  async addUser(user: string, password: string): Promise<void> {
    const salt = randomBytes(16)
    const hash = await hashPassword(password, salt)
    const old = this.#users.get(user)
    const rec: UserRecord = {
      salt,
      hash,
      mailboxes: old?.mailboxes ?? new Map(),
      subscriptions: old?.subscriptions ?? new Set(['INBOX']),
      lastUidValidity: old?.lastUidValidity ?? 0,
    }
    this.#users.set(user, rec)
    if (!rec.mailboxes.has('INBOX')) this.#create(rec, 'INBOX')
  }

  async authenticate(user: string, password: string): Promise<ImapAccount | undefined> {
    const rec = this.#users.get(user)
    // Hash even for unknown users, so timing does not tell which part was wrong.
    const hash = await hashPassword(password, rec?.salt ?? this.#dummySalt)
    if (rec === undefined || !timingSafeEqual(hash, rec.hash)) return undefined
    return new MemoryAccount(user, rec, this)
  }

  /** The engine mailbox behind `user`'s mailbox `name` (tests use it to act as another replica would). */
  mailbox(user: string, name: string): Mailbox | undefined {
    return this.#users.get(user)?.mailboxes.get(name)?.mailbox
  }

  /** @internal */
  createMailbox(rec: UserRecord, name: string): MailboxEntry {
    if (rec.mailboxes.has(name)) throw no(`Mailbox ${name} already exists`, 'ALREADYEXISTS')
    return this.#create(rec, name)
  }

  #create(rec: UserRecord, name: string): MailboxEntry {
    // Strictly increasing per user, so a re-created name never reuses a UIDVALIDITY (docs/protocol.md rule 7).
    const uidValidity = Math.min(0xffffffff, Math.max(Math.floor(this.#now() / 1000), rec.lastUidValidity + 1))
    rec.lastUidValidity = uidValidity
    const doc = new Y.Doc()
    const mailbox = openMailbox(doc, {
      replica: this.#node,
      slot: this.#slot,
      stride: this.#stride,
      uidValidity,
      blobs: this.blobs,
      now: this.#now,
    })
    const entry: MailboxEntry = { doc, mailbox, modseq: new ModSeqIndex(mailbox, { now: this.#now }) }
    rec.mailboxes.set(name, entry)
    return entry
  }

  /** @internal */
  handle(entry: MailboxEntry): ImapMailbox {
    const { mailbox, modseq } = entry
    const blobs = this.blobs
    // memory is this backend's durability: a write is durable once applied and its body stored
    return new DurableMailbox({
      mailbox,
      modseq,
      expose: async () => {
        const view = mailbox.expose()
        await mailbox.whenBlobsStored()
        return view
      },
      stage: async (m) =>
        mailbox.append(m.raw, {
          ...(m.flags !== undefined ? { flags: [...m.flags] } : {}),
          ...(m.internalDate !== undefined ? { internalDate: m.internalDate } : {}),
        }),
      persist: () => mailbox.whenBlobsStored(),
      body: async (guid) => {
        const info = mailbox.message(guid)
        return info === undefined ? undefined : blobs.get(info.hash)
      },
      release: () => undefined,
    })
  }
}

const isInferior = (name: string, of: string): boolean => name.startsWith(`${of}/`)

class MemoryAccount implements ImapAccount {
  constructor(
    readonly user: string,
    private readonly rec: UserRecord,
    private readonly backend: MemoryBackend,
  ) {}

  async list(): Promise<string[]> {
    return [...this.rec.mailboxes.keys()]
  }

  async create(name: string): Promise<void> {
    this.backend.createMailbox(this.rec, name)
  }

  async delete(name: string): Promise<void> {
    if (name === 'INBOX') throw no('INBOX cannot be deleted', 'CANNOT')
    if (!this.rec.mailboxes.delete(name)) throw no(`No mailbox ${name}`, 'NONEXISTENT')
  }

  async rename(from: string, to: string): Promise<void> {
    const src = this.rec.mailboxes.get(from)
    if (src === undefined) throw no(`No mailbox ${from}`, 'NONEXISTENT')
    if (this.rec.mailboxes.has(to)) throw no(`Mailbox ${to} already exists`, 'ALREADYEXISTS')
    if (to === from || isInferior(to, from)) throw no('Cannot rename a mailbox into itself', 'CANNOT')
    const moves: Array<[string, string]> = [[from, to]]
    if (from !== 'INBOX') {
      for (const name of this.rec.mailboxes.keys()) if (isInferior(name, from)) moves.push([name, to + name.slice(from.length)])
    }
    for (const [, target] of moves) if (this.rec.mailboxes.has(target)) throw no(`Mailbox ${target} already exists`, 'ALREADYEXISTS')
    // A renamed mailbox gets a new UIDVALIDITY: its messages are copied into a fresh document,
    // so a client that knew an earlier mailbox of the target name can never confuse the two.
    for (const [source, target] of moves) {
      const old = this.rec.mailboxes.get(source)!
      const fresh = this.backend.createMailbox(this.rec, target)
      const handle = this.backend.handle(old)
      const guids: string[] = []
      for (const e of old.mailbox.view().messages) {
        const info = old.mailbox.message(e.guid)
        const raw = await handle.body(e.guid)
        if (info === undefined || raw === undefined) continue
        fresh.mailbox.append(raw, { flags: [...e.flags], internalDate: info.internalDate })
        guids.push(e.guid)
      }
      await fresh.mailbox.whenBlobsStored()
      if (source === 'INBOX') old.mailbox.expunge(guids)
      else this.rec.mailboxes.delete(source)
    }
  }

  async subscriptions(): Promise<string[]> {
    return [...this.rec.subscriptions]
  }

  async subscribe(name: string, on: boolean): Promise<void> {
    if (on) this.rec.subscriptions.add(name)
    else this.rec.subscriptions.delete(name)
  }

  async open(name: string): Promise<ImapMailbox | undefined> {
    const entry = this.rec.mailboxes.get(name)
    return entry === undefined ? undefined : this.backend.handle(entry)
  }
}
