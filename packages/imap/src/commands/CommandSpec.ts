import type { ImapSession } from '../ImapSession.ts'
import type { Command } from '../wire/Command.ts'
import type { ResponseCode } from '../wire/encode.ts'

/** The connection states of RFC 3501 3 (logout is the closing connection itself). */
export type SessionState = 'notAuthenticated' | 'authenticated' | 'selected'

/** What a successful command answers in its tagged OK. */
export interface CommandResult {
  readonly text?: string
  readonly code?: ResponseCode
}

/**
 * One command's implementation. `run` writes untagged responses through the session and
 * returns the tagged OK's text and code, or throws (an `ImapError` for NO/BAD); the session
 * then delivers pending mailbox notifications and writes the tagged response.
 */
export interface CommandSpec<C extends Command> {
  /** States in which the command is valid; elsewhere it gets BAD. */
  readonly states: readonly SessionState[]
  /** Whether EXPUNGE may be sent after it (RFC 3501 7.4.1: not after FETCH, STORE, SEARCH); default yes. */
  readonly expungeAllowed?: (cmd: C) => boolean
  /** False for commands after which no notifications are due (they send their own). */
  readonly notifies?: boolean
  run(session: ImapSession, cmd: C): Promise<CommandResult | void>
}

/** Every state but "not authenticated". */
export const AUTHENTICATED: readonly SessionState[] = ['authenticated', 'selected']
/** Only while a mailbox is selected. */
export const SELECTED: readonly SessionState[] = ['selected']
/** Any state. */
export const ANY: readonly SessionState[] = ['notAuthenticated', 'authenticated', 'selected']
