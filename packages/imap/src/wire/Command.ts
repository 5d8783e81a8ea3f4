import type { SequenceSet } from './SequenceSet.ts'

// The typed form of every client command parseCommand understands. Mailbox names are
// decoded (modified UTF-7 -> Unicode, any-case INBOX -> "INBOX"); keywords that the
// protocol treats case-insensitively (command names, STATUS items, capabilities) are
// upper-cased; flags keep their spelling except system flags, which are canonicalised.

/** A CONDSTORE mod-sequence (RFC 7162): unsigned 63-bit, hence a bigint. */
export type ModSeq = bigint

/** Commands that take no arguments. */
export interface SimpleCommand {
  readonly tag: string
  readonly name: 'CAPABILITY' | 'NOOP' | 'LOGOUT' | 'STARTTLS' | 'CHECK' | 'CLOSE' | 'UNSELECT' | 'IDLE' | 'NAMESPACE'
}

/** AUTHENTICATE (RFC 9051 6.2.2, SASL-IR RFC 4959). `initialResponse` is decoded base64; `=` gives an empty one. */
export interface AuthenticateCommand {
  readonly tag: string
  readonly name: 'AUTHENTICATE'
  readonly mechanism: string
  readonly initialResponse?: Uint8Array
}

/** LOGIN with UTF-8 decoded credentials. */
export interface LoginCommand {
  readonly tag: string
  readonly name: 'LOGIN'
  readonly username: string
  readonly password: string
}

/** QRESYNC select parameters (RFC 7162 3.2.5). */
export interface QresyncParams {
  readonly uidValidity: number
  readonly modSeq: ModSeq
  readonly knownUids?: SequenceSet
  readonly sequenceMatch?: { readonly sequences: SequenceSet; readonly uids: SequenceSet }
}

/** SELECT / EXAMINE with optional CONDSTORE or QRESYNC parameters. */
export interface SelectCommand {
  readonly tag: string
  readonly name: 'SELECT' | 'EXAMINE'
  readonly mailbox: string
  readonly condstore: boolean
  readonly qresync?: QresyncParams
}

/** Commands whose only argument is a mailbox. */
export interface MailboxCommand {
  readonly tag: string
  readonly name: 'CREATE' | 'DELETE' | 'SUBSCRIBE' | 'UNSUBSCRIBE'
  readonly mailbox: string
}

/** RENAME `from` to `to`. */
export interface RenameCommand {
  readonly tag: string
  readonly name: 'RENAME'
  readonly from: string
  readonly to: string
}

/** STATUS data items (RFC 9051, CONDSTORE, APPENDLIMIT). */
export type StatusItem = 'MESSAGES' | 'RECENT' | 'UIDNEXT' | 'UIDVALIDITY' | 'UNSEEN' | 'DELETED' | 'SIZE' | 'HIGHESTMODSEQ' | 'APPENDLIMIT'

/** LIST, including the RFC 5258 extended form (selection options, several patterns, RETURN). */
export interface ListCommand {
  readonly tag: string
  readonly name: 'LIST'
  readonly reference: string
  readonly patterns: readonly string[]
  /** Upper-cased, e.g. `SUBSCRIBED`, `RECURSIVEMATCH`, `SPECIAL-USE`. */
  readonly selectOptions: readonly string[]
  /** Upper-cased return options other than STATUS, e.g. `CHILDREN`, `SUBSCRIBED`. */
  readonly returnOptions: readonly string[]
  /** Items of `RETURN (STATUS (...))` (RFC 5819), when present. */
  readonly returnStatus?: readonly StatusItem[]
}

/** LSUB (IMAP4rev1). */
export interface LsubCommand {
  readonly tag: string
  readonly name: 'LSUB'
  readonly reference: string
  readonly pattern: string
}

/** STATUS mailbox (items). */
export interface StatusCommand {
  readonly tag: string
  readonly name: 'STATUS'
  readonly mailbox: string
  readonly items: readonly StatusItem[]
}

/** One message of an APPEND (several with MULTIAPPEND, RFC 3502). */
export interface AppendMessage {
  readonly flags: readonly string[]
  readonly date?: Date
  readonly content: Buffer
}

/** APPEND mailbox [flags] [date-time] literal ... */
export interface AppendCommand {
  readonly tag: string
  readonly name: 'APPEND'
  readonly mailbox: string
  readonly messages: readonly AppendMessage[]
}

/** EXPUNGE, or UID EXPUNGE (UIDPLUS) when `uid` is true, then with its `sequenceSet` of UIDs. */
export interface ExpungeCommand {
  readonly tag: string
  readonly name: 'EXPUNGE'
  readonly uid: boolean
  readonly sequenceSet?: SequenceSet
}

/** A SEARCH key (RFC 9051 6.4.4 `search-key`, plus CONDSTORE MODSEQ and WITHIN YOUNGER/OLDER). */
export type SearchKey =
  | {
      readonly type:
        | 'ALL'
        | 'ANSWERED'
        | 'DELETED'
        | 'DRAFT'
        | 'FLAGGED'
        | 'NEW'
        | 'OLD'
        | 'RECENT'
        | 'SEEN'
        | 'UNANSWERED'
        | 'UNDELETED'
        | 'UNDRAFT'
        | 'UNFLAGGED'
        | 'UNSEEN'
    }
  | { readonly type: 'KEYWORD' | 'UNKEYWORD'; readonly flag: string }
  | { readonly type: 'BCC' | 'BODY' | 'CC' | 'FROM' | 'SUBJECT' | 'TEXT' | 'TO'; readonly value: string }
  | { readonly type: 'HEADER'; readonly field: string; readonly value: string }
  /** `date` is the calendar day as `YYYY-MM-DD`. */
  | { readonly type: 'BEFORE' | 'ON' | 'SINCE' | 'SENTBEFORE' | 'SENTON' | 'SENTSINCE'; readonly date: string }
  | { readonly type: 'LARGER' | 'SMALLER'; readonly size: number }
  /** Seconds relative to now (RFC 5032). */
  | { readonly type: 'YOUNGER' | 'OLDER'; readonly seconds: number }
  | { readonly type: 'UID' | 'SEQUENCE'; readonly set: SequenceSet }
  | {
      readonly type: 'MODSEQ'
      readonly modSeq: ModSeq
      readonly entry?: { readonly name: string; readonly entryType: 'priv' | 'shared' | 'all' }
    }
  | { readonly type: 'NOT'; readonly key: SearchKey }
  | { readonly type: 'OR'; readonly left: SearchKey; readonly right: SearchKey }
  /** A parenthesised list: all keys must match. */
  | { readonly type: 'AND'; readonly keys: readonly SearchKey[] }

/** SEARCH / UID SEARCH; `criteria` are ANDed. String values are decoded with `charset`. */
export interface SearchCommand {
  readonly tag: string
  readonly name: 'SEARCH'
  readonly uid: boolean
  readonly charset?: string
  /** ESEARCH `RETURN (...)` options (RFC 4731), upper-cased; absent for a plain SEARCH. */
  readonly returnOptions?: readonly string[]
  readonly criteria: readonly SearchKey[]
}

/** FETCH attributes without arguments. `BODY` is the non-extensible body structure. */
export type FetchAttribute =
  | 'FLAGS'
  | 'INTERNALDATE'
  | 'RFC822.SIZE'
  | 'ENVELOPE'
  | 'BODYSTRUCTURE'
  | 'BODY'
  | 'UID'
  | 'MODSEQ'
  | 'RFC822'
  | 'RFC822.HEADER'
  | 'RFC822.TEXT'

/** A `section` of BODY[...] (RFC 9051 6.4.5): `part` is the dotted part path, empty for the whole message. */
export interface BodySection {
  readonly part: readonly number[]
  readonly text?: 'HEADER' | 'HEADER.FIELDS' | 'HEADER.FIELDS.NOT' | 'TEXT' | 'MIME'
  /** Header field names for HEADER.FIELDS / HEADER.FIELDS.NOT, as the client spelled them. */
  readonly fields?: readonly string[]
}

/** One FETCH item: a plain attribute or a `BODY[section]<partial>` / `BODY.PEEK[...]`. */
export type FetchItem =
  | { readonly type: FetchAttribute }
  | {
      readonly type: 'BODY[]'
      readonly peek: boolean
      readonly section: BodySection
      readonly partial?: { readonly offset: number; readonly length: number }
    }

/**
 * FETCH / UID FETCH. Macros (ALL, FAST, FULL) are expanded into `items` and named in `macro`.
 * The server adds UID to UID FETCH replies and MODSEQ when `changedSince` is set; the parser
 * does not add them to `items`. `vanished` is only accepted on UID FETCH with CHANGEDSINCE.
 */
export interface FetchCommand {
  readonly tag: string
  readonly name: 'FETCH'
  readonly uid: boolean
  readonly sequenceSet: SequenceSet
  readonly items: readonly FetchItem[]
  readonly macro?: 'ALL' | 'FAST' | 'FULL'
  readonly changedSince?: ModSeq
  readonly vanished: boolean
}

/** STORE / UID STORE: `FLAGS` = set, `+FLAGS` = add, `-FLAGS` = remove. */
export interface StoreCommand {
  readonly tag: string
  readonly name: 'STORE'
  readonly uid: boolean
  readonly sequenceSet: SequenceSet
  readonly operation: 'set' | 'add' | 'remove'
  readonly silent: boolean
  readonly flags: readonly string[]
  readonly unchangedSince?: ModSeq
}

/** COPY / MOVE and their UID forms. */
export interface CopyCommand {
  readonly tag: string
  readonly name: 'COPY' | 'MOVE'
  readonly uid: boolean
  readonly sequenceSet: SequenceSet
  readonly mailbox: string
}

/** ENABLE with upper-cased capability names (RFC 5161). */
export interface EnableCommand {
  readonly tag: string
  readonly name: 'ENABLE'
  readonly capabilities: readonly string[]
}

/** ID (RFC 2971): `params` is undefined for `ID NIL`; a NIL value is `undefined`. */
export interface IdCommand {
  readonly tag: string
  readonly name: 'ID'
  readonly params?: ReadonlyArray<readonly [string, string | undefined]>
}

/** Every command {@link parseCommand} can return, discriminated by `name`. */
export type Command =
  | SimpleCommand
  | AuthenticateCommand
  | LoginCommand
  | SelectCommand
  | MailboxCommand
  | RenameCommand
  | ListCommand
  | LsubCommand
  | StatusCommand
  | AppendCommand
  | ExpungeCommand
  | SearchCommand
  | FetchCommand
  | StoreCommand
  | CopyCommand
  | EnableCommand
  | IdCommand
