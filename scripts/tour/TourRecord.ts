import type { HeldMessage } from './TourClient.ts'

/** One step of the tour, as printed and as drawn (one column of the picture). */
export interface TourStep {
  n: number
  /** Milliseconds since the tour started. */
  at: number
  phase: 'setup' | 'connected' | 'partition' | 'healed'
  /** A caption of a few words for the picture's column header. */
  short: string
  title: string
  notes: string[]
}

/** A client's whole view right after one of its syncs. */
export interface ClientSnapshot {
  step: number
  region: string
  uidNext: number
  messages: HeldMessage[]
  removed: number[]
  duplicates: { id: string; oldUid: number; newUid: number }[]
}

/**
 * A message entering the mailbox: an IMAP APPEND by the region's client, a delivery nobody
 * looked at, or one copy of a message an MTA delivered at two regions (LMTP failover).
 */
export interface AppendEvent {
  step: number
  region: string
  id: string
  label: string
  /** The UID it was first bound to at that region (APPENDUID, or the node's binding for a delivery). */
  uid: number | undefined
  via: 'imap' | 'delivery' | 'failover'
}

/** A message an MTA delivered at two regions during the partition: every replica keeps one copy. */
export interface FailoverDelivery {
  id: string
  label: string
  /** Where it was delivered, in order (the first copy is the one that stays). */
  regions: string[]
  /** Set after the heal: the region whose copy stayed, and the other copy's first UID and who had been shown it. */
  kept?: string
  dropped?: { region: string; uid: number; seenBy: string[] }
}

/** What the protocol did to one message, from its UID history after the final resync. */
export interface MessageFate {
  id: string
  label: string
  subject: string
  origin: string
  firstUid: number
  finalUid: number
  /** kept: never renumbered; silent: renumbered, nobody had seen the old UID; duplicate: renumbered and shown again. */
  kind: 'kept' | 'silent' | 'duplicate'
  /** Regions whose clients had been shown the first UID. */
  seenBy: string[]
  /** The node that allocated the final UID. */
  allocator: string
}

/** One client at the end: its view and every re-download it made. */
export interface ClientOutcome {
  region: string
  uidNext: number
  messages: HeldMessage[]
  duplicates: { id: string; label: string; oldUid: number; newUid: number }[]
  /** Every UID this client was ever shown (a duplicate's old UID must be among them). */
  everShown: number[]
}

/** Everything the tour observed; the text timeline and the HTML report are both drawn from it. */
export interface TourRecord {
  regions: string[]
  steps: TourStep[]
  snapshots: ClientSnapshot[]
  appends: AppendEvent[]
  failover?: FailoverDelivery
  fates: MessageFate[]
  clients: ClientOutcome[]
  cutStep: number
  healStep: number
  /** Messages appended in the whole run (a message delivered twice counts once). */
  total: number
  everyClientHoldsAll: boolean
  /** Rule 4 (docs/protocol.md) rebindings counted by the nodes while every link was up (the fast path promises 0). */
  fixupsWhileConnected: number
  elapsedMs: number
  /** Set when an invariant broke or a step failed; the report shows it in red. */
  failure?: string
}

/** The short label of a Message-ID the tour made (`eu-2@tour.mailweave` → `eu-2`). */
export const labelOf = (id: string): string => id.replace(/@.*$/, '')
