/**
 * WebSocket close codes of the peer protocol: the one place that names them.
 * 1000/1001 are the standard ones; 4000-4999 are reserved by RFC 6455 for applications.
 */
export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  /** Malformed, truncated or unexpected frame. */
  PROTOCOL_ERROR: 4000,
  /** The HELLO proof did not match the challenge, or no HELLO came in time. */
  AUTH_FAILED: 4001,
  /** The frame header carries a protocol version this node does not speak. */
  VERSION_MISMATCH: 4002,
  /** A Yjs update or state vector could not be decoded or integrated. */
  UPDATE_REJECTED: 4003,
  /** A frame exceeds the negotiated maximum size. */
  TOO_LARGE: 4004,
  /** An authenticated peer asked for something it may not have. */
  FORBIDDEN: 4005,
  /** Two node ids claim the same slot: a configuration error, allocation must stop. */
  SLOT_CONFLICT: 4006,
  /** Both peers dialled each other; the surplus socket of the pair is closed. */
  DUPLICATE_CONNECTION: 4007,
} as const

/** A close code value from {@link CloseCode}. */
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode]

/** Every way the peer protocol can fail at its boundary; each maps to exactly one close code. */
export type ProtocolErrorKind =
  'malformed' | 'authFailed' | 'versionMismatch' | 'updateRejected' | 'tooLarge' | 'forbidden' | 'slotConflict' | 'duplicateConnection'

const closeCodes: Record<ProtocolErrorKind, CloseCode> = {
  malformed: CloseCode.PROTOCOL_ERROR,
  authFailed: CloseCode.AUTH_FAILED,
  versionMismatch: CloseCode.VERSION_MISMATCH,
  updateRejected: CloseCode.UPDATE_REJECTED,
  tooLarge: CloseCode.TOO_LARGE,
  forbidden: CloseCode.FORBIDDEN,
  slotConflict: CloseCode.SLOT_CONFLICT,
  duplicateConnection: CloseCode.DUPLICATE_CONNECTION,
}

/** The close code a connection must use when it fails with `kind` (total over every kind). */
export const closeCodeFor = (kind: ProtocolErrorKind): CloseCode => closeCodes[kind]

/**
 * A typed failure of the peer protocol. Reading untrusted bytes never throws anything
 * else: every decoder error is wrapped, with the original kept as `cause`.
 */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError'
  /** The close code to end the connection with. */
  readonly closeCode: CloseCode

  constructor(
    readonly kind: ProtocolErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
    this.closeCode = closeCodeFor(kind)
  }
}

// RFC 6455 §5.5: a close frame's payload is at most 125 bytes, 2 of which are the code.
const MAX_CLOSE_REASON_BYTES = 123

/** `error.message` cut to fit a WebSocket close reason (≤ 123 UTF-8 bytes, never a split character). */
export const closeReason = (error: Error): string => {
  const encoder = new TextEncoder()
  // A code point is at least one byte, so 123 of them is a safe start to trim from.
  const chars = Array.from(error.message).slice(0, MAX_CLOSE_REASON_BYTES)
  while (encoder.encode(chars.join('')).length > MAX_CLOSE_REASON_BYTES) chars.pop()
  return chars.join('')
}
