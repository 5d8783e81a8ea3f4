import type { ImapRoute } from './ImapProxy.ts'
import type { MailboxView, MessageInfo, ViewChange } from '@mailweave/core'

// The interface the IMAP server needs from the node that holds the mailboxes. It is small on
// purpose: mailbox state and replication live in @mailweave/core `Mailbox`es, which the server
// never writes to directly (go-imap's backend Session is the model); the backend adds accounts,
// names, durability and bodies. Refusals a client should read (a name that exists,
// a mailbox that does not) are thrown as `ImapError` (`no('...', 'ALREADYEXISTS')`); any
// other rejection becomes `NO [SERVERBUG]` and is logged. Mailbox names are Unicode strings,
// hierarchy delimiter "/", and "INBOX" is always spelled in upper case.

/** Checks credentials and hands out accounts. */
export interface ImapBackend {
  /**
   * Resolves to the account when `password` is right for `user`, otherwise `undefined`
   * (never says which part was wrong, and takes about as long either way). Each call returns
   * an account object owned by one session, which calls `close()` when it ends.
   */
  authenticate(user: string, password: string): Promise<ImapAccount | undefined>
  /**
   * Where `user`'s sessions are served, asked after a successful `authenticate` (a
   * deployment of several servers sharing accounts): `forward` makes the session a proxy to
   * that IMAP server (the login is replayed there); absent, everything is served here.
   */
  route?(user: string): Promise<ImapRoute>
}

/** One logged-in user's view of their mailboxes (one per session). */
export interface ImapAccount {
  /** The canonical user name (used for per-user connection limits). */
  readonly user: string
  /** Every existing mailbox name, INBOX included, in any order. */
  list(): Promise<string[]>
  /**
   * Creates a mailbox with a fresh UIDVALIDITY greater than that of any earlier mailbox of
   * the same name (RFC 3501 2.3.1.1, docs/protocol.md rule 7). Throws `NO [ALREADYEXISTS]` if it exists.
   */
  create(name: string): Promise<void>
  /** Deletes a mailbox (not INBOX: `NO [CANNOT]`); `NO [NONEXISTENT]` when absent. Open handles stay usable. */
  delete(name: string): Promise<void>
  /**
   * Renames `from` and its inferiors (`from/...`) to `to`. The renamed mailbox gets a new
   * UIDVALIDITY if `to` was ever used before. Renaming INBOX moves its messages to `to` and
   * leaves INBOX empty (RFC 3501 6.3.5). `NO [NONEXISTENT]` / `NO [ALREADYEXISTS]` as usual.
   */
  rename(from: string, to: string): Promise<void>
  /** The subscribed names (they need not exist). */
  subscriptions(): Promise<string[]>
  /** Adds (`on`) or removes a subscription; idempotent. */
  subscribe(name: string, on: boolean): Promise<void>
  /** A handle on an existing mailbox, or `undefined` when there is no such mailbox. */
  open(name: string): Promise<ImapMailbox | undefined>
  /** Called once when the session ends. */
  close?(): void
}

/** One message to append: its raw bytes, flags and INTERNALDATE (default: now). */
export interface AppendInput {
  readonly raw: Uint8Array
  readonly flags?: readonly string[]
  readonly internalDate?: Date
}

/** What {@link ImapMailbox.append} resolves with: the new messages' guids and the exposure taken after them. */
export interface Appended {
  readonly guids: string[]
  readonly view: MailboxView
}

/** A flag change of one message: flags to add and flags to remove. */
export interface FlagChange {
  readonly guid: string
  readonly add?: readonly string[]
  readonly remove?: readonly string[]
}

/**
 * An open mailbox. The server reads the node's replica through `view`, `message` and
 * `onChange`, and changes it only through the operations below, each of which applies
 * its change at once (visible to `view`/`message` when the call returns) and resolves only
 * once the change is durable; a rejected operation leaves nothing of itself behind that a
 * client could be told about. Everything that reveals UIDs goes through `expose()` first.
 * {@link DurableMailbox} implements all of this over a core `Mailbox`.
 */
export interface ImapMailbox {
  /** This node's modification sequences for the mailbox (see {@link ModSeqSource}). */
  readonly modseq: ModSeqSource
  /** The current view (not an exposure: tell no client a UID from it that `expose()` has not shown). */
  view(): MailboxView
  /** The metadata of a message this replica knows (expunged ones too), or `undefined`. */
  message(guid: string): MessageInfo | undefined
  /** Every view change this node observes, local and replicated; returns the unsubscribe function. */
  onChange(listener: (change: ViewChange) => void): () => void
  /**
   * docs/protocol.md rule 5: fixes stranded messages, records an exposure (after the fast-path
   * reservation, if the node does that), and resolves once that exposure is durable. The
   * returned view is the only source of UIDs and UIDNEXT the server may tell a client; it
   * may be cut below the newest messages (`view.size`), which then wait for a later call.
   */
  expose(): Promise<MailboxView>
  /**
   * Appends the messages, all or nothing, then exposes: resolves with their guids (in order)
   * and that exposure once bodies, messages and exposure are durable (one round of fsyncs for
   * all). When one fails, the others are expunged again and it rejects. A message the
   * exposure does not show yet (stranded) has no UID to tell.
   */
  append(messages: readonly AppendInput[]): Promise<Appended>
  /** Changes flags; resolves once durable. */
  setFlags(changes: readonly FlagChange[]): Promise<void>
  /** Expunges the messages; resolves once durable. */
  expunge(guids: readonly string[]): Promise<void>
  /**
   * Copies the messages (bytes, flags, INTERNALDATE) into `target` (a handle of the same
   * backend) exactly as `target.append` would (all or nothing, exposed, durable). Rejects
   * `NO [UNAVAILABLE]` when a body is not on this node. MOVE is this plus `expunge` of the
   * originals.
   */
  copyTo(target: ImapMailbox, guids: readonly string[]): Promise<Appended>
  /**
   * The raw bytes of a message the mailbox knows (expunged ones too, while stored), or
   * `undefined` when the body is not available here (not replicated yet, or deleted).
   */
  body(guid: string): Promise<Uint8Array | undefined>
  /** The session is done with this handle (it has already unsubscribed from `onChange`). */
  release(): void
}

/**
 * CONDSTORE/QRESYNC mod-sequences kept by one node for one mailbox (RFC 7162). They are
 * node-local (not replicated): `ModSeqIndex` derives them from the view changes this node
 * observes. Requirements: every view change raises `highest` and gives each message it added
 * or re-flagged that new value; `highest` never goes down, not even across a restart
 * (`ModSeqIndex` starts from a clock-based value, so losing its state is safe).
 */
export interface ModSeqSource {
  /** HIGHESTMODSEQ: at least the mod-sequence of every message in the view; never decreases. */
  readonly highest: bigint
  /** The mod-sequence of the message at `uid` (the caller only asks about uids in the view). */
  of(uid: number): bigint
  /**
   * UIDs removed from the view with a mod-sequence above `since`, as inclusive `[low, high]`
   * ranges; `undefined` when history that old is not kept (the server then reports every UID
   * it cannot vouch for, which RFC 7162 allows).
   */
  vanishedSince(since: bigint): Array<[number, number]> | undefined
}
