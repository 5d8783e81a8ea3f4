/**
 * Names of the replicated documents, shared by nodes and edge replicas: the one place
 * that knows the `sys/…`, `acct/<user>` and `mbox/<user>/<id>` shapes.
 */

/** Name of the replicated document holding user records. */
export const USERS_DOC = 'sys/users'

const USER_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/
const MAILBOX_ID_RE = /^[A-Za-z0-9._-]+$/

/** Whether `user` is a valid account name (lowercase, 1-64 chars of [a-z0-9._-], not starting with . _ -). */
export function isValidUser(user: string): boolean {
  return USER_RE.test(user)
}

/** The account document of `user` (its mailbox list). */
export function accountDocName(user: string): string {
  return `acct/${user}`
}

/** The document of one mailbox of `user`. */
export function mailboxDocName(user: string, mailboxId: string): string {
  return `mbox/${user}/${mailboxId}`
}

/** What a document name says: its kind and, for account and mailbox documents, the owner. */
export type DocName = { kind: 'users' } | { kind: 'account'; user: string } | { kind: 'mailbox'; user: string; mailboxId: string }

/** Parses a document name; undefined for anything that is not one of the shapes above with a valid user. */
export function parseDocName(name: string): DocName | undefined {
  if (name === USERS_DOC) return { kind: 'users' }
  const parts = name.split('/')
  const user = parts[1]
  if (user === undefined || !isValidUser(user)) return undefined
  if (parts.length === 2 && parts[0] === 'acct') return { kind: 'account', user }
  const mailboxId = parts[2]
  if (parts.length === 3 && parts[0] === 'mbox' && mailboxId !== undefined && MAILBOX_ID_RE.test(mailboxId))
    return { kind: 'mailbox', user, mailboxId }
  return undefined
}

/** Whether `name` is a mailbox document (`mbox/<user>/<id>`). */
export const isMailboxDocName = (name: string): boolean => parseDocName(name)?.kind === 'mailbox'

/** The account a document belongs to, or undefined for system documents and bad names. */
export function docOwner(name: string): string | undefined {
  const p = parseDocName(name)
  return p === undefined || p.kind === 'users' ? undefined : p.user
}

/** The prefix every mailbox document of `user` starts with (for listing stored documents). */
export const mailboxDocPrefix = (user: string): string => `mbox/${user}/`
