/** Stable codes of {@link EdgeError}. */
export type EdgeErrorCode =
  /** The node refused the credentials or the token (HTTP 401/403). */
  | 'UNAUTHORIZED'
  /** The account is offline (explicit switch) or the node cannot be reached. */
  | 'OFFLINE'
  /** The node answered with an unexpected HTTP status. */
  | 'HTTP'
  /** Bytes whose SHA-256 differs from the message's hash (a corrupt cache or a lying node). */
  | 'CORRUPT_BODY'
  /** No mailbox with that id or name in the account. */
  | 'UNKNOWN_MAILBOX'
  /** No message with that guid in the mailbox (at this replica). */
  | 'UNKNOWN_MESSAGE'
  /** A malformed argument (flag name, raw bytes, date). */
  | 'INVALID_ARGUMENT'
  /** IndexedDB failed (quota, blocked, private mode). */
  | 'STORAGE'
  /** The account or mailbox was closed. */
  | 'CLOSED'
  /** Bad options passed by the caller. */
  | 'INVALID_OPTIONS'

/**
 * The one error type `@mailweave/browser` throws at its boundary. `code` is stable and
 * meant for programs; `message` is for people; `status` is the HTTP status when a node
 * answered.
 */
export class EdgeError extends Error {
  override readonly name = 'EdgeError'

  constructor(
    readonly code: EdgeErrorCode,
    message: string,
    readonly status?: number,
  ) {
    super(message)
  }
}
