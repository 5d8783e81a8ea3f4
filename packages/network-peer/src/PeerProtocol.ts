/**
 * The node-to-node replication protocol: pure, versioned frame codecs in the style of
 * y-protocols `sync.js`. One authenticated WebSocket per peer pair carries every
 * document and blob transfer, so every document frame names its document.
 *
 * Wire format of every frame (lib0 encoding):
 *   [protocolVersion varUint (= PROTOCOL_VERSION)][frameType varUint][fields of that type]
 * Byte strings are varUint8Array, strings varString (UTF-8), integers varUint, optional
 * fields a varUint flag (0 absent, 1 present) followed by the value.
 */
import { isBlobKey } from '@mailweave/core'
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import * as syncProtocol from 'y-protocols/sync'
import { ProtocolError } from './ProtocolError.ts'

/** The version this codec writes, and the only one it reads. */
export const PROTOCOL_VERSION = 1

/** Default upper bound on one encoded frame (64 MiB: a large message blob plus headroom). */
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024

/** Upper bound on names (document, node, epoch) and on nonce/proof bytes, in UTF-8 bytes. */
export const MAX_FIELD_BYTES = 1024

/** Upper bound on an ERROR frame's message, in UTF-8 bytes. */
export const MAX_ERROR_MESSAGE_BYTES = 4096

/** Wire codes of the frame types; stable across versions once published. */
export const FrameTypeCode = {
  hello: 0,
  challenge: 1,
  docSync: 2,
  docStateVectors: 3,
  syncRequest: 4,
  syncReply: 5,
  blobWant: 6,
  blobData: 7,
  blobMissing: 8,
  error: 9,
  ping: 10,
  pong: 11,
} as const

/** The discriminant of {@link Frame}. */
export type FrameType = keyof typeof FrameTypeCode

const frameTypeByCode = new Map<number, FrameType>(
  (Object.entries(FrameTypeCode) as Array<[FrameType, number]>).map(([type, code]) => [code, type]),
)

/**
 * A position in one node's change counter. Every change to any document at a node
 * (local or received) bumps the node's `seq`; `epoch` names the counter's lifetime and
 * changes whenever the counter could have gone back (lost state, restore from backup).
 */
export interface ChangeCursor {
  epoch: string
  seq: number
}

/**
 * Authentication handshake, symmetric. On open each side sends a CHALLENGE with a
 * fresh random nonce; each side answers the other's nonce with a HELLO whose `proof`
 * is HMAC-SHA256(sharedSecret, {@link helloProofMessage}(nonce, nodeId, slot)) (the
 * codec only carries the bytes). Until a valid HELLO arrived, a side must accept only
 * CHALLENGE, HELLO, ERROR, PING and PONG.
 *
 * `protocolVersion` is the highest version the sender speaks (the frame header says
 * which one this frame uses). `resume`, when present, is the cursor of the receiver's
 * change counter up to which the sender already holds all of the receiver's document
 * changes; the receiver answers with {@link DocStateVectorsFrame}s listing only what
 * changed after it.
 */
export interface HelloFrame {
  type: 'hello'
  nodeId: string
  slot: number
  protocolVersion: number
  proof: Uint8Array
  resume: ChangeCursor | undefined
}

/** The nonce the receiver must prove knowledge of the shared secret over (see {@link HelloFrame}). */
export interface ChallengeFrame {
  type: 'challenge'
  nonce: Uint8Array
}

/** A y-protocols sync message, decoded: step1 carries a state vector, step2 and update carry a Yjs update (v1). */
export type SyncMessage =
  { kind: 'step1'; stateVector: Uint8Array } | { kind: 'step2'; update: Uint8Array } | { kind: 'update'; update: Uint8Array }

/** One y-protocols sync message for document `docName`; the body is y-protocols' exact wire format. */
export interface DocSyncFrame {
  type: 'docSync'
  docName: string
  message: SyncMessage
}

/** One document's state vector in a {@link DocStateVectorsFrame}. */
export interface DocStateVector {
  docName: string
  stateVector: Uint8Array
}

/**
 * Catch-up after a partition, batched, costing what changed rather than what exists.
 *
 * Every node keeps a change counter ({@link ChangeCursor}): each change to a document,
 * local or received, bumps `seq` and stamps the document with it. Each node remembers,
 * per peer, the peer's cursor up to which it holds everything, and presents it in its
 * HELLO (`resume`). The peer then sends this frame: `entries` holds (docName, state
 * vector) for every document it changed after that cursor (all of them if the epoch
 * differs or no cursor was given) and `cursor` is its counter when it listed them.
 * The sender may send further such frames while connected (changes since its last
 * listing), which lets the receiver move its cursor forward.
 *
 * The receiver answers each entry as a batched sync step 1: a step2 with what the
 * sender lacks (only when it has structs the sender's state vector misses), and its
 * own step1, since the sender changed the document and only the sender's step2 brings
 * its deletions (deletions do not show in a state vector). Then it sends a
 * SYNC_REQUEST; the channel is ordered, so the SYNC_REPLY arrives after every step2
 * the sender wrote in answer, and the receiver then stores `cursor` for that peer.
 * Completeness: any state X holds that Y lacks lives in a document X changed after
 * Y's cursor for X, so X lists it, Y asks for it, and X's step2 delivers it. A cursor
 * that is never stored (connection lost mid-way) only makes the next listing longer.
 */
export interface DocStateVectorsFrame {
  type: 'docStateVectors'
  cursor: ChangeCursor
  entries: DocStateVector[]
}

/**
 * A barrier with an answer. The peer replies with a {@link SyncReplyFrame} carrying the
 * same `requestId` after processing every earlier frame on the socket, so the reply
 * proves those frames (for instance a reservation update) were integrated first: the
 * "verify before assigning" fast path. With a `stateVector`, the reply carries the
 * peer's state of `docName` that this state vector misses, as it was at that moment.
 * Without one, it is a pure barrier and `docName` may be empty.
 */
export interface SyncRequestFrame {
  type: 'syncRequest'
  requestId: number
  docName: string
  stateVector: Uint8Array | undefined
}

/** The answer to a {@link SyncRequestFrame}; `update` is present exactly when the request carried a state vector. */
export interface SyncReplyFrame {
  type: 'syncReply'
  requestId: number
  docName: string
  update: Uint8Array | undefined
}

/** Asks for blobs by lowercase hex SHA-256 (sent as 32 raw bytes each). */
export interface BlobWantFrame {
  type: 'blobWant'
  hashes: string[]
}

/** A blob's bytes; the receiver must verify that they hash to `hash` before storing. */
export interface BlobDataFrame {
  type: 'blobData'
  hash: string
  bytes: Uint8Array
}

/** The sender does not have the blob `hash`. */
export interface BlobMissingFrame {
  type: 'blobMissing'
  hash: string
}

/** A failure report; `code` is a {@link CloseCode} when the sender is about to close with it. */
export interface ErrorFrame {
  type: 'error'
  code: number
  message: string
}

/** Liveness probe; answered by a {@link PongFrame} with the same `id`. */
export interface PingFrame {
  type: 'ping'
  id: number
}

/** Answer to a {@link PingFrame}. */
export interface PongFrame {
  type: 'pong'
  id: number
}

/** Every frame of protocol version 1, discriminated by `type`. */
export type Frame =
  | HelloFrame
  | ChallengeFrame
  | DocSyncFrame
  | DocStateVectorsFrame
  | SyncRequestFrame
  | SyncReplyFrame
  | BlobWantFrame
  | BlobDataFrame
  | BlobMissingFrame
  | ErrorFrame
  | PingFrame
  | PongFrame

// ---- writing: invalid input is a local bug, reported as RangeError ----

const utf8 = new TextEncoder()
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
const HASH_BYTES = 32

const checkUint = (what: string, n: number): void => {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${what} must be a non-negative safe integer, got ${n}`)
}

const writeString = (encoder: encoding.Encoder, what: string, s: string, maxBytes: number): void => {
  // A lone surrogate would be written as U+FFFD and read back as a different string.
  if (/\p{Surrogate}/u.test(s)) throw new RangeError(`${what} is not well-formed UTF-16`)
  const bytes = utf8.encode(s)
  if (bytes.length > maxBytes) throw new RangeError(`${what} is ${bytes.length} bytes, limit ${maxBytes}`)
  encoding.writeVarUint8Array(encoder, bytes)
}

const writeBytes = (encoder: encoding.Encoder, what: string, bytes: Uint8Array, maxBytes = Infinity): void => {
  if (bytes.length > maxBytes) throw new RangeError(`${what} is ${bytes.length} bytes, limit ${maxBytes}`)
  encoding.writeVarUint8Array(encoder, bytes)
}

const writeOptionalBytes = (encoder: encoding.Encoder, what: string, bytes: Uint8Array | undefined): void => {
  encoding.writeVarUint(encoder, bytes === undefined ? 0 : 1)
  if (bytes !== undefined) writeBytes(encoder, what, bytes)
}

const writeHash = (encoder: encoding.Encoder, hash: string): void => {
  if (!isBlobKey(hash)) throw new RangeError(`blob hash must be 64 lowercase hex digits, got ${JSON.stringify(hash)}`)
  for (let i = 0; i < HASH_BYTES; i++) encoding.writeUint8(encoder, parseInt(hash.slice(2 * i, 2 * i + 2), 16))
}

const writeUint = (encoder: encoding.Encoder, what: string, n: number): void => {
  checkUint(what, n)
  encoding.writeVarUint(encoder, n)
}

const writeCursor = (encoder: encoding.Encoder, cursor: ChangeCursor): void => {
  writeString(encoder, 'cursor epoch', cursor.epoch, MAX_FIELD_BYTES)
  writeUint(encoder, 'cursor seq', cursor.seq)
}

/** Writes a y-protocols sync message body ([type][payload]) exactly as y-protocols does. */
export const writeSyncMessage = (encoder: encoding.Encoder, message: SyncMessage): void => {
  switch (message.kind) {
    case 'step1':
      encoding.writeVarUint(encoder, syncProtocol.messageYjsSyncStep1)
      writeBytes(encoder, 'state vector', message.stateVector)
      return
    case 'step2':
      encoding.writeVarUint(encoder, syncProtocol.messageYjsSyncStep2)
      writeBytes(encoder, 'update', message.update)
      return
    case 'update':
      encoding.writeVarUint(encoder, syncProtocol.messageYjsUpdate)
      writeBytes(encoder, 'update', message.update)
      return
  }
}

/**
 * Writes the header of a DOC_SYNC frame for `docName`; a y-protocols sync message body
 * must follow (y-protocols' `writeSyncStep1(encoder, doc)` etc. write exactly that).
 */
export const writeDocSyncHeader = (encoder: encoding.Encoder, docName: string): void => {
  encoding.writeVarUint(encoder, PROTOCOL_VERSION)
  encoding.writeVarUint(encoder, FrameTypeCode.docSync)
  writeString(encoder, 'docName', docName, MAX_FIELD_BYTES)
}

/**
 * Appends `frame` to `encoder` in the current protocol version. Throws RangeError (and
 * writes a partial frame: discard the encoder) when a field is out of range.
 */
export const writeFrame = (encoder: encoding.Encoder, frame: Frame): void => {
  if (frame.type === 'docSync') {
    writeDocSyncHeader(encoder, frame.docName)
    writeSyncMessage(encoder, frame.message)
    return
  }
  encoding.writeVarUint(encoder, PROTOCOL_VERSION)
  encoding.writeVarUint(encoder, FrameTypeCode[frame.type])
  switch (frame.type) {
    case 'hello':
      writeString(encoder, 'nodeId', frame.nodeId, MAX_FIELD_BYTES)
      writeUint(encoder, 'slot', frame.slot)
      writeUint(encoder, 'protocolVersion', frame.protocolVersion)
      writeBytes(encoder, 'proof', frame.proof, MAX_FIELD_BYTES)
      encoding.writeVarUint(encoder, frame.resume === undefined ? 0 : 1)
      if (frame.resume !== undefined) writeCursor(encoder, frame.resume)
      return
    case 'challenge':
      writeBytes(encoder, 'nonce', frame.nonce, MAX_FIELD_BYTES)
      return
    case 'docStateVectors':
      writeCursor(encoder, frame.cursor)
      encoding.writeVarUint(encoder, frame.entries.length)
      for (const entry of frame.entries) {
        writeString(encoder, 'docName', entry.docName, MAX_FIELD_BYTES)
        writeBytes(encoder, 'state vector', entry.stateVector)
      }
      return
    case 'syncRequest':
      writeUint(encoder, 'requestId', frame.requestId)
      writeString(encoder, 'docName', frame.docName, MAX_FIELD_BYTES)
      writeOptionalBytes(encoder, 'state vector', frame.stateVector)
      return
    case 'syncReply':
      writeUint(encoder, 'requestId', frame.requestId)
      writeString(encoder, 'docName', frame.docName, MAX_FIELD_BYTES)
      writeOptionalBytes(encoder, 'update', frame.update)
      return
    case 'blobWant':
      encoding.writeVarUint(encoder, frame.hashes.length)
      for (const hash of frame.hashes) writeHash(encoder, hash)
      return
    case 'blobData':
      writeHash(encoder, frame.hash)
      writeBytes(encoder, 'blob', frame.bytes)
      return
    case 'blobMissing':
      writeHash(encoder, frame.hash)
      return
    case 'error':
      writeUint(encoder, 'error code', frame.code)
      writeString(encoder, 'error message', frame.message, MAX_ERROR_MESSAGE_BYTES)
      return
    case 'ping':
    case 'pong':
      writeUint(encoder, `${frame.type} id`, frame.id)
      return
  }
}

/** Throws a `tooLarge` {@link ProtocolError} when `byteLength` exceeds `maxFrameBytes`. */
export const assertFrameSize = (byteLength: number, maxFrameBytes = DEFAULT_MAX_FRAME_BYTES): void => {
  if (byteLength > maxFrameBytes) {
    throw new ProtocolError('tooLarge', `frame of ${byteLength} bytes exceeds the limit of ${maxFrameBytes}`)
  }
}

/** `frame` as one WebSocket message; throws `tooLarge` when it would exceed `maxFrameBytes`. */
export const encodeFrame = (frame: Frame, maxFrameBytes = DEFAULT_MAX_FRAME_BYTES): Uint8Array => {
  const encoder = encoding.createEncoder()
  writeFrame(encoder, frame)
  assertFrameSize(encoding.length(encoder), maxFrameBytes)
  return encoding.toUint8Array(encoder)
}

// ---- reading: untrusted input, every failure is a ProtocolError ----

const malformed = (message: string): ProtocolError => new ProtocolError('malformed', message)

const remaining = (decoder: decoding.Decoder): number => decoder.arr.length - decoder.pos

const readUint = (decoder: decoding.Decoder): number => {
  const n = decoding.readVarUint(decoder)
  // lib0 reads up to 2^56 - 1; beyond 2^53 the value is not what the sender meant.
  if (!Number.isSafeInteger(n)) throw malformed(`integer ${n} exceeds the safe range`)
  return n
}

// Copies, so a frame never aliases (and never pins) the socket's receive buffer.
const readBytes = (decoder: decoding.Decoder, what: string, maxBytes = Infinity): Uint8Array => {
  const length = readUint(decoder)
  if (length > maxBytes) throw malformed(`${what} is ${length} bytes, limit ${maxBytes}`)
  return decoding.readUint8Array(decoder, length).slice()
}

const readString = (decoder: decoding.Decoder, what: string, maxBytes: number): string => {
  const length = readUint(decoder)
  if (length > maxBytes) throw malformed(`${what} is ${length} bytes, limit ${maxBytes}`)
  try {
    return utf8Strict.decode(decoding.readUint8Array(decoder, length))
  } catch (cause) {
    throw new ProtocolError('malformed', `${what} is not valid UTF-8`, { cause })
  }
}

const readFlag = (decoder: decoding.Decoder, what: string): boolean => {
  const flag = readUint(decoder)
  if (flag > 1) throw malformed(`${what} presence flag must be 0 or 1, got ${flag}`)
  return flag === 1
}

const readOptionalBytes = (decoder: decoding.Decoder, what: string): Uint8Array | undefined =>
  readFlag(decoder, what) ? readBytes(decoder, what) : undefined

const toHex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')

const readHash = (decoder: decoding.Decoder): string => toHex(decoding.readUint8Array(decoder, HASH_BYTES))

const readCount = (decoder: decoding.Decoder, what: string, minEntryBytes: number): number => {
  const count = readUint(decoder)
  // Refuse impossible counts before looping, so a forged count costs nothing.
  if (count * minEntryBytes > remaining(decoder)) throw malformed(`${what} count ${count} exceeds the frame`)
  return count
}

const readCursor = (decoder: decoding.Decoder): ChangeCursor => {
  const epoch = readString(decoder, 'cursor epoch', MAX_FIELD_BYTES)
  return { epoch, seq: readUint(decoder) }
}

/** Reads a y-protocols sync message body ([type][payload]); bytes are copied out of the decoder. */
export const readSyncMessage = (decoder: decoding.Decoder): SyncMessage => {
  try {
    const type = readUint(decoder)
    switch (type) {
      case syncProtocol.messageYjsSyncStep1:
        return { kind: 'step1', stateVector: readBytes(decoder, 'state vector') }
      case syncProtocol.messageYjsSyncStep2:
        return { kind: 'step2', update: readBytes(decoder, 'update') }
      case syncProtocol.messageYjsUpdate:
        return { kind: 'update', update: readBytes(decoder, 'update') }
      default:
        throw malformed(`unknown sync message type ${type}`)
    }
  } catch (cause) {
    throw asProtocolError(cause, 'malformed sync message')
  }
}

const readBody = (decoder: decoding.Decoder, type: FrameType): Frame => {
  switch (type) {
    case 'hello': {
      const nodeId = readString(decoder, 'nodeId', MAX_FIELD_BYTES)
      const slot = readUint(decoder)
      const protocolVersion = readUint(decoder)
      const proof = readBytes(decoder, 'proof', MAX_FIELD_BYTES)
      const resume = readFlag(decoder, 'resume') ? readCursor(decoder) : undefined
      return { type, nodeId, slot, protocolVersion, proof, resume }
    }
    case 'challenge':
      return { type, nonce: readBytes(decoder, 'nonce', MAX_FIELD_BYTES) }
    case 'docSync': {
      const docName = readString(decoder, 'docName', MAX_FIELD_BYTES)
      return { type, docName, message: readSyncMessage(decoder) }
    }
    case 'docStateVectors': {
      const cursor = readCursor(decoder)
      const count = readCount(decoder, 'state vector', 2)
      const entries: DocStateVector[] = []
      for (let i = 0; i < count; i++) {
        const docName = readString(decoder, 'docName', MAX_FIELD_BYTES)
        entries.push({ docName, stateVector: readBytes(decoder, 'state vector') })
      }
      return { type, cursor, entries }
    }
    case 'syncRequest': {
      const requestId = readUint(decoder)
      const docName = readString(decoder, 'docName', MAX_FIELD_BYTES)
      return { type, requestId, docName, stateVector: readOptionalBytes(decoder, 'state vector') }
    }
    case 'syncReply': {
      const requestId = readUint(decoder)
      const docName = readString(decoder, 'docName', MAX_FIELD_BYTES)
      return { type, requestId, docName, update: readOptionalBytes(decoder, 'update') }
    }
    case 'blobWant': {
      const count = readCount(decoder, 'blob hash', HASH_BYTES)
      const hashes: string[] = []
      for (let i = 0; i < count; i++) hashes.push(readHash(decoder))
      return { type, hashes }
    }
    case 'blobData': {
      const hash = readHash(decoder)
      return { type, hash, bytes: readBytes(decoder, 'blob') }
    }
    case 'blobMissing':
      return { type, hash: readHash(decoder) }
    case 'error': {
      const code = readUint(decoder)
      return { type, code, message: readString(decoder, 'error message', MAX_ERROR_MESSAGE_BYTES) }
    }
    case 'ping':
    case 'pong':
      return { type, id: readUint(decoder) }
  }
}

const asProtocolError = (cause: unknown, context: string): ProtocolError =>
  cause instanceof ProtocolError
    ? cause
    : new ProtocolError('malformed', `${context}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause })

/**
 * Reads one frame from `decoder`'s position. Throws {@link ProtocolError}: kind
 * `versionMismatch` for another protocol version, `malformed` for anything truncated,
 * garbled or unknown; never another error type. Does not check for trailing bytes
 * (use {@link decodeFrame} for a whole WebSocket message).
 */
export const readFrame = (decoder: decoding.Decoder): Frame => {
  try {
    const version = readUint(decoder)
    if (version !== PROTOCOL_VERSION) {
      throw new ProtocolError('versionMismatch', `protocol version ${version} is not supported (this node speaks ${PROTOCOL_VERSION})`)
    }
    const code = readUint(decoder)
    const type = frameTypeByCode.get(code)
    if (type === undefined) throw malformed(`unknown frame type ${code}`)
    return readBody(decoder, type)
  } catch (cause) {
    throw asProtocolError(cause, 'malformed frame')
  }
}

/**
 * Decodes one whole WebSocket message into a frame: enforces `maxFrameBytes`
 * (`tooLarge`), then {@link readFrame}, then rejects trailing bytes (`malformed`).
 */
export const decodeFrame = (bytes: Uint8Array, maxFrameBytes = DEFAULT_MAX_FRAME_BYTES): Frame => {
  assertFrameSize(bytes.length, maxFrameBytes)
  const decoder = decoding.createDecoder(bytes)
  const frame = readFrame(decoder)
  if (decoding.hasContent(decoder)) throw malformed(`${remaining(decoder)} trailing bytes after a ${frame.type} frame`)
  return frame
}

/**
 * The exact bytes a HELLO proof authenticates: the challenge nonce bound to the
 * claimed identity, so a proof cannot be replayed under another node id or slot.
 * proof = HMAC-SHA256(sharedSecret, helloProofMessage(nonce, nodeId, slot)).
 */
export const helloProofMessage = (nonce: Uint8Array, nodeId: string, slot: number): Uint8Array => {
  const encoder = encoding.createEncoder()
  writeString(encoder, 'domain', 'mailweave-peer-hello', MAX_FIELD_BYTES)
  encoding.writeVarUint(encoder, PROTOCOL_VERSION)
  writeBytes(encoder, 'nonce', nonce, MAX_FIELD_BYTES)
  writeString(encoder, 'nodeId', nodeId, MAX_FIELD_BYTES)
  writeUint(encoder, 'slot', slot)
  return encoding.toUint8Array(encoder)
}
