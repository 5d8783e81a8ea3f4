// `@mailweave/imap/conformance`: the IMAP backend contract as a vitest suite, run by every
// backend (MemoryBackend here, the node's NodeImapBackend in @mailweave/server). A separate
// entry point because it imports vitest, which the server itself never does.
export { imapBackendConformance } from './imapBackendConformance.ts'
export type { BackendFixture } from './imapBackendConformance.ts'
