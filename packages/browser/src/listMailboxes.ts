import type * as Y from 'yjs'

/** Name of the Y.Array holding an account document's facts (as the server writes them). */
export const ACCOUNT_LOG = 'mailweave.account'
/** The id (and document suffix) of every account's INBOX. */
export const INBOX_ID = 'INBOX'

/** One mailbox of an account, as an edge replica sees it. */
export interface MailboxEntry {
  id: string
  name: string
  /** UIDVALIDITY proposed when the mailbox was created; 0 when not known here (INBOX). */
  uidValidity: number
}

const stampGreater = (ms: number, rep: string, bms: number, brep: string) => ms > bms || (ms === bms && rep > brep)

/**
 * The live mailboxes of an account document, INBOX first, then by name: the same rules
 * as the node's `AccountDoc.list()` (latest rename wins, deletes win, name clashes keep
 * the lowest id's name). Read-only: edge replicas create mailboxes through a node's HTTP
 * API. Malformed facts are skipped. INBOX is always listed, even before the first sync.
 */
export function listMailboxes(doc: Y.Doc): MailboxEntry[] {
  const latest = new Map<string, { name: string; uidValidity: number; ms: number; rep: string }>()
  const deleted = new Set<string>()
  for (const f of doc.getArray<unknown>(ACCOUNT_LOG).toArray()) {
    if (!Array.isArray(f)) continue
    if (f[0] === 'mb' && f.length === 6 && typeof f[1] === 'string' && typeof f[2] === 'string' && typeof f[3] === 'number' && typeof f[4] === 'number' && typeof f[5] === 'string') {
      const cur = latest.get(f[1])
      if (cur === undefined || stampGreater(f[4], f[5], cur.ms, cur.rep)) latest.set(f[1], { name: f[2], uidValidity: Math.max(f[3], cur?.uidValidity ?? 0), ms: f[4], rep: f[5] })
    } else if (f[0] === 'del' && typeof f[1] === 'string') deleted.add(f[1])
  }
  const rest: MailboxEntry[] = []
  const taken = new Set(['INBOX'])
  for (const [id, e] of [...latest].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    if (deleted.has(id) || id === INBOX_ID) continue
    const name = taken.has(e.name) ? `${e.name} (${id.slice(0, 8)})` : e.name
    taken.add(name)
    rest.push({ id, name, uidValidity: e.uidValidity })
  }
  rest.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  return [{ id: INBOX_ID, name: 'INBOX', uidValidity: 0 }, ...rest]
}
