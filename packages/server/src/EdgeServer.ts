import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type WebSocket } from 'ws'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import * as syncProtocol from 'y-protocols/sync'
import * as awarenessProtocol from 'y-protocols/awareness'
import { checkEdgeUpdate, docOwner, EdgeCloseCode, MAILBOX_LOG, readFacts, type EdgeUpdateContext } from '@mailweave/core'
import type { DocHandle, DocRegistry } from './DocRegistry.ts'
import type { Logger } from './Logger.ts'

const MESSAGE_SYNC = 0
const MESSAGE_AWARENESS = 1

interface Room {
  name: string
  handle: DocHandle
  awareness: awarenessProtocol.Awareness
  conns: Set<WebSocket>
  onUpdate: (update: Uint8Array, origin: unknown) => void
  onAwareness: (changes: { added: number[]; updated: number[]; removed: number[] }, origin: unknown) => void
  unsubscribe?: () => void
  /** What edge updates to this document are checked against. */
  check: EdgeUpdateContext
  /** Stops maintaining the guid index. */
  unindex?: () => void
}

/** Options of {@link EdgeServer}. */
export interface EdgeServerOptions {
  registry: DocRegistry
  log: Logger
  /** The user a bearer token names, or undefined. */
  authenticate(token: string): string | undefined
  /**
   * The largest WebSocket message (y-websocket sync or awareness message) an edge may
   * send, in bytes (default 16 MiB: an edge update carries facts, never bodies). A larger
   * one closes the socket with 1009 (RFC 6455 "message too big") before it is buffered
   * whole, and is never applied.
   */
  maxMessageBytes?: number
}

const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024

/**
 * The y-websocket endpoint for edge replicas (browsers, offline apps): speaks the
 * y-websocket wire protocol (y-protocols sync + awareness) so a stock
 * `WebsocketProvider` from y-websocket 3.x connects to `ws://node/edge` with room
 * `acct/<user>` or `mbox/<user>/<id>` and `params: { token }`. A user reaches only the
 * documents of their own account. Updates are checked before they are applied: bytes
 * that do not decode, node-only facts, or deletions close the socket with
 * UPDATE_REJECTED and leave the document untouched. Documents are owned by the
 * node's registry (not by this endpoint), so sockets coming and going never unload a
 * document under a pending write.
 */
export class EdgeServer {
  private readonly wss: WebSocketServer
  private readonly rooms = new Map<string, Promise<Room>>()
  private readonly maxMessageBytes: number
  connections = 0
  rejected = 0
  /** The user of each open socket. */
  private readonly users = new Map<WebSocket, string>()

  constructor(private readonly o: EdgeServerOptions) {
    this.maxMessageBytes = o.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES
    this.wss = new WebSocketServer({ noServer: true, maxPayload: this.maxMessageBytes })
  }

  /** Whether a Yjs transaction origin is an edge socket of this endpoint. */
  isEdgeOrigin(origin: unknown): boolean {
    return origin !== null && typeof origin === 'object' && this.wss.clients.has(origin as WebSocket)
  }

  /** Handles an HTTP upgrade whose path starts with `/edge/`. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://localhost')
    const docName = decodeURIComponent(url.pathname.slice('/edge/'.length))
    const token = url.searchParams.get('token') ?? ''
    const user = this.o.authenticate(token)
    const owner = docOwner(docName)
    if (user === undefined || owner === undefined || owner !== user) {
      const status = user === undefined ? '401 Unauthorized' : '403 Forbidden'
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
      this.o.log.warn({ docName, user, reason: status }, 'edge connection refused')
      return
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => void this.accept(ws, docName, user))
  }

  private room(docName: string): Promise<Room> {
    let p = this.rooms.get(docName)
    if (p === undefined) {
      p = this.o.registry.open(docName).then((handle) => {
        const guids = docName.startsWith('mbox/') ? guidIndex(handle.doc) : undefined
        const room: Room = {
          name: docName,
          handle,
          check: { doc: handle.doc, kind: docName.startsWith('acct/') ? 'account' : 'mailbox', knowsGuid: guids?.has },
          unindex: guids?.stop,
          awareness: new awarenessProtocol.Awareness(handle.doc),
          conns: new Set(),
          onUpdate: (update, origin) => {
            const enc = encoding.createEncoder()
            encoding.writeVarUint(enc, MESSAGE_SYNC)
            syncProtocol.writeUpdate(enc, update)
            const msg = encoding.toUint8Array(enc)
            for (const c of room.conns) if (c !== origin) send(c, msg)
          },
          onAwareness: ({ added, updated, removed }) => {
            const changed = added.concat(updated, removed)
            const enc = encoding.createEncoder()
            encoding.writeVarUint(enc, MESSAGE_AWARENESS)
            encoding.writeVarUint8Array(enc, awarenessProtocol.encodeAwarenessUpdate(room.awareness, changed))
            const msg = encoding.toUint8Array(enc)
            for (const c of room.conns) send(c, msg)
          },
        }
        room.awareness.setLocalState(null)
        // only durable updates reach edge replicas (see DocRegistry.onUpdate)
        room.unsubscribe = this.o.registry.onUpdate((name, update, origin) => {
          if (name === docName) room.onUpdate(update, origin)
        })
        room.awareness.on('update', room.onAwareness)
        return room
      })
      p.catch(() => this.rooms.delete(docName))
      this.rooms.set(docName, p)
    }
    return p
  }

  private async accept(ws: WebSocket, docName: string, user: string): Promise<void> {
    this.connections++
    this.users.set(ws, user)
    ws.binaryType = 'arraybuffer'
    const queued: Uint8Array[] = []
    let room: Room | undefined
    const controlled = new Set<number>()
    ws.on('message', (data: ArrayBuffer) => {
      const bytes = new Uint8Array(data)
      if (room === undefined) queued.push(bytes)
      else this.onMessage(ws, room, bytes, docName, user, controlled)
    })
    ws.on('close', () => {
      this.connections--
      this.users.delete(ws)
      if (room !== undefined) {
        room.conns.delete(ws)
        awarenessProtocol.removeAwarenessStates(room.awareness, [...controlled], null)
        if (room.conns.size === 0) this.closeRoom(docName, room)
      }
    })
    ws.on('error', (err: Error & { code?: string }) => {
      // ws has already sent its close frame (1009 for a message over maxPayload): let it go out
      if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
        this.rejected++
        this.o.log.warn({ docName, user, limit: this.maxMessageBytes }, 'edge message too large')
      } else ws.terminate()
    })
    try {
      room = await this.room(docName)
    } catch (e) {
      this.o.log.error({ docName, err: String(e) }, 'could not open document for an edge replica')
      ws.close(1011, 'document unavailable')
      return
    }
    room.conns.add(ws)
    const enc = encoding.createEncoder()
    encoding.writeVarUint(enc, MESSAGE_SYNC)
    syncProtocol.writeSyncStep1(enc, room.handle.doc)
    send(ws, encoding.toUint8Array(enc))
    const states = [...room.awareness.getStates().keys()]
    if (states.length > 0) {
      const a = encoding.createEncoder()
      encoding.writeVarUint(a, MESSAGE_AWARENESS)
      encoding.writeVarUint8Array(a, awarenessProtocol.encodeAwarenessUpdate(room.awareness, states))
      send(ws, encoding.toUint8Array(a))
    }
    for (const m of queued.splice(0)) this.onMessage(ws, room, m, docName, user, controlled)
  }

  private closeRoom(docName: string, room: Room): void {
    void this.rooms.get(docName)?.then((r) => {
      if (r !== room || room.conns.size > 0) return
      this.rooms.delete(docName)
      room.unsubscribe?.()
      room.unindex?.()
      room.awareness.destroy()
      room.handle.release()
    })
  }

  private onMessage(ws: WebSocket, room: Room, bytes: Uint8Array, docName: string, user: string, controlled: Set<number>): void {
    try {
      const dec = decoding.createDecoder(bytes)
      const type = decoding.readVarUint(dec)
      if (type === MESSAGE_SYNC) {
        const sub = decoding.readVarUint(dec)
        const enc = encoding.createEncoder()
        encoding.writeVarUint(enc, MESSAGE_SYNC)
        if (sub === syncProtocol.messageYjsSyncStep1) {
          syncProtocol.writeSyncStep2(enc, room.handle.doc, decoding.readVarUint8Array(dec))
          send(ws, encoding.toUint8Array(enc))
        } else if (sub === syncProtocol.messageYjsSyncStep2 || sub === syncProtocol.messageYjsUpdate) {
          const update = decoding.readVarUint8Array(dec)
          const why = checkEdgeUpdate(update, room.check)
          if (why !== undefined) {
            this.rejected++
            this.o.log.warn({ docName, user, reason: why }, 'edge update rejected')
            ws.close(EdgeCloseCode.UPDATE_REJECTED, why.slice(0, 120))
            return
          }
          Y.applyUpdate(room.handle.doc, update, ws)
        } else throw new Error(`unknown sync message type ${sub}`)
      } else if (type === MESSAGE_AWARENESS) {
        const update = decoding.readVarUint8Array(dec)
        awarenessProtocol.applyAwarenessUpdate(room.awareness, update, ws)
        // remember which awareness clients this socket controls, to drop them on close
        const d2 = decoding.createDecoder(update)
        for (let n = decoding.readVarUint(d2); n > 0; n--) {
          controlled.add(decoding.readVarUint(d2))
          decoding.readVarUint(d2)
          decoding.readVarString(d2)
        }
      } else throw new Error(`unknown message type ${type}`)
    } catch (e) {
      this.rejected++
      this.o.log.warn({ docName, user, err: String(e) }, 'malformed edge message')
      ws.close(EdgeCloseCode.PROTOCOL_ERROR, 'malformed message')
    }
  }

  /**
   * Closes `user`'s sockets (SHUTTING_DOWN: reconnecting is right), e.g. when the account
   * moved to another process of the region; the edge reconnects and is routed there.
   * Returns how many.
   */
  closeUser(user: string, reason: string): number {
    let n = 0
    for (const [ws, u] of this.users) {
      if (u !== user) continue
      ws.close(EdgeCloseCode.SHUTTING_DOWN, reason.slice(0, 120))
      n++
    }
    return n
  }

  /** Closes every edge socket and releases the documents. */
  async close(): Promise<void> {
    for (const c of this.wss.clients) c.close(EdgeCloseCode.SHUTTING_DOWN, 'node shutting down')
    for (const [name, p] of this.rooms) {
      const room = await p.catch(() => undefined)
      if (room === undefined) continue
      room.unsubscribe?.()
      room.unindex?.()
      room.awareness.destroy()
      room.handle.release()
      this.rooms.delete(name)
    }
    this.wss.close()
  }
}

function send(ws: WebSocket, msg: Uint8Array): void {
  if (ws.readyState === ws.OPEN) ws.send(msg, (err) => err && ws.terminate())
}

/** The guids a mailbox document names (messages and bindings), kept current as facts arrive. */
function guidIndex(doc: Y.Doc): { has: (guid: string) => boolean; stop: () => void } {
  const log = doc.getArray<unknown>(MAILBOX_LOG)
  const guids = new Set<string>()
  const add = (facts: readonly unknown[]) => {
    for (const f of facts)
      if (Array.isArray(f) && (f[0] === 'm' || f[0] === 'b') && typeof f[f[0] === 'm' ? 1 : 2] === 'string')
        guids.add(f[f[0] === 'm' ? 1 : 2] as string)
  }
  add(readFacts(log))
  const observer = (e: Y.YArrayEvent<unknown>) => {
    for (const item of e.changes.added) add(item.content.getContent())
  }
  log.observe(observer)
  return { has: (guid) => guids.has(guid), stop: () => log.unobserve(observer) }
}
