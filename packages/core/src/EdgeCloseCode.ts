/**
 * WebSocket close codes of the edge endpoint (`/edge/<doc>`), shared by the node that
 * closes and the browser that reacts (4000-4999 are RFC 6455 application codes).
 */
export const EdgeCloseCode = {
  /** A message that is not y-websocket sync/awareness, or does not decode. */
  PROTOCOL_ERROR: 4000,
  /** An update the edge may not write (checkEdgeUpdate refused it). */
  UPDATE_REJECTED: 4003,
  /** A message over the node's size limit. */
  TOO_LARGE: 4004,
  /** RFC 6455's code for a message over the node's `maxMessageBytes`, sent by ws before it buffers it whole. */
  MESSAGE_TOO_BIG: 1009,
  /** The node is stopping; reconnecting later is right. */
  SHUTTING_DOWN: 1001,
} as const

/** A close code value from {@link EdgeCloseCode}. */
export type EdgeCloseCode = (typeof EdgeCloseCode)[keyof typeof EdgeCloseCode]

const REJECTIONS: ReadonlySet<number> = new Set([
  EdgeCloseCode.PROTOCOL_ERROR,
  EdgeCloseCode.UPDATE_REJECTED,
  EdgeCloseCode.TOO_LARGE,
  EdgeCloseCode.MESSAGE_TOO_BIG,
])

/**
 * Whether a close with `code` means the node refused what this replica sent: sending the
 * same again would be refused again, so a client must not reconnect in a loop.
 */
export const isEdgeRejection = (code: number): boolean => REJECTIONS.has(code)
