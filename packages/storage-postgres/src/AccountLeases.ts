import { createHash } from 'node:crypto'
import { isValidUser, StorageError } from '@mailweave/core'
import type { PgDatabase } from './PgDatabase.ts'

/**
 * Addresses a process advertises to the other processes of its region (the same shape as
 * `@mailweave/server`'s `ProcessAddresses`, declared here so this package does not depend
 * on the server).
 */
export interface LeaseProcessAddresses {
  process: string
  http: string
  imap?: string
  lmtp?: string
}

/** Where an account is served (the shape of `@mailweave/server`'s `AccountRoute`). */
export type LeaseRoute = { kind: 'local' } | { kind: 'remote'; owner: LeaseProcessAddresses } | { kind: 'unavailable'; reason: string }

/** Options of {@link AccountLeases.start}. */
export interface AccountLeasesOptions {
  /** This process's name within the region (unique among the region's processes). */
  process: string
  /** How long a lease and a heartbeat last without renewal (ms, default 10,000); renewed every third of it. */
  ttlMs?: number
  /** At most this many accounts owned at once (the `#peers` role not counted); default unlimited. */
  maxAccounts?: number
  /** This process's addresses; until given (here or by {@link AccountLeases.advertise}) it is never an account's place. */
  addresses?: Omit<LeaseProcessAddresses, 'process'>
  /** Reports lost leases and failed renewal rounds. */
  log?: (msg: string, fields?: object) => void
  /** Awaited by {@link AccountLeases.close} before it releases the leases (the store's queued writes commit under them). */
  beforeRelease?: () => Promise<void>
}

/** The lease a fenced write commits under: the account's own, or the region's `#peers` lease. */
export interface WriteLease {
  account: string
  epoch: string
}

/** What a {@link PgUpdateStore} asks before it writes an account's documents. */
export interface WriteFence {
  readonly processId: string
  /** The lease a write to `account`'s documents commits under now, or undefined: refused. */
  leaseFor(account: string): WriteLease | undefined
}

/** Ownership figures for status and metrics. */
export interface LeaseStatus {
  process: string
  ttlMs: number
  maxAccounts: number | undefined
  ownedAccounts: number
  peers: boolean
  /** Live processes of the region seen at the last renewal round (this one included once advertised). */
  liveProcesses: string[]
  /** Accounts handed over to their place since start. */
  handedOver: number
  /** Leases lost since start (taken over, or not renewed in time). */
  lost: number
}

/** The lease name of the region's peer links. */
export const PEERS_LEASE = '#peers'

interface Held {
  epoch: string
  /** performance.now() past which this process no longer trusts the lease (before it expires in the database). */
  deadline: number
}

interface LiveProcess {
  name: string
  addresses: LeaseProcessAddresses | undefined
  full: boolean
}

/** Rendezvous (highest-random-weight) weight of `process` for `account`: 16 hex digits, compared as strings. */
const weight = (account: string, process: string): string => createHash('md5').update(`${account}\n${process}`).digest('hex').slice(0, 16)

/** The processes in rendezvous order for `account` (best first); ties (never in practice) by name. */
export function rendezvousOrder(account: string, processes: readonly string[]): string[] {
  return processes
    .map((p) => ({ p, w: weight(account, p) }))
    .sort((a, b) => (a.w < b.w ? 1 : a.w > b.w ? -1 : a.p < b.p ? -1 : 1))
    .map((x) => x.p)
}

const ttlInterval = (ms: number) => `${Math.round(ms)} milliseconds`

/**
 * Leases of accounts among the processes of one region sharing one PostgreSQL database
 * (tables `mw_processes` and `mw_leases`), implementing `@mailweave/server`'s
 * `AccountOwnership` structurally, and the {@link WriteFence} of the region's update store.
 *
 * Guarantees: at most one process holds an account's lease at a time, as judged by the
 * database clock (`clock_timestamp()`, never a process clock); every change of hands bumps
 * the lease's epoch, and writes fenced by an older epoch never commit. A process trusts a
 * lease only until a fifth of the TTL before it would expire in the database (counted from
 * when the renewal was sent), so it calls `onLost` before another process can take it.
 *
 * An account's place is the first live, advertised process in rendezvous order over the
 * account name that is not at its cap (or this process, when it already holds it), so
 * about 1/N of the accounts move when a process joins or leaves. A process acquires an
 * account when asked for its route and it is the place and the lease is free or expired;
 * one statement per round (every TTL/3) renews every lease held, writes the heartbeat and
 * releases the accounts whose place is now another live process (handover). The `#peers`
 * role is a lease too, taken by its place when free and kept (not handed over) while renewed.
 */
export class AccountLeases implements WriteFence {
  readonly processId: string
  readonly ttlMs: number
  readonly maxAccounts: number | undefined
  private readonly held = new Map<string, Held>()
  private live: LiveProcess[] = []
  private addresses: Omit<LeaseProcessAddresses, 'process'> | undefined
  private readonly lostListeners = new Set<(user: string) => void>()
  private readonly peersListeners = new Set<() => void>()
  private timer: NodeJS.Timeout | undefined
  private expiryTimer: NodeJS.Timeout | undefined
  private round: Promise<void> | undefined
  private closed = false
  private started = false
  private handedOver = 0
  private lostCount = 0
  private readonly log: (msg: string, fields?: object) => void
  private readonly beforeRelease: (() => Promise<void>) | undefined
  /** Acquisitions in flight, so two routes of one account never take it twice (each take bumps the epoch). */
  private readonly acquiring = new Map<string, Promise<unknown>>()

  private constructor(
    private readonly db: PgDatabase,
    options: AccountLeasesOptions,
  ) {
    this.processId = options.process
    this.ttlMs = options.ttlMs ?? 10_000
    this.maxAccounts = options.maxAccounts
    this.addresses = options.addresses
    this.log = options.log ?? (() => {})
    this.beforeRelease = options.beforeRelease
  }

  /** Writes the heartbeat, reads the live processes and starts the renewal rounds. */
  static async start(db: PgDatabase, options: AccountLeasesOptions): Promise<AccountLeases> {
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(options.process))
      throw new StorageError('IO', `invalid process name ${JSON.stringify(options.process)}: 1-64 letters, digits, . _ -`)
    const ttl = options.ttlMs ?? 10_000
    if (!Number.isInteger(ttl) || ttl < 300 || ttl > 3_600_000)
      throw new StorageError('IO', `lease TTL must be 300..3600000 ms, got ${ttl}`)
    if (options.maxAccounts !== undefined && (!Number.isInteger(options.maxAccounts) || options.maxAccounts < 0))
      throw new StorageError('IO', `maxAccounts must be a whole number >= 0, got ${options.maxAccounts}`)
    const leases = new AccountLeases(db, options)
    await leases.renew()
    // from the next round on the peer role can be taken: the node subscribes to onPeersGained first
    leases.started = true
    leases.schedule()
    return leases
  }

  /** Sets this process's addresses (once its listeners are bound); from then on it can be an account's place. */
  async advertise(addresses: Omit<LeaseProcessAddresses, 'process'>): Promise<void> {
    this.addresses = addresses
    await this.renew()
  }

  // ---- AccountOwnership ----

  async route(user: string): Promise<LeaseRoute> {
    if (!isValidUser(user)) return { kind: 'unavailable', reason: `not an account name: ${JSON.stringify(user)}` }
    if (this.trusted(user) !== undefined) return { kind: 'local' }
    return this.routeFree(user, false)
  }

  async routePeers(): Promise<LeaseRoute> {
    if (this.trusted(PEERS_LEASE) !== undefined) return { kind: 'local' }
    return this.routeFree(PEERS_LEASE, true)
  }

  onLost(fn: (user: string) => void): () => void {
    this.lostListeners.add(fn)
    return () => this.lostListeners.delete(fn)
  }

  onPeersGained(fn: () => void): () => void {
    this.peersListeners.add(fn)
    return () => this.peersListeners.delete(fn)
  }

  /** Stops the rounds, releases every lease held (others take them at once) and removes the heartbeat row. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    clearTimeout(this.timer)
    await this.round?.catch(() => {})
    await this.beforeRelease?.().catch(() => {})
    clearTimeout(this.expiryTimer)
    const accounts = [...this.held.keys()]
    this.held.clear()
    await this.db
      .query(
        'cannot release leases',
        `WITH rel AS (UPDATE mw_leases SET expires = '-infinity' WHERE owner = $1 AND account = ANY($2::text[]))
         DELETE FROM mw_processes WHERE name = $1`,
        [this.processId, accounts],
      )
      .catch((e: unknown) => this.log('could not release the leases at close (they expire by themselves)', { error: String(e) }))
  }

  // ---- WriteFence ----

  leaseFor(account: string): WriteLease | undefined {
    const own = this.trusted(account)
    if (own !== undefined) return { account, epoch: own.epoch }
    const peers = this.trusted(PEERS_LEASE)
    return peers === undefined ? undefined : { account: PEERS_LEASE, epoch: peers.epoch }
  }

  // ---- batch acquisition, status ----

  /**
   * Takes the leases of `users` that are free, expired or already this process's (a new
   * epoch each), in one statement, whatever their place, up to the cap. Resolves to the
   * users acquired. For loading many accounts at once (benchmarks, warm-up after a start).
   */
  async acquire(users: readonly string[]): Promise<string[]> {
    if (this.closed) throw new StorageError('IO', 'the account leases are closed')
    const unique = [...new Set(users)].filter((u) => u === PEERS_LEASE || isValidUser(u))
    const elsewhere = unique.filter((u) => this.acquiring.has(u))
    const room = this.maxAccounts === undefined ? Infinity : Math.max(0, this.maxAccounts - this.ownedCount() - this.acquiring.size)
    const wanted = unique.filter((u) => !this.acquiring.has(u) && this.trusted(u) === undefined).slice(0, room)
    const taking = this.take(wanted)
    for (const u of wanted) this.acquiring.set(u, taking)
    try {
      const got = await taking
      await Promise.allSettled(elsewhere.map((u) => this.acquiring.get(u)))
      return [...got, ...elsewhere.filter((u) => this.trusted(u) !== undefined)]
    } finally {
      for (const u of wanted) this.acquiring.delete(u)
    }
  }

  /** One statement taking the leases of `wanted` (free, expired or this process's). */
  private async take(wanted: string[]): Promise<string[]> {
    if (wanted.length === 0) return []
    const sent = performance.now()
    const r = await this.db.query<{ account: string; epoch: string }>(
      `cannot acquire ${wanted.length === 1 ? `the lease of ${wanted[0]}` : `${wanted.length} leases`}`,
      `INSERT INTO mw_leases AS l (account, owner, epoch, expires)
         SELECT a, $2, 1, clock_timestamp() + $3::interval FROM unnest($1::text[]) AS t(a) ORDER BY a
       ON CONFLICT (account) DO UPDATE SET owner = EXCLUDED.owner, epoch = l.epoch + 1, expires = EXCLUDED.expires
         WHERE l.expires <= clock_timestamp() OR l.owner = EXCLUDED.owner
       RETURNING account, epoch::text AS epoch`,
      [wanted, this.processId, ttlInterval(this.ttlMs)],
    )
    const deadline = sent + this.trustMs()
    const got: string[] = []
    // closed meanwhile: the leases just taken expire by themselves
    if (this.closed) return got
    for (const row of r.rows) {
      this.held.set(row.account, { epoch: row.epoch, deadline })
      got.push(row.account)
    }
    this.armExpiry()
    if (got.includes(PEERS_LEASE)) this.emitPeersGained()
    return got
  }

  /** Accounts held now (the `#peers` role not among them). */
  ownedAccounts(): string[] {
    return [...this.held.keys()].filter((a) => a !== PEERS_LEASE && this.trusted(a) !== undefined)
  }

  status(): LeaseStatus {
    return {
      process: this.processId,
      ttlMs: this.ttlMs,
      maxAccounts: this.maxAccounts,
      ownedAccounts: this.ownedCount(),
      peers: this.trusted(PEERS_LEASE) !== undefined,
      liveProcesses: [...this.live.map((p) => p.name), ...(this.addresses === undefined ? [] : [this.processId])].sort(),
      handedOver: this.handedOver,
      lost: this.lostCount,
    }
  }

  /** Runs one renewal round now (tests, and `advertise`); rounds never overlap. */
  async renew(): Promise<void> {
    while (this.round !== undefined) await this.round.catch(() => {})
    if (this.closed) return
    this.round = this.runRound().finally(() => (this.round = undefined))
    await this.round
  }

  // ---- internals ----

  /** Trust a lease for 80 % of the TTL after its renewal was sent. */
  private trustMs(): number {
    return this.ttlMs * 0.8
  }

  private full(): boolean {
    return this.maxAccounts !== undefined && this.ownedCount() >= this.maxAccounts
  }

  private ownedCount(): number {
    let n = 0
    for (const a of this.held.keys()) if (a !== PEERS_LEASE) n++
    return n
  }

  /** The held lease when still trusted; a lease past its deadline is dropped (and reported lost) here. */
  private trusted(account: string): Held | undefined {
    const h = this.held.get(account)
    if (h === undefined) return undefined
    if (performance.now() < h.deadline) return h
    this.lose([account], 'not renewed in time')
    return undefined
  }

  private lose(accounts: string[], why: string): void {
    const gone = accounts.filter((a) => this.held.delete(a))
    if (gone.length === 0) return
    this.lostCount += gone.length
    this.log('leases lost', { process: this.processId, count: gone.length, why, first: gone[0] })
    for (const a of gone) for (const fn of this.lostListeners) fn(a)
  }

  private emitPeersGained(): void {
    this.log('this process now runs the region peer links', { process: this.processId })
    for (const fn of this.peersListeners) fn()
  }

  /**
   * Candidates for a place: live advertised processes not at their cap (any, for the peer
   * role), and this one once advertised, unless at its cap and `holding` is false.
   */
  private candidates(role: boolean, holding = false): LiveProcess[] {
    const me = this.processId
    const others = this.live.filter((p) => p.name !== me && p.addresses !== undefined && (role || !p.full))
    const meFull = !role && !holding && this.full()
    return this.addresses !== undefined && !meFull ? [...others, { name: me, addresses: this.self(), full: false }] : others
  }

  private self(): LeaseProcessAddresses | undefined {
    return this.addresses === undefined ? undefined : { process: this.processId, ...this.addresses }
  }

  /** The place of `account` among `candidates`, by rendezvous order. */
  private placeOf(account: string, candidates: LiveProcess[]): LiveProcess | undefined {
    const first = rendezvousOrder(
      account,
      candidates.map((c) => c.name),
    )[0]
    return candidates.find((c) => c.name === first)
  }

  /**
   * The route of an account this process does not hold: when this process is its place, one
   * statement takes it (unless another process holds it); else the lease row names the holder.
   */
  private async routeFree(account: string, role: boolean): Promise<LeaseRoute> {
    const place = this.placeOf(account, this.candidates(role))
    if (place?.name === this.processId) {
      await this.acquire([account])
      if (this.trusted(account) !== undefined) return { kind: 'local' }
    }
    const row = await this.readLease(account)
    if (row !== undefined && row.valid && row.owner !== this.processId) {
      if (row.addresses !== undefined) return { kind: 'remote', owner: row.addresses }
      return { kind: 'unavailable', reason: `${account} is held by process ${row.owner}, which advertises no addresses` }
    }
    if (place === undefined) {
      const capped = !role && (this.live.some((p) => p.full && p.addresses !== undefined) || (this.addresses !== undefined && this.full()))
      return {
        kind: 'unavailable',
        reason: capped
          ? 'every live process of the region is at its account cap'
          : 'no live process in the region advertises its addresses',
      }
    }
    if (place.name !== this.processId) return { kind: 'remote', owner: place.addresses! }
    return { kind: 'unavailable', reason: `the lease of ${account} is changing hands; try again` }
  }

  private async readLease(
    account: string,
  ): Promise<{ owner: string; valid: boolean; addresses: LeaseProcessAddresses | undefined } | undefined> {
    const r = await this.db.query<{ owner: string; valid: boolean; addresses: Omit<LeaseProcessAddresses, 'process'> | null }>(
      `cannot read the lease of ${account}`,
      `SELECT l.owner, l.expires > clock_timestamp() AS valid, p.addresses
         FROM mw_leases l LEFT JOIN mw_processes p ON p.name = l.owner WHERE l.account = $1`,
      [account],
    )
    const row = r.rows[0]
    if (row === undefined) return undefined
    return {
      owner: row.owner,
      valid: row.valid,
      addresses: row.addresses === null ? undefined : { process: row.owner, ...row.addresses },
    }
  }

  private schedule(): void {
    if (this.closed) return
    this.timer = setTimeout(() => {
      void this.renew()
        .catch((e: unknown) => this.log('lease renewal round failed', { process: this.processId, error: String(e) }))
        .finally(() => this.schedule())
    }, this.ttlMs / 3)
    this.timer.unref()
  }

  /** A timer at the earliest trust deadline, so a process that cannot renew reports its leases lost in time. */
  private armExpiry(): void {
    clearTimeout(this.expiryTimer)
    let first = Infinity
    for (const h of this.held.values()) first = Math.min(first, h.deadline)
    if (first === Infinity || this.closed) return
    this.expiryTimer = setTimeout(
      () => {
        const now = performance.now()
        this.lose(
          [...this.held].filter(([, h]) => h.deadline <= now).map(([a]) => a),
          'not renewed in time',
        )
        this.armExpiry()
      },
      Math.max(0, first - performance.now()) + 1,
    )
    this.expiryTimer.unref()
  }

  /**
   * One round, one statement: heartbeat, renewal of every trusted lease (rows locked in
   * account order, as fenced writes lock them, so the two never deadlock), release of the
   * accounts handed over, and the live processes and the `#peers` lease as they are now.
   */
  private async runRound(): Promise<void> {
    const keep: string[] = []
    const epochs: string[] = []
    const release: string[] = []
    const releaseEpochs: string[] = []
    const candidates = this.candidates(false, true)
    for (const [account, h] of [...this.held]) {
      if (this.trusted(account) === undefined) continue
      const place = account === PEERS_LEASE ? undefined : this.placeOf(account, candidates)
      if (place !== undefined && place.name !== this.processId && this.addresses !== undefined) {
        release.push(account)
        releaseEpochs.push(h.epoch)
      } else {
        keep.push(account)
        epochs.push(h.epoch)
      }
    }
    if (release.length > 0) {
      // the node stops serving them before the database lets another process take them
      this.handedOver += release.length
      this.lose(release, 'handed over to its place')
    }
    const sent = performance.now()
    const r = await this.db.query<{ kind: string; name: string; addresses: Omit<LeaseProcessAddresses, 'process'> | null; full: boolean }>(
      'cannot renew leases',
      `WITH hb AS (
         INSERT INTO mw_processes (name, addresses, heartbeat, ttl_ms, owned, max_accounts)
         VALUES ($1, $2::jsonb, clock_timestamp(), $3, $4, $5)
         ON CONFLICT (name) DO UPDATE SET addresses = EXCLUDED.addresses, heartbeat = EXCLUDED.heartbeat, ttl_ms = EXCLUDED.ttl_ms,
           owned = EXCLUDED.owned, max_accounts = EXCLUDED.max_accounts),
       locked AS (
         SELECT l.account FROM mw_leases l JOIN unnest($6::text[], $7::int8[]) AS k(a, e) ON l.account = k.a AND l.epoch = k.e
         WHERE l.owner = $1 ORDER BY l.account FOR UPDATE OF l),
       ren AS (
         UPDATE mw_leases SET expires = clock_timestamp() + $8::interval WHERE account IN (SELECT account FROM locked) RETURNING account),
       rel AS (
         UPDATE mw_leases l SET expires = '-infinity' FROM unnest($9::text[], $10::int8[]) AS k(a, e)
         WHERE l.account = k.a AND l.epoch = k.e AND l.owner = $1)
       SELECT 'renewed' AS kind, account AS name, NULL::jsonb AS addresses, false AS full FROM ren
       UNION ALL
       SELECT 'live', name, addresses, max_accounts IS NOT NULL AND owned >= max_accounts FROM mw_processes
         WHERE heartbeat + ttl_ms * interval '1 millisecond' > clock_timestamp() AND name <> $1
       UNION ALL
       SELECT 'peers', owner, NULL, expires > clock_timestamp() FROM mw_leases WHERE account = '${PEERS_LEASE}'`,
      [
        this.processId,
        this.addresses === undefined ? null : JSON.stringify(this.addresses),
        this.ttlMs,
        this.ownedCount() - release.length,
        this.maxAccounts ?? null,
        keep,
        epochs,
        ttlInterval(this.ttlMs),
        release,
        releaseEpochs,
      ],
    )
    const deadline = sent + this.trustMs()
    const renewed = new Set<string>()
    const live: LiveProcess[] = []
    let peers: { owner: string; valid: boolean } | undefined
    for (const row of r.rows) {
      if (row.kind === 'renewed') renewed.add(row.name)
      else if (row.kind === 'live')
        live.push({
          name: row.name,
          addresses: row.addresses === null ? undefined : { process: row.name, ...row.addresses },
          full: row.full,
        })
      else peers = { owner: row.name, valid: row.full }
    }
    live.sort((a, b) => (a.name < b.name ? -1 : 1))
    this.live = live
    const taken: string[] = []
    for (const account of keep) {
      const h = this.held.get(account)
      if (h === undefined) continue
      if (renewed.has(account)) h.deadline = deadline
      else taken.push(account)
    }
    this.lose(taken, 'taken over by another process')
    this.armExpiry()
    // the peer role: taken by its place when nobody holds it
    const peersFree = peers === undefined || !peers.valid || peers.owner === this.processId
    if (!this.held.has(PEERS_LEASE) && peersFree && this.started && !this.closed) {
      const place = this.placeOf(PEERS_LEASE, this.candidates(true))
      if (place?.name === this.processId) await this.acquire([PEERS_LEASE])
    }
  }
}
