import type * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import { isEdgeRejection } from '@mailweave/core'
import type { DocPersistence } from './IdbDocStore.ts'
import { Listeners } from './Listeners.ts'
import type { ConnectionState, ReplicaLink } from './RegionStatus.ts'

const edgeUrl = (nodeUrl: string) => nodeUrl.replace(/\/+$/, '').replace(/^http/, 'ws') + '/edge'

/**
 * One document of the account: its IndexedDB persistence and its y-websocket link to the
 * node. A close code that means the node refused this replica's updates ends the link for
 * good (`rejected`); any other loss reconnects. Tells its owner of every state change
 * through the `changed` callback, and coalesced document updates through `onUpdate`.
 */
export class Replica implements ReplicaLink {
  provider: WebsocketProvider | undefined
  connection: ConnectionState = 'offline'
  synced = false
  error: string | undefined
  private readonly onDocUpdate: () => void
  private readonly listeners = new Listeners<void>()
  private notifyQueued = false

  constructor(
    readonly docName: string,
    readonly doc: Y.Doc,
    readonly persistence: DocPersistence,
    private readonly changed: () => void,
  ) {
    this.onDocUpdate = () => {
      if (this.notifyQueued) return
      this.notifyQueued = true
      queueMicrotask(() => {
        this.notifyQueued = false
        this.listeners.emit()
      })
    }
    doc.on('update', this.onDocUpdate)
  }

  /** Calls `fn` once per microtask after the document changed, locally or remotely. */
  onUpdate(fn: () => void): () => void {
    return this.listeners.add(fn)
  }

  /** Opens (or reopens) the socket to `nodeUrl`'s edge endpoint. */
  connect(nodeUrl: string, token: string, WS: unknown): void {
    if (this.provider !== undefined) {
      this.provider.connect()
      return
    }
    const opts: ConstructorParameters<typeof WebsocketProvider>[3] = {
      params: { token },
      // tabs sync through the node, never behind its back (that would hide partitions)
      disableBc: true,
      shouldReconnect: (ev) => !isEdgeRejection(ev.code),
    }
    if (WS !== undefined) opts.WebSocketPolyfill = WS as NonNullable<typeof opts.WebSocketPolyfill>
    const p = new WebsocketProvider(edgeUrl(nodeUrl), this.docName, this.doc, opts)
    p.on('status', ({ status }) => {
      if (this.connection === 'rejected') return
      this.connection = status === 'connected' ? 'connected' : status === 'connecting' ? 'connecting' : 'disconnected'
      if (status !== 'connected') this.synced = false
      this.changed()
    })
    p.on('sync', (s) => {
      this.synced = s
      this.changed()
    })
    p.on('closed', (ev) => {
      this.connection = 'rejected'
      this.error = `the node refused this replica (${ev.code}${ev.reason === '' ? '' : `: ${ev.reason}`})`
      this.changed()
    })
    this.provider = p
    this.connection = 'connecting'
    this.changed()
  }

  /** Closes the socket (the offline switch); `connect` resumes. */
  disconnect(): void {
    this.provider?.disconnect()
    this.synced = false
    this.connection = 'offline'
    this.changed()
  }

  /** Ends the link and the persistence, then destroys the document. */
  async close(): Promise<void> {
    this.doc.off('update', this.onDocUpdate)
    this.listeners.clear()
    if (this.provider !== undefined) {
      this.provider.awareness.destroy()
      this.provider.destroy()
      this.provider = undefined
    }
    try {
      await this.persistence.close()
    } finally {
      this.doc.destroy()
    }
  }
}
