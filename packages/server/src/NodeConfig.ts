import { NodeError } from './NodeError.ts'
import type { NodeStorage, SeparateBlobStore } from './NodeStorage.ts'

/** A peer node this node replicates with. */
export interface PeerConfig {
  id: string
  /** Base URL of the peer's HTTP listener, e.g. `http://127.0.0.1:7102`. */
  url: string
}

/** The IMAP front end of a node. */
export interface ImapConfig {
  host: string
  /** 0 = pick a free one. */
  port: number
  /** Allow LOGIN without TLS from non-loopback clients. */
  allowPlaintextAuth?: boolean
  /** PEM files for STARTTLS. */
  tls?: { certFile: string; keyFile: string }
}

/** The LMTP delivery front end of a node (for the MTA: bind it to loopback or a private network). */
export interface LmtpConfig {
  host: string
  /** 0 = pick a free one. */
  port: number
  /** Host name in the greeting and the Received header (default `mailweave-<nodeId>`). */
  serverName?: string
}

/** Everything a node needs to run. */
export interface NodeConfig {
  nodeId: string
  slot: number
  stride: number
  dataDir: string
  host: string
  /** HTTP/WebSocket port (0 = pick a free one). */
  port: number
  peers: PeerConfig[]
  /** The cluster secret shared by every node (peer auth, tokens, admin token). */
  secret: Uint8Array
  maxMessageBytes?: number
  /**
   * How long a FETCH of a body this node lacks waits for a peer to send it before that
   * message is reported unavailable (default 5 000 ms).
   */
  bodyWaitMs?: number
  /**
   * Start over after this node's own history was damaged or lost: set the data directory
   * aside and fetch everything again from the peers under a new replica id; `slot` must be
   * one this node (and, for safety, any node of the cluster) never used.
   */
  rejoin?: boolean
  /** Bound of the fast path's wait for peers, in ms. */
  verifyTimeoutMs?: number
  /** Unload documents idle this long. */
  idleMs?: number
  /**
   * Memory budget for loaded documents, in bytes of their estimated heap (3.5x the encoded
   * size plus 8 KiB per document, see DocRegistry's `docHeapEstimate`): past it the least
   * recently used documents without a handle are unloaded at once. Default: none (idle
   * unloading only).
   */
  docBudgetBytes?: number
  /** Relay peer updates to other peers (a mesh that survives one cut link). */
  relay?: boolean
  /** Where the node keeps its data, opened by the caller and owned (closed) by the node; default the file storage under `dataDir`. */
  storage?: NodeStorage
  /** Where message bodies go instead of the storage's own blob store (an S3 bucket), opened by the caller and owned (closed) by the node. */
  blobs?: SeparateBlobStore
  /**
   * The host the other processes of the region dial for this one (multi-process regions,
   * `storage.ownership`): advertised addresses are the bound ones with this host; default the
   * listen host (loopback when that is 0.0.0.0 or ::).
   */
  advertiseHost?: string
  /** Serve IMAP too. */
  imap?: ImapConfig
  /** Accept deliveries over LMTP too. */
  lmtp?: LmtpConfig
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

/** Checks a configuration; throws a NodeError that says exactly what is wrong. */
export function validateConfig(c: NodeConfig): NodeConfig {
  const bad = (msg: string): never => {
    throw new NodeError('BAD_REQUEST', `invalid node configuration: ${msg}`)
  }
  if (!ID_RE.test(c.nodeId)) bad(`node id ${JSON.stringify(c.nodeId)} must be 1-64 characters of A-Z a-z 0-9 . _ -`)
  if (!Number.isInteger(c.stride) || c.stride < 1 || c.stride > 4096) bad(`stride must be an integer in [1, 4096], got ${c.stride}`)
  if (!Number.isInteger(c.slot) || c.slot < 0 || c.slot >= c.stride) bad(`slot must be an integer in [0, ${c.stride}), got ${c.slot}`)
  if (!Number.isInteger(c.port) || c.port < 0 || c.port > 65535) bad(`port must be in [0, 65535], got ${c.port}`)
  for (const [name, l] of [
    ['imap', c.imap],
    ['lmtp', c.lmtp],
  ] as const) {
    if (l !== undefined && (!Number.isInteger(l.port) || l.port < 0 || l.port > 65535))
      bad(`${name} port must be in [0, 65535], got ${l.port}`)
  }
  if (c.secret.length < 16) bad('the secret must be at least 16 bytes')
  if (c.bodyWaitMs !== undefined && (!Number.isInteger(c.bodyWaitMs) || c.bodyWaitMs < 0 || c.bodyWaitMs > 600_000))
    bad(`body wait must be an integer number of ms in [0, 600000], got ${c.bodyWaitMs}`)
  const ids = new Set<string>()
  for (const p of c.peers) {
    if (!ID_RE.test(p.id)) bad(`peer id ${JSON.stringify(p.id)} is invalid`)
    if (p.id === c.nodeId) bad(`peer ${p.id} has this node's own id`)
    if (ids.has(p.id)) bad(`peer ${p.id} is listed twice`)
    ids.add(p.id)
    try {
      const u = new URL(p.url)
      if (u.protocol !== 'http:' && u.protocol !== 'https:' && u.protocol !== 'ws:' && u.protocol !== 'wss:')
        bad(`peer ${p.id} url must be http(s) or ws(s)`)
    } catch {
      bad(`peer ${p.id} url ${JSON.stringify(p.url)} is not a URL`)
    }
  }
  return c
}
