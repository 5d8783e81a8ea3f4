import { no } from './ImapError.ts'

/** The hierarchy delimiter of every mailbox name. */
export const DELIMITER = '/'

const MAX_NAME = 1000

/**
 * A mailbox name as a backend stores it: trailing delimiter dropped (RFC 3501 CREATE),
 * INBOX and its inferiors spelled `INBOX`. Throws `NO [CANNOT]` for names no mailbox may
 * have: empty, empty hierarchy levels, wildcards, control characters, over-long.
 */
export function mailboxName(name: string): string {
  let n = name.endsWith(DELIMITER) ? name.slice(0, -1) : name
  if (/^inbox(\/|$)/i.test(n)) n = `INBOX${n.slice(5)}`
  if (n.length === 0) throw no('Empty mailbox name', 'CANNOT')
  if (n.length > MAX_NAME) throw no('Mailbox name too long', 'CANNOT')
  if (/[*%\x00-\x1f\x7f]/.test(n)) throw no('Mailbox names cannot contain wildcards or control characters', 'CANNOT')
  if (n.split(DELIMITER).some((level) => level.length === 0)) throw no('Mailbox names cannot have empty hierarchy levels', 'CANNOT')
  return n
}

/** The superior names of `name` (`a/b/c` -> `a`, `a/b`). */
export function ancestors(name: string): string[] {
  const parts = name.split(DELIMITER)
  const out: string[] = []
  for (let i = 1; i < parts.length; i++) out.push(parts.slice(0, i).join(DELIMITER))
  return out
}

/**
 * A LIST/LSUB matcher for `reference` + `pattern` (RFC 3501 6.3.8): `*` matches anything,
 * `%` anything but the delimiter; a leading INBOX matches in any case.
 */
export function listMatcher(reference: string, pattern: string): (name: string) => boolean {
  let full = reference + pattern
  if (/^inbox(\/|$)/i.test(full)) full = `INBOX${full.slice(5)}`
  const source = full.replace(/[.*+?^${}()|[\]\\%]/g, (c) => (c === '*' ? '.*' : c === '%' ? '[^/]*' : `\\${c}`))
  const re = new RegExp(`^${source}$`, 's')
  return (name) => re.test(name)
}
