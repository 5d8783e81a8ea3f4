// @mailweave/imap: IMAP front end. Server over a small backend interface, and the wire layer
// (framing, command parsing, response encoding) it is built on.
export { ImapServer } from './ImapServer.ts'
export type { ImapServerOptions } from './ImapServer.ts'
export type { Appended, AppendInput, FlagChange, ImapAccount, ImapBackend, ImapMailbox, ModSeqSource } from './ImapBackend.ts'
export { DurableMailbox } from './DurableMailbox.ts'
export type { MailboxStorage } from './DurableMailbox.ts'
export { ImapError, bad, errorResponse, no } from './ImapError.ts'
export type { ErrorResponse, PlainResponseCode } from './ImapError.ts'
export { ModSeqIndex } from './ModSeqIndex.ts'
export type { ModSeqIndexOptions } from './ModSeqIndex.ts'
export { MemoryBackend } from './MemoryBackend.ts'
export { MemoryEnvelopeStore } from './EnvelopeStore.ts'
export type { EnvelopeStore } from './EnvelopeStore.ts'
export type { MemoryBackendOptions } from './MemoryBackend.ts'
export { MailboxTracker } from './MailboxTracker.ts'
export type { TrackerEvent } from './MailboxTracker.ts'
export { parseMessage } from './mime/parseMessage.ts'
export type { MimePart, ParsedMessage } from './mime/parseMessage.ts'
export { CommandReader, isIdleDone, parseTag } from './wire/CommandReader.ts'
export type { CommandFrame, CommandReaderOptions, ReaderError, ReaderErrorCode, ReaderEvent } from './wire/CommandReader.ts'
export { parseCommand } from './wire/parseCommand.ts'
export type { ParseFailure, ParseOptions, ParseResult } from './wire/parseCommand.ts'
export type {
  AppendCommand, AppendMessage, AuthenticateCommand, BodySection, Command, CopyCommand, EnableCommand, ExpungeCommand,
  FetchAttribute, FetchCommand, FetchItem, IdCommand, ListCommand, LoginCommand, LsubCommand, MailboxCommand, ModSeq,
  QresyncParams, RenameCommand, SearchCommand, SearchKey, SelectCommand, SimpleCommand, StatusCommand, StatusItem, StoreCommand,
} from './wire/Command.ts'
export { SequenceSet } from './wire/SequenceSet.ts'
export type { SequenceRange } from './wire/SequenceSet.ts'
export { decodeMutf7, encodeMutf7 } from './wire/mutf7.ts'
export { formatDateTime, parseDateTime, parseSearchDate } from './wire/dateTime.ts'
export {
  NIL, atom, dateTime, encodeBodyStructure, encodeContinuation, encodeEnvelope, encodeFetch, preEncode, encodeResponseCode, encodeTagged,
  encodeToken, encodeUntagged, encodeUntaggedStatus, fetchItemResponseName, flagList, list, literal, mailboxName, nstr, num,
  sequenceSet, str,
} from './wire/encode.ts'
export type { EncodeOptions, ResponseCode, Token } from './wire/encode.ts'
export type { Address, BodyPart, BodyStructure, Disposition, Envelope, MultipartBody } from './wire/BodyStructure.ts'
