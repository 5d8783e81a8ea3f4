export { CloseCode, ProtocolError, closeCodeFor, closeReason } from './ProtocolError.ts'
export type { ProtocolErrorKind } from './ProtocolError.ts'
export {
  DEFAULT_MAX_FRAME_BYTES,
  FrameTypeCode,
  MAX_ERROR_MESSAGE_BYTES,
  MAX_FIELD_BYTES,
  PROTOCOL_VERSION,
  assertFrameSize,
  decodeFrame,
  encodeFrame,
  helloProofMessage,
  readFrame,
  readSyncMessage,
  writeDocSyncHeader,
  writeFrame,
  writeSyncMessage,
} from './PeerProtocol.ts'
export type {
  BlobDataFrame,
  BlobMissingFrame,
  BlobWantFrame,
  ChallengeFrame,
  ChangeCursor,
  DocStateVector,
  DocStateVectorsFrame,
  DocSyncFrame,
  ErrorFrame,
  Frame,
  FrameType,
  HelloFrame,
  PingFrame,
  PongFrame,
  SyncMessage,
  SyncReplyFrame,
  SyncRequestFrame,
} from './PeerProtocol.ts'
export {
  answerDocStateVectors,
  answerSyncRequest,
  applyDocSync,
  applyPeerUpdate,
  applySyncMessage,
  checkStateVector,
  docSyncStep1,
  docSyncUpdate,
  readDocSyncMessage,
  writeDocSyncStep1,
  writeDocUpdate,
} from './readDocSyncMessage.ts'
export { MemoryPeerHost } from './MemoryPeerHost.ts'
export type { LogLine, MemoryPeerHostOptions } from './MemoryPeerHost.ts'
export type { OpenedDoc, PeerHost, PeerLogLevel } from './PeerHost.ts'
export { PeerLink } from './PeerLink.ts'
export type { LinkRole } from './PeerLink.ts'
export { PeerNetwork } from './PeerNetwork.ts'
export type { PeerConfig, PeerNetworkOptions, PeerState, PeerStatus, VerifyResult } from './PeerNetwork.ts'
