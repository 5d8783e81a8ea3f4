import { PEERS_ROLE, type AccountOwnership, type AccountRoute, type ProcessAddresses } from '../../src/AccountOwnership.ts'

/**
 * The ownership table of an in-memory region: which process owns each account (the
 * `fallback` process for the rest) and which runs the peer links. Processes get their
 * {@link AccountOwnership} from {@link StaticRegion.ownership}; {@link StaticRegion.move}
 * hands an account (or the peers role) to another process as a lease takeover would.
 */
export class StaticRegion {
  private readonly owners = new Map<string, string>()
  private readonly addresses = new Map<string, ProcessAddresses>()
  private readonly lost = new Map<string, Set<(user: string) => void>>()
  private readonly gained = new Map<string, Set<() => void>>()
  /** route() calls per user (a refused login never gets this far). */
  readonly routed = new Map<string, number>()
  peers: string

  constructor(
    private readonly fallback: string,
    owners: Record<string, string> = {},
  ) {
    for (const [u, p] of Object.entries(owners)) this.owners.set(u, p)
    this.peers = fallback
  }

  private where(process: string): AccountRoute {
    const a = this.addresses.get(process)
    return a === undefined ? { kind: 'unavailable', reason: `process ${process} has not advertised` } : { kind: 'remote', owner: a }
  }

  /** Moves `user` (or {@link PEERS_ROLE}) to `to`, telling the old owner it lost it. */
  move(user: string, to: string): void {
    const from = user === PEERS_ROLE ? this.peers : (this.owners.get(user) ?? this.fallback)
    if (user === PEERS_ROLE) this.peers = to
    else this.owners.set(user, to)
    if (from === to) return
    for (const fn of this.lost.get(from) ?? []) fn(user)
    if (user === PEERS_ROLE) for (const fn of this.gained.get(to) ?? []) fn()
  }

  ownership(processId: string): AccountOwnership {
    const sub = <T>(m: Map<string, Set<T>>, fn: T) => {
      const set = m.get(processId) ?? new Set<T>()
      m.set(processId, set)
      set.add(fn)
      return () => void set.delete(fn)
    }
    return {
      processId,
      route: async (user) => {
        this.routed.set(user, (this.routed.get(user) ?? 0) + 1)
        const owner = this.owners.get(user) ?? this.fallback
        return owner === processId ? { kind: 'local' } : this.where(owner)
      },
      routePeers: async () => (this.peers === processId ? { kind: 'local' } : this.where(this.peers)),
      onLost: (fn) => sub(this.lost, fn),
      onPeersGained: (fn) => sub(this.gained, fn),
      advertise: async (a) => void this.addresses.set(processId, { process: processId, ...a }),
      close: async () => void this.addresses.delete(processId),
    }
  }
}
