/** How one region (node) link of the account is doing. */
export type ConnectionState =
  /** The explicit offline switch is on: no sockets, no uploads. */
  | 'offline'
  | 'connecting'
  /** Every open document has a socket to the node. */
  | 'connected'
  /** Trying to reconnect (the node or the network is down). */
  | 'disconnected'
  /** The node refused this replica's updates (see `error`); it does not retry. */
  | 'rejected'

/** What this tab knows about one node it was connected to. */
export interface RegionStatus {
  nodeUrl: string
  connection: ConnectionState
  /** When `connection` last changed (ms since epoch). */
  since: number
  /** When every open document last finished a sync with this node. */
  lastSyncedAt: number | undefined
  error: string | undefined
}

/** The part of a document replica the region status reads. */
export interface ReplicaLink {
  readonly connection: ConnectionState
  readonly synced: boolean
  readonly error: string | undefined
}

/**
 * Every region (node) this account used in the session and how its link is doing: one
 * connection state over all open documents of the current node, with since / last-synced
 * times. Knows nothing of documents beyond {@link ReplicaLink}.
 */
export class RegionTracker {
  private readonly regions = new Map<string, RegionStatus>()

  /** Recomputes the current node's entry from its replicas; returns every region, the current one first (copies). */
  update(
    nodeUrl: string,
    online: boolean,
    replicas: readonly ReplicaLink[],
  ): { connection: ConnectionState; synced: number; regions: RegionStatus[] } {
    const connection = aggregate(online, replicas)
    const synced = replicas.filter((r) => r.synced).length
    const cur = this.region(nodeUrl)
    if (cur.connection !== connection) {
      cur.connection = connection
      cur.since = Date.now()
    }
    cur.error = replicas.find((r) => r.error !== undefined)?.error
    if (connection === 'connected' && synced === replicas.length && replicas.length > 0) cur.lastSyncedAt = Date.now()
    return { connection, synced, regions: [cur, ...[...this.regions.values()].filter((r) => r !== cur)].map((r) => ({ ...r })) }
  }

  /** Marks `nodeUrl` offline (its documents were closed). */
  closed(nodeUrl: string): void {
    const cur = this.region(nodeUrl)
    cur.connection = 'offline'
    cur.since = Date.now()
  }

  /** Forgets the refusal recorded for `nodeUrl` (its local replica was reset). */
  clearError(nodeUrl: string): void {
    this.region(nodeUrl).error = undefined
  }

  private region(nodeUrl: string): RegionStatus {
    let r = this.regions.get(nodeUrl)
    if (r === undefined) {
      r = { nodeUrl, connection: 'offline', since: Date.now(), lastSyncedAt: undefined, error: undefined }
      this.regions.set(nodeUrl, r)
    }
    return r
  }
}

function aggregate(online: boolean, rs: readonly ReplicaLink[]): ConnectionState {
  if (!online) return 'offline'
  if (rs.some((r) => r.connection === 'rejected')) return 'rejected'
  if (rs.length > 0 && rs.every((r) => r.connection === 'connected')) return 'connected'
  if (rs.some((r) => r.connection === 'connecting')) return 'connecting'
  return 'disconnected'
}
