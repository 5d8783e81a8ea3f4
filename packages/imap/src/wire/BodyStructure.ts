// Plain data shapes for the FETCH ENVELOPE / BODY / BODYSTRUCTURE responses (RFC 3501 7.4.2,
// RFC 9051 7.5.2). Producing them from a MIME message is the MIME parser's job; every
// optional field absent here is sent as NIL.

/**
 * One address of an envelope. A group (RFC 5322) is sent as a start marker
 * `{ mailbox: groupName }` (host absent), its members, then an end marker `{}`.
 */
export interface Address {
  readonly name?: string
  /** Source route; obsolete, normally absent. */
  readonly adl?: string
  readonly mailbox?: string
  readonly host?: string
}

/**
 * The ENVELOPE of a message, fields as in the header (decoded no further than RFC 9051 asks:
 * strings are sent as they are given). Empty address lists are sent as NIL. Filling in
 * sender and reply-to from From when absent is the producer's job.
 */
export interface Envelope {
  readonly date?: string
  readonly subject?: string
  readonly from?: readonly Address[]
  readonly sender?: readonly Address[]
  readonly replyTo?: readonly Address[]
  readonly to?: readonly Address[]
  readonly cc?: readonly Address[]
  readonly bcc?: readonly Address[]
  readonly inReplyTo?: string
  readonly messageId?: string
}

/** A Content-Disposition: `type` such as `attachment`, with its parameters. */
export interface Disposition {
  readonly type: string
  readonly params?: ReadonlyArray<readonly [string, string]>
}

/** Extension data shared by single parts and multiparts (BODYSTRUCTURE only). */
interface BodyExtension {
  readonly disposition?: Disposition
  readonly language?: readonly string[]
  readonly location?: string
}

/**
 * A non-multipart body part. `lines` is the size in text lines, required by the grammar for
 * `text/*` and `message/rfc822` (sent as 0 when absent). `message` carries the envelope and
 * structure of an encapsulated `message/rfc822` or `message/global`; without it such a part
 * is sent as a basic part.
 */
export interface BodyPart extends BodyExtension {
  readonly type: string
  readonly subtype: string
  readonly params?: ReadonlyArray<readonly [string, string]>
  readonly id?: string
  readonly description?: string
  /** Content-Transfer-Encoding, e.g. `7BIT`, `BASE64`. */
  readonly encoding: string
  /** Size in octets of the body in its transfer encoding. */
  readonly size: number
  readonly lines?: number
  readonly message?: { readonly envelope: Envelope; readonly body: BodyStructure }
  readonly md5?: string
}

/** A `multipart/<subtype>` body. An empty `parts` is sent as one empty text/plain part. */
export interface MultipartBody extends BodyExtension {
  readonly parts: readonly BodyStructure[]
  readonly subtype: string
  readonly params?: ReadonlyArray<readonly [string, string]>
}

/** The structure of a message body: a single part or a multipart (tell them apart with `'parts' in body`). */
export type BodyStructure = BodyPart | MultipartBody
