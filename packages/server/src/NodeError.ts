/** Failure kinds at the node's boundary; mapped to HTTP statuses in one place (HttpApi). */
export type NodeErrorCode =
  'BAD_REQUEST' | 'UNAUTHORIZED' | 'FORBIDDEN' | 'NOT_FOUND' | 'CONFLICT' | 'TOO_LARGE' | 'UNAVAILABLE' | 'STORAGE'

/** A typed error of the node (config, API, storage); `message` is meant for people. */
export class NodeError extends Error {
  override readonly name = 'NodeError'
  constructor(
    readonly code: NodeErrorCode,
    message: string,
  ) {
    super(message)
  }
}
