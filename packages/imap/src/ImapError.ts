import { MailweaveError } from '@mailweave/core'
import type { ResponseCode } from './wire/encode.ts'

/**
 * A failure a client should see as a tagged `NO` or `BAD` with `code`. Commands and
 * backends throw it; {@link errorResponse} turns every error into a response in one place.
 */
export class ImapError extends Error {
  override readonly name = 'ImapError'
  constructor(
    readonly status: 'NO' | 'BAD',
    message: string,
    readonly code?: ResponseCode,
  ) {
    super(message)
  }
}

/** Response codes that carry no data (`[TRYCREATE]`, `[NONEXISTENT]`, ...). */
export type PlainResponseCode = Exclude<
  ResponseCode['code'],
  | 'APPENDUID'
  | 'COPYUID'
  | 'UIDVALIDITY'
  | 'UIDNEXT'
  | 'UNSEEN'
  | 'APPENDLIMIT'
  | 'HIGHESTMODSEQ'
  | 'CAPABILITY'
  | 'PERMANENTFLAGS'
  | 'MODIFIED'
>

/** Shorthand for `new ImapError('NO', message, { code })`. */
export function no(message: string, code?: PlainResponseCode): ImapError {
  return new ImapError('NO', message, code === undefined ? undefined : ({ code } as ResponseCode))
}

/** Shorthand for `new ImapError('BAD', message, { code })`. */
export function bad(message: string, code?: PlainResponseCode): ImapError {
  return new ImapError('BAD', message, code === undefined ? undefined : ({ code } as ResponseCode))
}

/** Thrown when the connection went away while a command was running; no response is due. */
export class ConnectionClosedError extends Error {
  override readonly name = 'ConnectionClosedError'
  constructor() {
    super('connection closed')
  }
}

/** A tagged failure response, ready for `encodeTagged`. */
export interface ErrorResponse {
  readonly status: 'NO' | 'BAD'
  readonly text: string
  readonly code?: ResponseCode
  /** True when the error was unexpected (a bug or an infrastructure failure): log it. */
  readonly unexpected: boolean
}

/**
 * The single mapping from any thrown value to an IMAP failure: {@link ImapError} as given;
 * engine errors by code (bad client input is BAD, refusals NO with a code); anything else is
 * `NO [SERVERBUG]` / `[UNAVAILABLE]` with a generic text (details go to the log, not the client).
 */
export function errorResponse(e: unknown): ErrorResponse {
  if (e instanceof ImapError)
    return { status: e.status, text: e.message, ...(e.code !== undefined ? { code: e.code } : {}), unexpected: false }
  if (e instanceof MailweaveError) {
    switch (e.code) {
      case 'INVALID_ARGUMENT':
        return { status: 'BAD', text: e.message, code: { code: 'CLIENTBUG' }, unexpected: false }
      case 'UNKNOWN_GUID':
        return { status: 'NO', text: 'Some of the requested messages no longer exist', code: { code: 'EXPUNGEISSUED' }, unexpected: false }
      case 'UID_SPACE_EXHAUSTED':
        return {
          status: 'NO',
          text: 'This mailbox has run out of UIDs; it needs a new UIDVALIDITY',
          code: { code: 'LIMIT' },
          unexpected: true,
        }
      case 'SLOT_CONFLICT':
      case 'STRIDE_MISMATCH':
      case 'EDGE_CANNOT_EXPOSE':
      case 'INVALID_OPTIONS':
        return { status: 'NO', text: `Mailbox unavailable on this server: ${e.message}`, code: { code: 'UNAVAILABLE' }, unexpected: true }
      case 'CORRUPT_UPDATE':
        return { status: 'NO', text: 'Mailbox data is corrupt on this server', code: { code: 'CORRUPTION' }, unexpected: true }
    }
  }
  return { status: 'NO', text: 'Internal server error, please try again', code: { code: 'SERVERBUG' }, unexpected: true }
}
