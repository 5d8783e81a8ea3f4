// @mailweave/lmtp: LMTP delivery (RFC 2033) over a small backend interface.
export { LmtpServer, badContent } from './LmtpServer.ts'
export type { LmtpServerOptions } from './LmtpServer.ts'
export type { Delivery, LmtpBackend, Recipient } from './LmtpBackend.ts'
export { LmtpError, lmtpReply, noSuchUser, tooLarge, tryLater } from './LmtpError.ts'
export { MemoryLmtpBackend } from './MemoryLmtpBackend.ts'
export { parseRecipient } from './parseRecipient.ts'
export { deliveryHeaders, rfc5322Date } from './deliveryHeaders.ts'
export type { TraceInfo } from './deliveryHeaders.ts'
