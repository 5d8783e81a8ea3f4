// @mailweave/imap: the IMAP4rev1 server over a small backend interface. Exports what a
// deployment and a backend need; the wire layer, MIME parsing and the tracker are internal
// (tests import them from their files).
export { ImapServer } from './ImapServer.ts'
export type { ImapServerOptions } from './ImapServer.ts'
export type { Appended, AppendInput, FlagChange, ImapAccount, ImapBackend, ImapMailbox, ModSeqSource } from './ImapBackend.ts'
export { loginUpstream, spliceToUpstream, UpstreamError } from './ImapProxy.ts'
export type { ImapRoute, ProxiedConnection, UpstreamSession } from './ImapProxy.ts'
export { DurableMailbox } from './DurableMailbox.ts'
export type { MailboxStorage } from './DurableMailbox.ts'
export { ImapError, bad, no } from './ImapError.ts'
export type { PlainResponseCode } from './ImapError.ts'
export { ModSeqIndex } from './ModSeqIndex.ts'
export type { ModSeqIndexOptions } from './ModSeqIndex.ts'
export { MemoryBackend } from './MemoryBackend.ts'
export type { MemoryBackendOptions } from './MemoryBackend.ts'
export { MemoryEnvelopeStore } from './EnvelopeStore.ts'
export type { EnvelopeStore } from './EnvelopeStore.ts'
