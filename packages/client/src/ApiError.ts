/** Stable codes of {@link ApiError}. */
export type ApiErrorCode =
  /** The node cannot be reached (connection refused, DNS, network down). */
  | 'OFFLINE'
  /** The node refused the credentials or the token (HTTP 401/403). */
  | 'UNAUTHORIZED'
  /** The node answered with another unexpected HTTP status. */
  | 'HTTP'

/**
 * The one error type of the HTTP API client. `message` names the call, the status and the
 * node's own explanation; `status` is the HTTP status when the node answered, `nodeCode`
 * the node's error code (e.g. `NOT_FOUND`, `TOO_LARGE`) when it sent one.
 */
export class ApiError extends Error {
  override readonly name = 'ApiError'

  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly status?: number,
    readonly nodeCode?: string,
  ) {
    super(message)
  }
}
