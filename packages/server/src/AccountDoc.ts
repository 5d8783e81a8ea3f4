import { createHash } from 'node:crypto'
import type * as Y from 'yjs'
import { NodeError } from './NodeError.ts'

const ACCOUNT_LOG = 'mailweave.account'
/** The id of every account's INBOX: it always exists and cannot be deleted. */
export const INBOX_ID = 'INBOX'

type AccountFact =
  | readonly ['mb', id: string, name: string, uidValidity: number, ms: number, replica: string]
  | readonly ['del', id: string, ms: number, replica: string]
  | readonly ['sub', name: string, on: 0 | 1, ms: number, replica: string]

/** One mailbox of an account. */
export interface MailboxEntry {
  id: string
  name: string
  uidValidity: number
}

const stampGreater = (ms: number, rep: string, bms: number, brep: string) => ms > bms || (ms === bms && rep > brep)

/**
 * An account's mailbox list, replicated as insert-only facts. A mailbox id is derived
 * from its name and how many mailboxes of that name were deleted before, so two regions
 * creating one name during a partition create the same mailbox document (one mailbox, no
 * mail lost). A re-created name gets a new id and a greater UIDVALIDITY.
 */
export class AccountDoc {
  private readonly log: Y.Array<AccountFact>

  constructor(
    readonly doc: Y.Doc,
    private readonly replica: string,
    private readonly inboxUidValidity: number,
    private readonly now: () => number = Date.now,
  ) {
    this.log = doc.getArray(ACCOUNT_LOG)
  }

  private facts(): AccountFact[] {
    return this.log.toArray().filter((f) => Array.isArray(f))
  }

  private stamp(): number {
    let m = 0
    for (const f of this.facts()) m = Math.max(m, f[0] === 'sub' ? f[3] : f[0] === 'mb' ? f[4] : f[2])
    return Math.max(this.now(), m + 1)
  }

  /** Live mailboxes, INBOX first, then by name. Name clashes keep the lowest id's name. */
  list(): MailboxEntry[] {
    const latest = new Map<string, { name: string; uidValidity: number; ms: number; rep: string }>()
    const deleted = new Set<string>()
    for (const f of this.facts()) {
      if (f[0] === 'mb') {
        const cur = latest.get(f[1])
        if (cur === undefined || stampGreater(f[4], f[5], cur.ms, cur.rep)) latest.set(f[1], { name: f[2], uidValidity: Math.max(f[3], cur?.uidValidity ?? 0), ms: f[4], rep: f[5] })
      } else if (f[0] === 'del') deleted.add(f[1])
    }
    const out: MailboxEntry[] = [{ id: INBOX_ID, name: 'INBOX', uidValidity: this.inboxUidValidity }]
    const taken = new Set(['INBOX'])
    for (const [id, e] of [...latest].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      if (deleted.has(id) || id === INBOX_ID) continue
      const name = taken.has(e.name) ? `${e.name} (${id.slice(0, 8)})` : e.name
      taken.add(name)
      out.push({ id, name, uidValidity: e.uidValidity })
    }
    return [out[0]!, ...out.slice(1).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))]
  }

  /** The live mailbox called `name` (INBOX case-insensitively), or undefined. */
  find(name: string): MailboxEntry | undefined {
    const n = name.toUpperCase() === 'INBOX' ? 'INBOX' : name
    return this.list().find((m) => m.name === n)
  }

  /** Creates mailbox `name`; throws CONFLICT when it exists. */
  create(name: string): MailboxEntry {
    checkName(name)
    if (this.find(name) !== undefined) throw new NodeError('CONFLICT', `mailbox ${JSON.stringify(name)} already exists`)
    let generation = 0
    let maxValidity = 0
    for (const f of this.facts()) {
      if (f[0] === 'mb' && f[2] === name) {
        maxValidity = Math.max(maxValidity, f[3])
        if (this.facts().some((g) => g[0] === 'del' && g[1] === f[1])) generation++
      }
    }
    const id = createHash('sha256').update(`${name}\0${generation}`).digest('hex').slice(0, 24)
    const uidValidity = Math.max(Math.floor(this.now() / 1000), maxValidity + 1) >>> 0
    this.log.push([['mb', id, name, uidValidity, this.stamp(), this.replica]])
    return { id, name, uidValidity }
  }

  /** Deletes a mailbox (INBOX cannot be deleted). */
  delete(name: string): MailboxEntry {
    const m = this.find(name)
    if (m === undefined) throw new NodeError('NOT_FOUND', `no mailbox ${JSON.stringify(name)}`)
    if (m.id === INBOX_ID) throw new NodeError('BAD_REQUEST', 'INBOX cannot be deleted')
    this.log.push([['del', m.id, this.stamp(), this.replica]])
    return m
  }

  /** Renames a mailbox (INBOX cannot be renamed here). */
  rename(from: string, to: string): MailboxEntry {
    checkName(to)
    const m = this.find(from)
    if (m === undefined) throw new NodeError('NOT_FOUND', `no mailbox ${JSON.stringify(from)}`)
    if (m.id === INBOX_ID) throw new NodeError('BAD_REQUEST', 'renaming INBOX is not supported')
    if (this.find(to) !== undefined) throw new NodeError('CONFLICT', `mailbox ${JSON.stringify(to)} already exists`)
    this.log.push([['mb', m.id, to, m.uidValidity, this.stamp(), this.replica]])
    return { ...m, name: to }
  }

  /** Subscribed mailbox names. */
  subscriptions(): string[] {
    const latest = new Map<string, { on: boolean; ms: number; rep: string }>()
    for (const f of this.facts()) {
      if (f[0] !== 'sub') continue
      const cur = latest.get(f[1])
      if (cur === undefined || stampGreater(f[3], f[4], cur.ms, cur.rep)) latest.set(f[1], { on: f[2] === 1, ms: f[3], rep: f[4] })
    }
    return [...latest].filter(([, v]) => v.on).map(([k]) => k).sort()
  }

  subscribe(name: string, on: boolean): void {
    this.log.push([['sub', name, on ? 1 : 0, this.stamp(), this.replica]])
  }
}

function checkName(name: string): void {
  if (typeof name !== 'string' || name.length === 0 || name.length > 512 || /[\x00-\x1f\x7f]/.test(name) || name.toUpperCase() === 'INBOX') {
    throw new NodeError('BAD_REQUEST', `invalid mailbox name ${JSON.stringify(name)}`)
  }
}
