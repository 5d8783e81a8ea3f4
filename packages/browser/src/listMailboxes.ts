import type * as Y from 'yjs'
import { accountFacts, ACCOUNT_LOG, INBOX_ID, listAccountMailboxes, type MailboxEntry } from '@mailweave/core'

/** Name of the Y.Array holding an account document's facts (as the server writes them). */
export { ACCOUNT_LOG }
/** The id (and document suffix) of every account's INBOX. */
export { INBOX_ID }
/** One mailbox of an account, as an edge replica sees it (INBOX's UIDVALIDITY is 0 here: not known). */
export type { MailboxEntry }

/**
 * The live mailboxes of an account document, INBOX first, then by name: core's
 * `listAccountMailboxes`, the rules the node's `AccountDoc.list()` uses (latest rename
 * wins, deletes win, name clashes keep the lowest id's name). Read-only: edge replicas
 * create mailboxes through a node's HTTP API. Malformed facts (a numeric name, an id like
 * `../../x`) are skipped. INBOX is always listed, even before the first sync.
 */
export function listMailboxes(doc: Y.Doc): MailboxEntry[] {
  return listAccountMailboxes(accountFacts(doc), 0)
}
