import type { Mailbox, MailboxView } from '@mailweave/core'

// The interface the IMAP server needs from the node that holds the mailboxes. It is small on
// purpose: mailbox state and replication live in @mailweave/core `Mailbox`es; the backend adds
// accounts, names, durability and bodies. Refusals a client should read (a name that exists,
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

/**
 * An open mailbox. The server reads through `mailbox` (view, message, onChange) and writes
 * flags and expunges through it; everything that reveals UIDs goes through `expose()` first.
 */
export interface ImapMailbox {
  /**
   * This node's replica (a node: it has a slot). Its `onChange` must report every view change
   * this node observes, local and replicated. Writes through it (`setFlags`, `expunge`) apply
   * at once; they are durable once `flush()` resolves.
   */
  readonly mailbox: Mailbox
  /** This node's modification sequences for the mailbox (see {@link ModSeqSource}). */
  readonly modseq: ModSeqSource
  /**
   * docs/protocol.md rule 5: fixes stranded messages, records an exposure (after the fast-path
   * reservation, if the node does that), and resolves once that exposure is durable. The
   * returned view is the only source of UIDs and UIDNEXT the server may tell a client; it
   * may be cut below the newest messages (`view.size`), which then wait for a later call.
   */
  expose(): Promise<MailboxView>
  /**
   * Appends a message; resolves with its guid once its body is durable. The message itself
   * may become durable only with the next `expose()` or `flush()`, which callers await
   * before they acknowledge (APPEND and COPY expose right after: one metadata fsync).
   */
  append(raw: Uint8Array, opts: { flags?: readonly string[]; internalDate?: Date }): Promise<string>
  /** Resolves once every earlier write through `mailbox` (flags, expunges) is durable. */
  flush(): Promise<void>
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
