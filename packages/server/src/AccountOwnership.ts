/**
 * Which process of a region serves an account. A region of one process serves every account
 * itself ({@link localOwnership}); a region of several processes sharing one database (see
 * `@mailweave/storage-postgres`'s leases) gives each account to one process at a time, and
 * the others forward the account's connections and requests to it.
 */

/** Addresses a process of the region is reachable at (as the other processes dial them). */
export interface ProcessAddresses {
  /** The process's name within the region (`--process`). */
  process: string
  /** Base URL of its HTTP/WebSocket listener, e.g. `http://127.0.0.1:7101`. */
  http: string
  /** `host:port` of its IMAP listener, when it serves IMAP. */
  imap?: string
  /** `host:port` of its LMTP listener, when it accepts deliveries. */
  lmtp?: string
}

/** Where an account (or the region's peer links) is served now. */
export type AccountRoute =
  | { kind: 'local' }
  | { kind: 'remote'; owner: ProcessAddresses }
  /** No live process can take it now (every one at its cap, or the database unreachable). */
  | { kind: 'unavailable'; reason: string }

/**
 * The ownership of accounts among the processes of one region. Every write a process makes
 * to an account's documents is fenced by the account's lease in the storage itself, so a
 * process that lost an account (paused past its lease, cut off from the database) cannot
 * commit; this interface only tells the node where to serve.
 */
export interface AccountOwnership {
  /** This process's name within the region. */
  readonly processId: string
  /**
   * Where `user`'s account is served: `local` once this process holds its lease (taking it
   * when this process is the account's place and the lease is free or expired), else the
   * live owner's addresses.
   */
  route(user: string): Promise<AccountRoute>
  /** Where the region's links to other regions run (one process at a time holds them). */
  routePeers(): Promise<AccountRoute>
  /**
   * Called when this process loses an account (its lease was taken over, or ownership moved
   * to another process): the node closes the account's sessions and unloads its documents.
   * `'#peers'` is reported when this process stops being the peer process.
   */
  onLost(fn: (user: string) => void): () => void
  /** Called when this process becomes the region's peer process. */
  onPeersGained(fn: () => void): () => void
  /**
   * The node tells where it can be reached once every listener is bound (before it routes
   * anything); a process is a place for accounts only once it advertised its addresses.
   */
  advertise?(addresses: Omit<ProcessAddresses, 'process'>): Promise<void>
  /** Stops renewing, releases the leases held (so others take them at once) and the heartbeat. */
  close(): Promise<void>
}

/** The account name {@link AccountOwnership.onLost} reports for the peer role. */
export const PEERS_ROLE = '#peers'

/** The ownership of a region of one process: everything is served here. */
export function localOwnership(processId = 'main'): AccountOwnership {
  return {
    processId,
    route: () => Promise.resolve({ kind: 'local' }),
    routePeers: () => Promise.resolve({ kind: 'local' }),
    onLost: () => () => undefined,
    onPeersGained: () => () => undefined,
    close: () => Promise.resolve(),
  }
}
