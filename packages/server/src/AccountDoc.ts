import { createHash } from 'node:crypto'
import type * as Y from 'yjs'
import {
  ACCOUNT_LOG,
  accountFacts,
  INBOX_ID,
  isValidMailboxName,
  listAccountMailboxes,
  listSubscriptions,
  type AccountFact,
  type MailboxEntry,
} from '@mailweave/core'
import { NodeError } from './NodeError.ts'

/** The id of every account's INBOX: it always exists and cannot be deleted. */
export { INBOX_ID }
/** One mailbox of an account. */
export type { MailboxEntry }

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

  /** The well-formed facts: a malformed entry (from any writer) is never listed, never a crash. */
  private facts(): AccountFact[] {
    return accountFacts(this.doc)
  }

  private stamp(): number {
    let m = 0
    for (const f of this.facts()) m = Math.max(m, f[0] === 'sub' ? f[3] : f[0] === 'mb' ? f[4] : f[2])
    return Math.max(this.now(), m + 1)
  }

  /** Live mailboxes, INBOX first, then by name (core's `listAccountMailboxes` rules). */
  list(): MailboxEntry[] {
    return listAccountMailboxes(this.facts(), this.inboxUidValidity)
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
    return listSubscriptions(this.facts())
  }

  /** Subscribes or unsubscribes `name` (INBOX or a valid mailbox name; throws BAD_REQUEST otherwise). */
  subscribe(name: string, on: boolean): void {
    if (name !== 'INBOX') checkName(name)
    this.log.push([['sub', name, on ? 1 : 0, this.stamp(), this.replica]])
  }
}

function checkName(name: string): void {
  if (!isValidMailboxName(name)) {
    throw new NodeError('BAD_REQUEST', `invalid mailbox name ${JSON.stringify(name)}`)
  }
}
