export { openMailbox, MAILBOX_LOG } from './Mailbox.ts'
export type { Mailbox, OpenMailboxOptions, AppendOptions, MailboxStats, MessageInfo, MailboxInspection, BindingState } from './Mailbox.ts'
export type { MailboxView } from './MailboxView.ts'
export type { ViewEntry, ViewSnapshot } from './ViewSeq.ts'
export type { ViewChange } from './MailboxState.ts'
export { MailweaveError } from './MailweaveError.ts'
export type { MailweaveErrorCode } from './MailweaveError.ts'
export { MemoryBlobStore } from './BlobStore.ts'
export type { BlobStore } from './BlobStore.ts'
export { MemoryUpdateStore } from './UpdateStore.ts'
export type { UpdateStore } from './UpdateStore.ts'
export { MemoryMetaStore, META_KEY, checkMetaKey } from './MetaStore.ts'
export type { MetaStore } from './MetaStore.ts'
export { StorageError } from './StorageError.ts'
export type { StorageErrorCode } from './StorageError.ts'
export { applyUpdateChecked } from './applyUpdateChecked.ts'
export { checkEdgeUpdate } from './checkEdgeUpdate.ts'
export type { EdgeUpdateContext, EdgeDocKind } from './checkEdgeUpdate.ts'
export { isEdgeClientId, nodeClientId, edgeClientId } from './clientIds.ts'
export { readFacts } from './readFacts.ts'
export {
  ACCOUNT_LOG,
  INBOX_ID,
  accountFacts,
  isValidMailboxName,
  isValidMailboxId,
  parseAccountFact,
  parseAccountFacts,
  listAccountMailboxes,
  listSubscriptions,
} from './accountFacts.ts'
export type { AccountFact, MailboxFact, DeleteFact, SubscribeFact, MailboxEntry } from './accountFacts.ts'
export { listHeaders } from './listHeaders.ts'
export { deliveryKey } from './deliveryKey.ts'
export { DELIVERY_WINDOW_MS } from './facts.ts'
export type { ListHeaders } from './facts.ts'
export { RangeSet } from './RangeSet.ts'
export {
  USERS_DOC,
  isValidUser,
  accountDocName,
  mailboxDocName,
  mailboxDocPrefix,
  parseDocName,
  isMailboxDocName,
  docOwner,
} from './docNames.ts'
export type { DocName } from './docNames.ts'
export { isBlobKey } from './blobKey.ts'
export { EdgeCloseCode, isEdgeRejection } from './EdgeCloseCode.ts'
export { readMessageFact, messageFactsInUpdate } from './messageFactsInUpdate.ts'
export type { MessageFactInfo } from './messageFactsInUpdate.ts'
