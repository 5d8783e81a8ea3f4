import { createHash, createHmac, randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto'
import { promisify } from 'node:util'
import type * as Y from 'yjs'
import { isValidUser } from '@mailweave/core'
import { NodeError } from './NodeError.ts'

const scrypt = promisify(scryptCb) as (
  password: string,
  salt: Buffer,
  keylen: number,
  opts: { N: number; r: number; p: number },
) => Promise<Buffer>
const SCRYPT = { N: 16384, r: 8, p: 1 }
const USERS_LOG = 'mailweave.users'

type UserFact =
  | readonly ['u', name: string, hash: string, salt: string, created: number, ms: number, replica: string]
  | readonly ['ud', name: string, ms: number, replica: string]

/** One account as the node knows it. */
export interface UserRecord {
  name: string
  /** Seconds since the epoch when the account was first created (feeds INBOX's UIDVALIDITY). */
  created: number
}

/**
 * Accounts, replicated as insert-only facts in the users document (latest fact per user
 * wins by time, then replica id). Passwords are stored as scrypt hashes; successful
 * verifications are cached per (user, password digest), so repeated HTTP and IMAP logins
 * do not pay scrypt each time. Bearer tokens are HMACs with the cluster secret, so a
 * token from one region is valid at every region. The latest fact per user is indexed as
 * facts arrive (local or replicated), so a lookup does not scan every account's facts.
 */
export class UserDirectory {
  private readonly log: Y.Array<UserFact>
  private readonly verified = new Map<string, string>()
  /** The winning fact per user name (any array fact naming it, as a scan would pick). */
  private readonly latest = new Map<unknown, UserFact>()
  private maxMs = 0

  constructor(
    private readonly doc: Y.Doc,
    private readonly replica: string,
    private readonly secret: Uint8Array,
    private readonly now: () => number = Date.now,
  ) {
    this.log = doc.getArray(USERS_LOG)
    this.reindex()
    this.log.observe((event) => {
      // facts are only ever inserted; anything else (a writer deleting items) gets a full rescan
      if (event.changes.deleted.size > 0) return this.reindex()
      for (const item of event.changes.added) for (const f of item.content.getContent() as UserFact[]) this.index(f)
    })
  }

  private reindex(): void {
    this.latest.clear()
    this.maxMs = 0
    for (const f of this.log.toArray()) this.index(f)
  }

  private index(f: UserFact): void {
    if (!Array.isArray(f)) return
    const ms = f[0] === 'u' ? f[5] : f[2]
    if (typeof ms === 'number' && Number.isFinite(ms)) this.maxMs = Math.max(this.maxMs, ms)
    const best = this.latest.get(f[1])
    const bestMs = best === undefined ? -1 : best[0] === 'u' ? best[5] : best[2]
    const rep = f[0] === 'u' ? f[6] : f[3]
    const bestRep = best === undefined ? '' : best[0] === 'u' ? best[6] : best[3]
    if (ms > bestMs || (ms === bestMs && rep > bestRep)) this.latest.set(f[1], f)
  }

  private current(name: string): UserFact | undefined {
    return this.latest.get(name)
  }

  /** The user record, or undefined when absent or deleted. */
  get(name: string): UserRecord | undefined {
    const f = this.current(name)
    return f !== undefined && f[0] === 'u' ? { name, created: f[4] } : undefined
  }

  /** Every live account name. */
  list(): string[] {
    const names: string[] = []
    for (const [name, f] of this.latest) if (typeof name === 'string' && f[0] === 'u') names.push(name)
    return names.sort()
  }

  /** Creates the account or sets its password. */
  async setPassword(name: string, password: string): Promise<void> {
    if (!isValidUser(name))
      throw new NodeError(
        'BAD_REQUEST',
        `invalid user name ${JSON.stringify(name)}: use 1-64 characters of a-z 0-9 . _ -, starting with a letter or digit`,
      )
    if (typeof password !== 'string' || password.length < 4 || password.length > 1024)
      throw new NodeError('BAD_REQUEST', 'password must be 4 to 1024 characters')
    const salt = randomBytes(16)
    const hash = await scrypt(password.normalize('NFC'), salt, 32, SCRYPT)
    const created = this.get(name)?.created ?? Math.floor(this.now() / 1000)
    const ms = Math.max(this.now(), this.lastMs() + 1)
    this.log.push([['u', name, hash.toString('base64'), salt.toString('base64'), created, ms, this.replica]])
  }

  /** Deletes the account (its mail stays on disk; re-creating it brings it back). */
  remove(name: string): void {
    if (this.get(name) === undefined) throw new NodeError('NOT_FOUND', `no user ${name}`)
    this.log.push([['ud', name, Math.max(this.now(), this.lastMs() + 1), this.replica]])
  }

  private lastMs(): number {
    return this.maxMs
  }

  /** Whether `password` is the user's; constant-time compare, scrypt at most once per distinct pair. */
  async verify(name: string, password: string): Promise<boolean> {
    const f = this.current(name)
    if (f === undefined || f[0] !== 'u' || typeof password !== 'string') return false
    const key = `${name}\0${createHash('sha256').update(password).digest('base64')}`
    if (this.verified.get(key) === f[2]) return true
    const hash = await scrypt(password.normalize('NFC'), Buffer.from(f[3], 'base64'), 32, SCRYPT)
    const ok = timingSafeEqual(hash, Buffer.from(f[2], 'base64'))
    if (ok) {
      if (this.verified.size > 10_000) this.verified.clear()
      this.verified.set(key, f[2])
    }
    return ok
  }

  /** A bearer token for `user` valid for `ttlSec` at every node sharing the secret. */
  issueToken(user: string, ttlSec = 24 * 3600): string {
    const body = `v1.${user}.${Math.floor(this.now() / 1000) + ttlSec}`
    return `${body}.${createHmac('sha256', this.secret).update(body).digest('base64url')}`
  }

  /**
   * The user a token names, or undefined when it is forged, expired or the user is gone.
   * The token is `v1.<user>.<expiry>.<mac>`; a user name may itself hold dots, so the
   * fields are read from both ends (version first, expiry and MAC last).
   */
  checkToken(token: string): string | undefined {
    const first = token.indexOf('.')
    const macDot = token.lastIndexOf('.')
    const expDot = token.lastIndexOf('.', macDot - 1)
    if (first < 0 || expDot <= first || token.slice(0, first) !== 'v1') return undefined
    const body = token.slice(0, macDot)
    const want = createHmac('sha256', this.secret).update(body).digest()
    const got = Buffer.from(token.slice(macDot + 1), 'base64url')
    if (got.length !== want.length || !timingSafeEqual(got, want)) return undefined
    if (Number(token.slice(expDot + 1, macDot)) * 1000 < this.now()) return undefined
    const user = token.slice(first + 1, expDot)
    return this.get(user) !== undefined ? user : undefined
  }

  get document(): Y.Doc {
    return this.doc
  }
}
