import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import WebSocket from 'ws'
import * as Y from 'yjs'
import type { DocCache } from './DocCache.ts'
import type { PeerHost, PeerLogLevel } from './PeerHost.ts'
import type { BlobDataFrame, BlobMissingFrame, ChangeCursor, DocStateVector, Frame, HelloFrame, SyncReplyFrame } from './PeerProtocol.ts'
import { PROTOCOL_VERSION, decodeFrame, encodeFrame, helloProofMessage } from './PeerProtocol.ts'
import { ProtocolError, closeReason } from './ProtocolError.ts'
import { answerDocStateVectors, answerSyncRequest, applyDocSync, applyPeerUpdate } from './readDocSyncMessage.ts'

/** RFC 6455 "internal error": the node itself failed (storage), not the peer. */
const INTERNAL_ERROR = 1011
/** How long a closing link waits for the peer's close frame before dropping the socket. */
const CLOSE_GRACE_MS = 500
/** Documents per DOC_STATE_VECTORS frame. */
const LISTING_CHUNK = 256
/** Inbound frames queued before the socket is paused (and resumed below the low mark). */
const QUEUE_HIGH = 256
const QUEUE_LOW = 64
const NONCE_BYTES = 32
const PROOF_BYTES = 32

/** Which side opened the socket. */
export type LinkRole = 'dial' | 'accept'

/** What a {@link PeerLink} needs from its network (internal to the package). */
export interface LinkEnv {
  readonly host: PeerHost
  readonly secret: Uint8Array
  readonly maxFrameBytes: number
  readonly handshakeTimeoutMs: number
  readonly pingIntervalMs: number
  readonly pingTimeoutMs: number
  readonly cursorRefreshMs: number
  readonly relay: boolean
  readonly docs: DocCache
  /** Called once the peer's HELLO is verified: the error to close with when the peer may not connect. */
  admit(link: PeerLink, hello: HelloFrame): ProtocolError | undefined
  /** The link is authenticated (both HELLOs exchanged); called before any catch-up frame is sent. */
  opened(link: PeerLink): void
  /** The socket closed; called exactly once per link. */
  closed(link: PeerLink): void
  blobData(link: PeerLink, frame: BlobDataFrame): void
  blobMissing(link: PeerLink, frame: BlobMissingFrame): void
  log(level: PeerLogLevel, msg: string, fields?: Record<string, unknown>): void
}

const toBytes = (data: WebSocket.RawData): Uint8Array =>
  Array.isArray(data) ? Buffer.concat(data) : data instanceof ArrayBuffer ? new Uint8Array(data) : data

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error))

/**
 * One WebSocket to one peer: the handshake, an ordered inbound queue (every frame is
 * fully applied before the next is read, which is what makes SYNC_REQUEST a barrier),
 * catch-up listings, barrier requests, liveness pings. It is also the Yjs transaction
 * origin of every update it applies, so `origin instanceof PeerLink` (and its `peerId`)
 * tells a host that an update came from a peer and from which one. Never throws out of
 * socket events: every failure closes the link with the matching close code.
 */
export class PeerLink {
  /** The peer's node id, known once its HELLO verified (for a dialled link: the id dialled). */
  peerId: string | undefined
  /** The slot the peer claimed in its HELLO. */
  peerSlot: number | undefined
  /** Bytes received and sent on this socket. */
  bytesIn = 0
  bytesOut = 0
  /** Documents listed in DOC_STATE_VECTORS frames sent and received (the catch-up cost). */
  docsListedOut = 0
  docsListedIn = 0
  /** Catch-up listings sent in full (their last frame sent). */
  listingsOut = 0
  /** Round-trip time of the last answered ping. */
  lagMs: number | undefined
  /** Why the link failed or closed, if it did. */
  lastError: string | undefined
  /** The close code this side sent, or else the one received. */
  closeCode: number | undefined
  /** Whether the link already logged why it failed (so its close is not logged again). */
  failureLogged = false
  /** Resolves once the socket is closed and {@link LinkEnv.closed} ran. */
  readonly done: Promise<void>

  private state: 'handshake' | 'open' | 'closed' = 'handshake'
  private readonly myNonce = new Uint8Array(randomBytes(NONCE_BYTES))
  private theirNonce: Uint8Array | undefined
  private peerResume: ChangeCursor | undefined
  private verified = false
  private readonly inbound: Frame[] = []
  private pumping = false
  private readonly pending = new Map<number, (reply: SyncReplyFrame | undefined) => void>()
  private nextRequestId = 1
  private lastInbound = performance.now()
  private ping: { id: number; at: number } | undefined
  private nextPingId = 1
  private lastListed: ChangeCursor | undefined
  private listing = false
  /** An update could not be forwarded live, so the next refresh must list documents, not just advance the cursor. */
  private liveGap = false
  private saves: Promise<void> = Promise.resolve()
  private handshakeTimer: NodeJS.Timeout | undefined
  private pingTimer: NodeJS.Timeout | undefined
  private refreshTimer: NodeJS.Timeout | undefined
  private killTimer: NodeJS.Timeout | undefined
  private closing = false
  private resolveDone!: () => void

  constructor(
    private readonly ws: WebSocket,
    readonly role: LinkRole,
    expectedPeerId: string | undefined,
    private readonly env: LinkEnv,
  ) {
    this.peerId = expectedPeerId
    this.done = new Promise((resolve) => (this.resolveDone = resolve))
    ws.binaryType = 'nodebuffer'
    ws.on('message', (data: WebSocket.RawData, isBinary: boolean) => this.receive(toBytes(data), isBinary))
    ws.on('close', (code: number, reason: Buffer) => this.onClose(code, reason.toString()))
    ws.on('error', (error: Error) => {
      this.lastError ??= error.message
    })
    this.handshakeTimer = setTimeout(() => {
      if (ws.readyState === WebSocket.CONNECTING) this.terminate('connect timed out')
      else this.fail(new ProtocolError('authFailed', 'no authenticated HELLO in time'))
    }, env.handshakeTimeoutMs)
    if (ws.readyState === WebSocket.OPEN) this.start()
    else ws.once('open', () => this.start())
  }

  /** Whether the link is authenticated and not closed. */
  get isOpen(): boolean {
    return this.state === 'open'
  }

  /** Whether the socket has closed. */
  get isClosed(): boolean {
    return this.state === 'closed'
  }

  /**
   * Sends an already encoded frame; false when the link is not open. Frames reach the
   * peer in the order they were sent.
   */
  sendBytes(bytes: Uint8Array): boolean {
    if (this.state !== 'open' || this.closing) return false
    this.write(bytes)
    return true
  }

  /** Records that an update of this node could not be forwarded on this link. */
  markLiveGap(): void {
    this.liveGap = true
  }

  /**
   * Sends a SYNC_REQUEST after everything sent so far and resolves with the reply, once
   * its update (if any) has been applied; undefined when the link closes first.
   */
  request(docName: string, stateVector: Uint8Array | undefined): Promise<SyncReplyFrame | undefined> {
    if (this.state !== 'open' || this.closing) return Promise.resolve(undefined)
    const requestId = this.nextRequestId++
    return new Promise((resolve) => {
      this.pending.set(requestId, resolve)
      if (!this.send({ type: 'syncRequest', requestId, docName, stateVector })) {
        this.pending.delete(requestId)
        resolve(undefined)
      }
    })
  }

  /** Sends `frame` when open; false when it could not be encoded or the link is not open. */
  send(frame: Frame): boolean {
    if (this.ws.readyState !== WebSocket.OPEN || this.closing) return false
    let bytes: Uint8Array
    try {
      bytes = encodeFrame(frame, this.env.maxFrameBytes)
    } catch (error) {
      this.env.log('error', 'peer frame not sent', { peer: this.peerId, frame: frame.type, error: message(error) })
      return false
    }
    this.write(bytes)
    return true
  }

  /** Closes the socket with `code`; the socket is dropped if the peer does not answer within a short grace. */
  close(code: number, reason: string): void {
    if (this.closing || this.state === 'closed') return
    this.closing = true
    this.closeCode ??= code
    this.stopTimers()
    if (this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.terminate()
      return
    }
    this.ws.close(code, reason)
    this.killTimer = setTimeout(() => this.ws.terminate(), CLOSE_GRACE_MS)
  }

  /** Drops the socket at once (no close handshake). */
  terminate(reason: string): void {
    if (this.state === 'closed') return
    this.lastError = reason
    this.closing = true
    this.stopTimers()
    this.ws.terminate()
  }

  private start(): void {
    this.lastInbound = performance.now()
    this.send({ type: 'challenge', nonce: this.myNonce })
    this.pingTimer = setInterval(() => this.tick(), this.env.pingIntervalMs)
  }

  private tick(): void {
    if (performance.now() - this.lastInbound > this.env.pingTimeoutMs) {
      this.env.log('warn', 'peer link timed out', { peer: this.peerId, afterMs: this.env.pingTimeoutMs })
      this.failureLogged = true
      this.terminate('ping timeout')
      return
    }
    const id = this.nextPingId++
    this.ping = { id, at: performance.now() }
    this.send({ type: 'ping', id })
  }

  private write(bytes: Uint8Array): void {
    this.bytesOut += bytes.length
    // Send errors surface as a 'close' event; nothing to do per frame.
    this.ws.send(bytes, { binary: true }, () => {})
  }

  private receive(data: Uint8Array, isBinary: boolean): void {
    if (this.state === 'closed' || this.closing) return
    this.bytesIn += data.length
    this.lastInbound = performance.now()
    if (!isBinary) {
      this.fail(new ProtocolError('malformed', 'text message on a peer link'))
      return
    }
    let frame: Frame
    try {
      frame = decodeFrame(data, this.env.maxFrameBytes)
    } catch (error) {
      this.fail(error)
      return
    }
    // Liveness and diagnostics bypass the queue: a long catch-up must not look like a dead link.
    switch (frame.type) {
      case 'ping':
        this.send({ type: 'pong', id: frame.id })
        return
      case 'pong':
        if (this.ping?.id === frame.id) this.lagMs = performance.now() - this.ping.at
        return
      case 'error':
        this.env.log('warn', 'peer reported an error', { peer: this.peerId, code: frame.code, message: frame.message })
        return
    }
    this.inbound.push(frame)
    if (this.inbound.length >= QUEUE_HIGH && !this.ws.isPaused) this.ws.pause()
    void this.pump()
  }

  private async pump(): Promise<void> {
    if (this.pumping) return
    this.pumping = true
    try {
      for (let frame = this.inbound.shift(); frame !== undefined; frame = this.inbound.shift()) {
        if (this.state === 'closed' || this.closing) break
        if (this.inbound.length < QUEUE_LOW && this.ws.isPaused) this.ws.resume()
        await this.handle(frame)
      }
    } catch (error) {
      this.fail(error)
    } finally {
      this.pumping = false
    }
  }

  private async handle(frame: Frame): Promise<void> {
    if (frame.type === 'challenge') return this.onChallenge(frame.nonce)
    if (frame.type === 'hello') return this.onHello(frame)
    if (this.state !== 'open') throw new ProtocolError('malformed', `${frame.type} frame before authentication`)
    switch (frame.type) {
      case 'docSync': {
        const doc = await this.env.docs.get(frame.docName)
        const reply = applyDocSync(frame, doc, this)
        if (reply !== undefined) this.send(reply)
        return
      }
      case 'docStateVectors': {
        this.docsListedIn += frame.entries.length
        const docs = new Map<string, Y.Doc>()
        for (const { docName } of frame.entries) docs.set(docName, await this.env.docs.get(docName))
        for (const answer of answerDocStateVectors(frame, (name) => docs.get(name))) this.send(answer)
        // The reply follows every step2 the peer writes for our step1s: then we hold all it listed.
        const cursor = frame.cursor
        void this.request('', undefined).then((reply) => {
          if (reply !== undefined) this.saveResume(cursor)
        })
        return
      }
      case 'syncRequest': {
        const doc = frame.stateVector === undefined ? undefined : await this.env.docs.get(frame.docName)
        this.send(answerSyncRequest(frame, doc))
        return
      }
      case 'syncReply': {
        const resolve = this.pending.get(frame.requestId)
        if (resolve === undefined) throw new ProtocolError('malformed', `SYNC_REPLY to unknown request ${frame.requestId}`)
        this.pending.delete(frame.requestId)
        if (frame.update !== undefined && frame.docName !== '') applyPeerUpdate(await this.env.docs.get(frame.docName), frame.update, this)
        resolve(frame)
        return
      }
      case 'blobWant':
        void this.serveBlobs(frame.hashes)
        return
      case 'blobData':
        this.env.blobData(this, frame)
        return
      case 'blobMissing':
        this.env.blobMissing(this, frame)
        return
      default:
        throw new ProtocolError('malformed', `unexpected ${frame.type} frame`)
    }
  }

  private async onChallenge(nonce: Uint8Array): Promise<void> {
    if (this.theirNonce !== undefined || this.verified) throw new ProtocolError('malformed', 'second CHALLENGE')
    this.theirNonce = nonce
    // The dialler knows whom it called; the acceptor learns it from the HELLO, then answers.
    if (this.role === 'dial' && this.peerId !== undefined) await this.sendHello(this.peerId)
  }

  private async onHello(hello: HelloFrame): Promise<void> {
    if (this.verified) throw new ProtocolError('malformed', 'second HELLO')
    if (this.theirNonce === undefined) throw new ProtocolError('malformed', 'HELLO before CHALLENGE')
    const expected = createHmac('sha256', this.env.secret)
      .update(helloProofMessage(this.myNonce, hello.nodeId, hello.slot))
      .digest()
    if (hello.proof.length !== PROOF_BYTES || !timingSafeEqual(expected, hello.proof)) {
      throw new ProtocolError('authFailed', 'HELLO proof does not match the shared secret')
    }
    if (this.role === 'dial' && hello.nodeId !== this.peerId) {
      throw new ProtocolError('forbidden', `dialled node ${this.peerId} but reached node ${hello.nodeId}`)
    }
    this.verified = true
    this.peerId = hello.nodeId
    this.peerSlot = hello.slot
    this.peerResume = hello.resume
    const refusal = this.env.admit(this, hello)
    if (refusal !== undefined) throw refusal
    if (this.role === 'accept') await this.sendHello(hello.nodeId)
    if (this.state !== 'handshake' || this.closing) return
    this.state = 'open'
    clearTimeout(this.handshakeTimer)
    this.handshakeTimer = undefined
    // Registering for live updates and taking the listing cursor happen in one synchronous step.
    this.env.opened(this)
    void this.list(this.peerResume)
    this.refreshTimer = setInterval(() => this.refresh(), this.env.cursorRefreshMs)
  }

  private async sendHello(peerId: string): Promise<void> {
    const nonce = this.theirNonce
    if (nonce === undefined) return
    let resume: ChangeCursor | undefined
    try {
      resume = await this.env.host.loadResume(peerId)
    } catch (error) {
      this.env.log('warn', 'could not load peer resume point; catching up in full', { peer: peerId, error: message(error) })
    }
    const { nodeId, slot } = this.env.host
    const proof = new Uint8Array(
      createHmac('sha256', this.env.secret)
        .update(helloProofMessage(nonce, nodeId, slot))
        .digest(),
    )
    this.send({ type: 'hello', nodeId, slot, protocolVersion: PROTOCOL_VERSION, proof, resume })
  }

  /**
   * Lists the documents changed after `since` (all when unknown) with their state
   * vectors. Only the last frame carries the new cursor: a receiver that stores the
   * cursor of an earlier chunk would claim documents it has not seen yet.
   */
  private async list(since: ChangeCursor | undefined): Promise<void> {
    const { host } = this.env
    const cursor = host.changeCursor()
    this.lastListed = cursor
    this.liveGap = false
    this.listing = true
    // A cursor that claims nothing new: the peer's own resume point, or one of no epoch.
    const noProgress = since ?? { epoch: '', seq: 0 }
    try {
      const changed = since === undefined ? undefined : await host.changedSince(since)
      const names: AsyncIterable<string> | Iterable<string> = changed ?? host.allDocs()
      // one chunk is held back until the next one exists, so the last frame is known when sent
      let entries: DocStateVector[] = []
      let sent = false
      const flush = async (last: boolean): Promise<boolean> => {
        if (this.state !== 'open') return false
        if (!this.send({ type: 'docStateVectors', cursor: last ? cursor : noProgress, entries })) return false
        this.docsListedOut += entries.length
        entries = []
        sent = true
        return true
      }
      for await (const docName of names) {
        if (entries.length === LISTING_CHUNK && !(await flush(false))) return
        entries.push({ docName, stateVector: Y.encodeStateVector(await this.env.docs.get(docName)) })
      }
      if ((entries.length > 0 || !sent) && (await flush(true))) this.listingsOut++
    } catch (error) {
      this.fail(error)
    } finally {
      this.listing = false
    }
  }

  /** Lets the peer move its resume point forward while connected. */
  private refresh(): void {
    if (this.state !== 'open' || this.listing) return
    const now = this.env.host.changeCursor()
    const last = this.lastListed
    if (last !== undefined && last.epoch === now.epoch && last.seq === now.seq) return
    // With relay every update here was forwarded on this socket (or came from this peer),
    // so the bare cursor is a complete claim; without relay, list what changed.
    if (this.env.relay && !this.liveGap && last !== undefined && last.epoch === now.epoch) {
      if (this.send({ type: 'docStateVectors', cursor: now, entries: [] })) this.lastListed = now
      return
    }
    void this.list(last)
  }

  private saveResume(cursor: ChangeCursor): void {
    const peerId = this.peerId
    if (peerId === undefined) return
    this.saves = this.saves
      .then(() => this.env.host.saveResume(peerId, cursor))
      .catch((error: unknown) => {
        this.env.log('warn', 'could not save peer resume point', { peer: peerId, error: message(error) })
      })
  }

  private async serveBlobs(hashes: string[]): Promise<void> {
    for (const hash of hashes) {
      let bytes: Uint8Array | undefined
      try {
        bytes = await this.env.host.blobs.get(hash)
      } catch (error) {
        this.env.log('warn', 'blob store read failed', { peer: this.peerId, hash, error: message(error) })
      }
      if (this.state !== 'open') return
      if (bytes === undefined || !this.send({ type: 'blobData', hash, bytes })) this.send({ type: 'blobMissing', hash })
    }
  }

  /** Closes the link for `error`: a {@link ProtocolError} with its close code, anything else as an internal error. */
  private fail(error: unknown): void {
    if (this.closing || this.state === 'closed') return
    const code = error instanceof ProtocolError ? error.closeCode : INTERNAL_ERROR
    const text = message(error)
    this.lastError = text
    this.env.log(code === INTERNAL_ERROR ? 'error' : 'warn', 'peer link failed', { peer: this.peerId, code, error: text })
    this.failureLogged = true
    this.send({ type: 'error', code, message: text.slice(0, 1000) })
    this.close(code, closeReason(error instanceof Error ? error : new Error(text)))
  }

  private stopTimers(): void {
    clearTimeout(this.handshakeTimer)
    clearInterval(this.pingTimer)
    clearInterval(this.refreshTimer)
    this.handshakeTimer = this.pingTimer = this.refreshTimer = undefined
  }

  private onClose(code: number, reason: string): void {
    if (this.state === 'closed') return
    this.state = 'closed'
    this.stopTimers()
    clearTimeout(this.killTimer)
    this.closeCode ??= code
    if (reason !== '' && this.lastError === undefined) this.lastError = reason
    this.inbound.length = 0
    for (const resolve of this.pending.values()) resolve(undefined)
    this.pending.clear()
    this.env.closed(this)
    this.resolveDone()
  }
}
