/** Name of the replicated document holding user records. */
export const USERS_DOC = 'sys/users'

const USER_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/

/** Whether `user` is a valid account name (lowercase, 1-64 chars of [a-z0-9._-]). */
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

/** The account a document belongs to, or undefined for system documents and bad names. */
export function docOwner(docName: string): string | undefined {
  const m = /^(?:acct\/([^/]+)|mbox\/([^/]+)\/[A-Za-z0-9._-]+)$/.exec(docName)
  const user = m?.[1] ?? m?.[2]
  return user !== undefined && isValidUser(user) ? user : undefined
}
