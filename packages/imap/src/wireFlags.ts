import { flagList } from './wire/encode.ts'
import type { Token } from './wire/encode.ts'

// A flag IMAP can carry: an atom, optionally after one backslash (RFC 3501 `flag`).
const WIRE_FLAG = /^\\?[!#$&'+\-.0-9:;<=>?@A-Z^_`a-z|~[}]+$/

/**
 * Whether `flag` can be sent to an IMAP client. Other replicas (edge clients using the engine
 * directly) may store flags IMAP cannot spell; those are left out of IMAP responses.
 */
export function isWireFlag(flag: string): boolean {
  return WIRE_FLAG.test(flag)
}

/** A `(flag ...)` list of the flags IMAP can carry. */
export function wireFlagList(flags: readonly string[]): Token {
  return flagList(flags.filter(isWireFlag))
}
