/**
 * Every failure the engine reports at its boundary. The code is stable and meant to be
 * mapped (IMAP NO/BAD, HTTP status, WebSocket close code) in one place by each front end.
 */
export type MailweaveErrorCode =
  | 'INVALID_OPTIONS' // stride/slot/replica out of range or malformed
  | 'STRIDE_MISMATCH' // the mailbox was created with another stride
  | 'SLOT_CONFLICT' // two node ids claim one slot: allocation refused
  | 'EDGE_CANNOT_EXPOSE' // an edge replica never exposes or allocates
  | 'UNKNOWN_GUID' // setFlags/expunge named a message this replica does not know
  | 'INVALID_ARGUMENT' // a malformed argument (flag name, raw bytes, date)
  | 'CORRUPT_UPDATE' // update bytes that do not decode
  | 'UID_SPACE_EXHAUSTED' // allocation would pass 2^32-1

/** A typed engine error; `code` says what went wrong, `message` says it for people. */
export class MailweaveError extends Error {
  override readonly name = 'MailweaveError'
  constructor(
    readonly code: MailweaveErrorCode,
    message: string,
    readonly details?: Readonly<Record<string, unknown>>,
  ) {
    super(message)
  }
}

/** Throws an internal-invariant failure (a bug, not bad input). */
export function unexpectedCase(what: string): never {
  throw new Error(`mailweave: unexpected case: ${what}`)
}

/** Asserts an internal invariant (a bug if it fails, never bad input). */
export function assert(cond: unknown, what: string): asserts cond {
  if (!cond) unexpectedCase(what)
}
