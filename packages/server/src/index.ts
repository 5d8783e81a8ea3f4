// @mailweave/server: a mailweave node. Exports what an operator's program, the CLI and the
// end-to-end tests use; the node's parts (registry, mail store, edge endpoint, HTTP API, IMAP
// backend) are internal (tests import them from their files).
export { MailNode } from './MailNode.ts'
export type { ImapConfig, LmtpConfig, NodeConfig, PeerConfig } from './NodeConfig.ts'
export type { NodeStorage, SeparateBlobStore, StorageStats } from './NodeStorage.ts'
export { localOwnership, PEERS_ROLE } from './AccountOwnership.ts'
export type { AccountOwnership, AccountRoute, ProcessAddresses } from './AccountOwnership.ts'
export type { MailboxHandle } from './MailStore.ts'
export { adminToken } from './HttpApi.ts'
export { NodeError } from './NodeError.ts'
export type { NodeErrorCode } from './NodeError.ts'
export { silentLogger } from './Logger.ts'
export type { Logger } from './Logger.ts'
