/** The shape of an exposure a model client checks: what an IMAP client is told. */
export interface ExposureLike {
  readonly uidValidity: number
  readonly uidNext: number
  readonly messages: ReadonlyArray<{ readonly uid: number; readonly guid: string }>
}

/** A broken invariant, with enough context to debug it. */
export class InvariantViolation extends Error {
  override readonly name = 'InvariantViolation'
  constructor(
    readonly invariant: 'S1' | 'S2' | 'S3' | 'S4' | 'S5' | 'C1' | 'C2' | 'C3',
    message: string,
  ) {
    super(`${invariant}: ${message}`)
  }
}

/**
 * The test oracle of docs/protocol.md: an IMAP client that keeps `uid -> guid` and its last
 * UIDNEXT, checks S2..S5 on every sync, and counts re-downloads (a guid it already had,
 * at a new UID). `globalUids` (shared by every client of a run) checks S1 across clients.
 */
export class ModelClient {
  /** uid -> guid of the last sync. */
  cache = new Map<number, string>()
  /** Every uid -> guid this client was ever shown. */
  readonly everShown = new Map<number, string>()
  /** Uids that were shown and later vanished (expunged): they must never come back. */
  readonly gone = new Set<number>()
  uidNext = 0
  uidValidity = 0
  syncs = 0
  /** Re-downloads: [guid, oldUid, newUid]. */
  readonly duplicates: [guid: string, oldUid: number, newUid: number][] = []

  constructor(
    readonly name: string,
    private readonly globalUids: Map<number, string> = new Map(),
  ) {}

  /** Checks one exposure against everything this client knew, then adopts it. */
  sync(v: ExposureLike): void {
    const where = `client ${this.name} sync #${this.syncs + 1}`
    if (this.uidValidity !== 0 && v.uidValidity !== this.uidValidity) {
      // A new UIDVALIDITY legitimately resets a client; the protocol never causes one.
      throw new InvariantViolation('S4', `${where}: UIDVALIDITY changed ${this.uidValidity} -> ${v.uidValidity}`)
    }
    let prev = 0
    const next = new Map<number, string>()
    const byGuid = new Map<string, number>()
    for (const [uid, guid] of this.cache) byGuid.set(guid, uid)
    for (const { uid, guid } of v.messages) {
      if (uid <= prev) throw new InvariantViolation('S2', `${where}: uid ${uid} follows ${prev}`)
      prev = uid
      const g = this.globalUids.get(uid)
      if (g !== undefined && g !== guid) throw new InvariantViolation('S1', `${where}: uid ${uid} names ${guid} but was ${g} elsewhere`)
      this.globalUids.set(uid, guid)
      const had = this.everShown.get(uid)
      if (had !== undefined && had !== guid) throw new InvariantViolation('S4', `${where}: uid ${uid} named ${had}, now ${guid}`)
      if (this.gone.has(uid)) throw new InvariantViolation('S4', `${where}: expunged uid ${uid} came back`)
      if (had === undefined && this.syncs > 0 && uid < this.uidNext) {
        throw new InvariantViolation('S3', `${where}: uid ${uid} (${guid}) appeared below UIDNEXT ${this.uidNext} it was told`)
      }
      if (uid >= v.uidNext)
        throw new InvariantViolation('S3', `${where}: uid ${uid} at or above the UIDNEXT ${v.uidNext} of the same response`)
      const oldUid = byGuid.get(guid)
      if (oldUid !== undefined && oldUid !== uid && !this.cache.has(uid)) this.duplicates.push([guid, oldUid, uid])
      next.set(uid, guid)
    }
    if (v.uidNext < this.uidNext) throw new InvariantViolation('S5', `${where}: UIDNEXT went back ${this.uidNext} -> ${v.uidNext}`)
    for (const uid of this.cache.keys()) if (!next.has(uid)) this.gone.add(uid)
    for (const [uid, guid] of next) this.everShown.set(uid, guid)
    this.cache = next
    this.uidNext = v.uidNext
    this.uidValidity = v.uidValidity
    this.syncs++
  }

  /** The guids this client holds now. */
  guids(): Set<string> {
    return new Set(this.cache.values())
  }
}
