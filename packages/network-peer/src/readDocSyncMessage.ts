/**
 * Pure helpers that apply protocol frames to a Y.Doc, in the style of y-protocols
 * `sync.js`, but safe on untrusted bytes: a corrupt update is rejected with a typed
 * {@link ProtocolError} before it can touch the document.
 */
import type * as decoding from 'lib0/decoding'
import type * as encoding from 'lib0/encoding'
import * as Y from 'yjs'
import type { DocStateVectorsFrame, DocSyncFrame, SyncMessage, SyncReplyFrame, SyncRequestFrame } from './PeerProtocol.ts'
import { readSyncMessage, writeDocSyncHeader, writeSyncMessage } from './PeerProtocol.ts'
import { ProtocolError } from './ProtocolError.ts'

const describe = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

/**
 * Decodes `stateVector` as a Yjs state vector; throws an `updateRejected`
 * {@link ProtocolError} when it is not one.
 */
export const checkStateVector = (stateVector: Uint8Array): Map<number, number> => {
  try {
    return Y.decodeStateVector(stateVector)
  } catch (cause) {
    throw new ProtocolError('updateRejected', `corrupt state vector: ${describe(cause)}`, { cause })
  }
}

/**
 * Applies a Yjs (v1) update from a peer. The update is fully decoded first: bytes that
 * do not decode throw an `updateRejected` {@link ProtocolError} and leave `doc`
 * untouched. An update that decodes but fails during integration (or an observer that
 * throws) is reported the same way, with the original error as `cause`; Yjs may then
 * have integrated part of it.
 */
export const applyPeerUpdate = (doc: Y.Doc, update: Uint8Array, origin: unknown): void => {
  try {
    Y.decodeUpdate(update)
  } catch (cause) {
    throw new ProtocolError('updateRejected', `corrupt update: ${describe(cause)}`, { cause })
  }
  try {
    Y.applyUpdate(doc, update, origin)
  } catch (cause) {
    throw new ProtocolError('updateRejected', `update failed to integrate: ${describe(cause)}`, { cause })
  }
}

/**
 * Applies one sync message to `doc` and returns the message to send back, if any:
 * step1 is answered by the step2 with what the sender's state vector misses; step2 and
 * update are applied (via {@link applyPeerUpdate}) and need no answer.
 */
export const applySyncMessage = (message: SyncMessage, doc: Y.Doc, origin: unknown): SyncMessage | undefined => {
  switch (message.kind) {
    case 'step1':
      checkStateVector(message.stateVector)
      return { kind: 'step2', update: Y.encodeStateAsUpdate(doc, message.stateVector) }
    case 'step2':
    case 'update':
      applyPeerUpdate(doc, message.update, origin)
      return undefined
  }
}

/**
 * The y-protocols `readSyncMessage` of this protocol: reads a sync message body from
 * `decoder` (the part of a DOC_SYNC frame after the document name), applies it to
 * `doc`, and writes the reply body, if any, to `encoder` (prefix it with
 * {@link writeDocSyncHeader}; send it only when this returns 'step1'). Returns the
 * kind of message read. Throws {@link ProtocolError} on malformed input, never
 * touching `doc` for bytes that do not decode.
 */
export const readDocSyncMessage = (
  decoder: decoding.Decoder,
  encoder: encoding.Encoder,
  doc: Y.Doc,
  origin: unknown,
): SyncMessage['kind'] => {
  const message = readSyncMessage(decoder)
  const reply = applySyncMessage(message, doc, origin)
  if (reply !== undefined) writeSyncMessage(encoder, reply)
  return message.kind
}

/** Applies a decoded DOC_SYNC frame to `doc` (the caller's doc for `frame.docName`); returns the reply frame, if any. */
export const applyDocSync = (frame: DocSyncFrame, doc: Y.Doc, origin: unknown): DocSyncFrame | undefined => {
  const reply = applySyncMessage(frame.message, doc, origin)
  return reply === undefined ? undefined : { type: 'docSync', docName: frame.docName, message: reply }
}

/** A DOC_SYNC step1 frame announcing `doc`'s state vector. */
export const docSyncStep1 = (docName: string, doc: Y.Doc): DocSyncFrame => ({
  type: 'docSync',
  docName,
  message: { kind: 'step1', stateVector: Y.encodeStateVector(doc) },
})

/** A DOC_SYNC update frame carrying `update` (typically from `doc.on('update')`). */
export const docSyncUpdate = (docName: string, update: Uint8Array): DocSyncFrame => ({
  type: 'docSync',
  docName,
  message: { kind: 'update', update },
})

/** Writes a whole DOC_SYNC step1 frame for `doc` to `encoder`, like y-protocols' `writeSyncStep1`. */
export const writeDocSyncStep1 = (encoder: encoding.Encoder, docName: string, doc: Y.Doc): void => {
  writeDocSyncHeader(encoder, docName)
  writeSyncMessage(encoder, { kind: 'step1', stateVector: Y.encodeStateVector(doc) })
}

/** Writes a whole DOC_SYNC update frame to `encoder`, like y-protocols' `writeUpdate`. */
export const writeDocUpdate = (encoder: encoding.Encoder, docName: string, update: Uint8Array): void => {
  writeDocSyncHeader(encoder, docName)
  writeSyncMessage(encoder, { kind: 'update', update })
}

/**
 * The answer to a SYNC_REQUEST, computed after every earlier frame was applied:
 * `doc`'s state that the request's state vector misses, or a bare acknowledgement for a
 * pure barrier. `doc` may be undefined only for a pure barrier or a document this node
 * does not hold (then the reply carries an empty update).
 */
export const answerSyncRequest = (frame: SyncRequestFrame, doc: Y.Doc | undefined): SyncReplyFrame => {
  if (frame.stateVector === undefined) return { type: 'syncReply', requestId: frame.requestId, docName: frame.docName, update: undefined }
  checkStateVector(frame.stateVector)
  const update = doc === undefined ? Y.encodeStateAsUpdate(new Y.Doc()) : Y.encodeStateAsUpdate(doc, frame.stateVector)
  return { type: 'syncReply', requestId: frame.requestId, docName: frame.docName, update }
}

/**
 * The answers to a DOC_STATE_VECTORS frame (see its doc comment for the catch-up
 * design): per listed document this node holds, a step2 when it has structs the peer's
 * state vector misses, then its own step1. Documents `getDoc` returns undefined for are
 * not replicated here and are skipped. The caller sends these, then a SYNC_REQUEST,
 * and stores `frame.cursor` for the peer once the reply arrives.
 */
export const answerDocStateVectors = (frame: DocStateVectorsFrame, getDoc: (docName: string) => Y.Doc | undefined): DocSyncFrame[] => {
  const answers: DocSyncFrame[] = []
  for (const { docName, stateVector } of frame.entries) {
    const doc = getDoc(docName)
    if (doc === undefined) continue
    const theirs = checkStateVector(stateVector)
    const mine = Y.decodeStateVector(Y.encodeStateVector(doc))
    const theyLack = [...mine].some(([client, clock]) => clock > (theirs.get(client) ?? 0))
    if (theyLack) answers.push({ type: 'docSync', docName, message: { kind: 'step2', update: Y.encodeStateAsUpdate(doc, stateVector) } })
    answers.push(docSyncStep1(docName, doc))
  }
  return answers
}
