/**
 * A reply an LMTP client should see for one recipient: `temporary` failures (4xx) make
 * the MTA keep the message and retry, `permanent` ones (5xx) make it bounce. Backends
 * throw it; {@link lmtpReply} maps every error to a reply in one place.
 */
export class LmtpError extends Error {
  override readonly name = 'LmtpError'
  constructor(
    /** SMTP reply code: 4xx temporary, 5xx permanent. */
    readonly code: number,
    message: string,
  ) {
    super(message)
    if (!Number.isInteger(code) || code < 400 || code > 599) throw new RangeError(`LMTP error code must be 4xx or 5xx, got ${code}`)
  }

  get temporary(): boolean {
    return this.code < 500
  }
}

/** 550: no such user (permanent). */
export const noSuchUser = (address: string) => new LmtpError(550, `no such user here: ${address}`)
/** 552: the message is larger than the mailbox takes (permanent). */
export const tooLarge = (message: string) => new LmtpError(552, message)
/** 451: a local failure; the MTA should try again later (temporary). */
export const tryLater = (message: string) => new LmtpError(451, message)

/**
 * The reply for an error thrown while delivering to one recipient: an LmtpError as it
 * is, anything else a temporary failure (451), so a message is never bounced for an
 * error of ours that a retry may not meet.
 */
export function lmtpReply(e: unknown): { code: number; message: string } {
  if (e instanceof LmtpError) return { code: e.code, message: e.message }
  return { code: 451, message: 'local error in processing, try again later' }
}
