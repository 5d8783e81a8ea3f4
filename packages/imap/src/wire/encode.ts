import type { Address, BodyStructure, Disposition, Envelope } from './BodyStructure.ts'
import type { FetchItem } from './Command.ts'
import { formatDateTime } from './dateTime.ts'
import { encodeMutf7 } from './mutf7.ts'
import type { SequenceSet } from './SequenceSet.ts'

/**
 * One value of a server response. Build tokens with {@link atom}, {@link str}, {@link nstr},
 * {@link literal}, {@link num}, {@link list} and friends; the encoder decides the bytes.
 */
export type Token =
  | { readonly kind: 'atom'; readonly text: string }
  | { readonly kind: 'string'; readonly value: string | Uint8Array }
  | { readonly kind: 'literal'; readonly value: Uint8Array }
  | { readonly kind: 'nil' }
  | { readonly kind: 'number'; readonly value: number | bigint }
  | { readonly kind: 'list'; readonly items: readonly Token[] }
  /** Tokens written back to back with no separator (multipart bodies: `1*body`). */
  | { readonly kind: 'concat'; readonly items: readonly Token[] }
  /** Bytes encoded already (as latin1 text), see {@link preEncode}. */
  | { readonly kind: 'raw'; readonly text: string }

/** Encoding choices that depend on the session. */
export interface EncodeOptions {
  /** UTF8=ACCEPT is enabled: UTF-8 may appear inside quoted strings instead of forcing a literal. */
  readonly utf8?: boolean
}

const CRLF = Buffer.from('\r\n', 'latin1')
const MAX_QUOTED = 4096
const PRINTABLE = /^[\x20-\x7e]*$/
const TAG = /^[\x21-\x7e]+$/
const utf8Strict = new TextDecoder('utf-8', { fatal: true })

/** Text sent verbatim (keywords, flags, item names such as `BODY[1]<0>`); RangeError unless printable ASCII. */
export function atom(text: string): Token {
  if (text.length === 0 || !PRINTABLE.test(text)) throw new RangeError(`not printable ASCII: ${JSON.stringify(text)}`)
  return { kind: 'atom', text }
}

/** A string, sent quoted when that is safe and short, otherwise as a literal. Strings are UTF-8 encoded. */
export function str(value: string | Uint8Array): Token {
  return { kind: 'string', value }
}

/** A string or NIL for `undefined`. */
export function nstr(value: string | Uint8Array | undefined): Token {
  return value === undefined ? NIL : str(value)
}

/** Bytes always sent as a `{n}` literal (message bodies and sections). */
export function literal(value: Uint8Array | string): Token {
  return { kind: 'literal', value: typeof value === 'string' ? Buffer.from(value, 'utf8') : value }
}

/** The NIL token. */
export const NIL: Token = { kind: 'nil' }

/** A non-negative integer (number or bigint for mod-sequences); RangeError otherwise. */
export function num(value: number | bigint): Token {
  if (typeof value === 'number' ? !Number.isSafeInteger(value) || value < 0 : value < 0n)
    throw new RangeError(`not a non-negative integer: ${value}`)
  return { kind: 'number', value }
}

/** A parenthesised, space-separated list. */
export function list(items: readonly Token[]): Token {
  return { kind: 'list', items }
}

/** A flag list such as `(\Seen $Forwarded)`. */
export function flagList(flags: readonly string[]): Token {
  return list(flags.map(atom))
}

/** A mailbox name: modified UTF-7 unless `utf8` (UTF8=ACCEPT), with INBOX in canonical case. */
export function mailboxName(name: string, utf8 = false): Token {
  if (name.toUpperCase() === 'INBOX') return str('INBOX')
  return str(utf8 ? name : encodeMutf7(name))
}

/** A quoted `date-time` such as `"05-Jul-1996 09:44:25 +0000"` (INTERNALDATE). */
export function dateTime(date: Date): Token {
  return str(formatDateTime(date))
}

/** A sequence set (e.g. for `* VANISHED` or `ESEARCH ALL`). */
export function sequenceSet(set: SequenceSet): Token {
  return atom(set.toString())
}

/** Serialises one token; exposed for callers that assemble unusual responses. */
export function encodeToken(token: Token, options: EncodeOptions = {}): Buffer {
  const out = new Output()
  writeToken(out, token, options)
  return out.finish()
}

/**
 * `token` encoded once for reuse in many responses (a cached ENVELOPE sent on every listing);
 * `token` itself when it holds a literal too large to keep as text.
 */
export function preEncode(token: Token, options: EncodeOptions = {}): Token {
  const out = new Output()
  writeToken(out, token, options)
  // one flat string: the text was built by many appends (a rope), and every response that
  // embeds it would otherwise walk that rope again when it is turned into bytes
  return out.isText ? { kind: 'raw', text: Buffer.from(out.text, 'latin1').toString('latin1') } : token
}

/** Literals at least this long stay separate buffers (views, never copied into the text). */
const BIG_LITERAL = 2048
const QUOTABLE_TEXT = /^[\x20-\x7e]*$/

/**
 * Response bytes under construction: text as one latin1 string (one bit of JS string per
 * token, not one Buffer: a FETCH of 10,000 envelopes has hundreds of thousands of tokens),
 * with large literals kept as separate buffers so message bodies are copied only once.
 */
class Output {
  readonly #parts: Buffer[] = []
  text = ''

  bytes(b: Uint8Array): void {
    const view = Buffer.from(b.buffer, b.byteOffset, b.byteLength)
    if (b.length < BIG_LITERAL) {
      this.text += view.toString('latin1')
      return
    }
    this.#flush()
    this.#parts.push(view)
  }

  /** Nothing but text so far. */
  get isText(): boolean {
    return this.#parts.length === 0
  }

  #flush(): void {
    if (this.text.length === 0) return
    this.#parts.push(Buffer.from(this.text, 'latin1'))
    this.text = ''
  }

  finish(): Buffer {
    if (this.#parts.length === 0) return Buffer.from(this.text, 'latin1')
    this.#flush()
    return Buffer.concat(this.#parts)
  }
}

function writeToken(out: Output, token: Token, options: EncodeOptions): void {
  switch (token.kind) {
    case 'atom':
      out.text += token.text
      return
    case 'nil':
      out.text += 'NIL'
      return
    case 'raw':
      out.text += token.text
      return
    case 'number':
      out.text += String(token.value)
      return
    case 'literal':
      writeLiteral(out, token.value)
      return
    case 'string': {
      const v = token.value
      // the common case: short printable ASCII, quoted as it is
      if (typeof v === 'string' && v.length <= MAX_QUOTED && QUOTABLE_TEXT.test(v)) {
        out.text += `"${v.includes('"') || v.includes('\\') ? v.replace(/["\\]/g, '\\$&') : v}"`
        return
      }
      const bytes = typeof v === 'string' ? Buffer.from(v, 'utf8') : Buffer.from(v)
      if (quotable(bytes, options)) out.text += `"${bytes.toString('latin1').replace(/["\\]/g, '\\$&')}"`
      else writeLiteral(out, bytes)
      return
    }
    case 'list':
    case 'concat': {
      const isList = token.kind === 'list'
      if (isList) out.text += '('
      const items = token.items
      for (let i = 0; i < items.length; i++) {
        if (i > 0 && isList) out.text += ' '
        writeToken(out, items[i]!, options)
      }
      if (isList) out.text += ')'
    }
  }
}

function writeLiteral(out: Output, bytes: Uint8Array): void {
  out.text += `{${bytes.length}}\r\n`
  out.bytes(bytes)
}

function quotable(bytes: Buffer, options: EncodeOptions): boolean {
  if (bytes.length > MAX_QUOTED) return false
  let eightBit = false
  for (const b of bytes) {
    if (b === 0x00 || b === 0x0a || b === 0x0d) return false
    if (b >= 0x80) eightBit = true
  }
  if (!eightBit) return true
  if (!options.utf8) return false
  try {
    utf8Strict.decode(bytes)
    return true
  } catch {
    return false
  }
}

/** Response codes (RFC 9051 `resp-text-code` plus UIDPLUS, CONDSTORE/QRESYNC, RFC 5530). */
export type ResponseCode =
  | { readonly code: 'APPENDUID'; readonly uidValidity: number; readonly uids: SequenceSet | number }
  | { readonly code: 'COPYUID'; readonly uidValidity: number; readonly source: SequenceSet; readonly destination: SequenceSet }
  | { readonly code: 'UIDVALIDITY' | 'UIDNEXT' | 'UNSEEN' | 'APPENDLIMIT'; readonly value: number }
  | { readonly code: 'HIGHESTMODSEQ'; readonly value: number | bigint }
  | { readonly code: 'CAPABILITY'; readonly capabilities: readonly string[] }
  | { readonly code: 'PERMANENTFLAGS'; readonly flags: readonly string[] }
  | { readonly code: 'BADCHARSET'; readonly charsets?: readonly string[] }
  | { readonly code: 'MODIFIED'; readonly set: SequenceSet }
  | {
      readonly code:
        | 'ALERT'
        | 'TRYCREATE'
        | 'READ-ONLY'
        | 'READ-WRITE'
        | 'PARSE'
        | 'NOMODSEQ'
        | 'UIDNOTSTICKY'
        | 'CLOSED'
        | 'TOOBIG'
        | 'AUTHENTICATIONFAILED'
        | 'AUTHORIZATIONFAILED'
        | 'EXPIRED'
        | 'PRIVACYREQUIRED'
        | 'CONTACTADMIN'
        | 'NOPERM'
        | 'INUSE'
        | 'EXPUNGEISSUED'
        | 'CORRUPTION'
        | 'SERVERBUG'
        | 'CLIENTBUG'
        | 'CANNOT'
        | 'LIMIT'
        | 'OVERQUOTA'
        | 'ALREADYEXISTS'
        | 'NONEXISTENT'
        | 'UNAVAILABLE'
        | 'HASCHILDREN'
        | 'UNKNOWN-CTE'
    }

/** The bracketed code, e.g. `[COPYUID 38505 304,319:320 3956:3958]`. */
export function encodeResponseCode(rc: ResponseCode): string {
  const body = ((): string => {
    switch (rc.code) {
      case 'APPENDUID':
        return `APPENDUID ${rc.uidValidity} ${rc.uids.toString()}`
      case 'COPYUID':
        return `COPYUID ${rc.uidValidity} ${rc.source.toString()} ${rc.destination.toString()}`
      case 'UIDVALIDITY':
      case 'UIDNEXT':
      case 'UNSEEN':
      case 'APPENDLIMIT':
      case 'HIGHESTMODSEQ':
        return `${rc.code} ${encodeToken(num(rc.value)).toString('latin1')}`
      case 'CAPABILITY':
        return ['CAPABILITY', ...rc.capabilities.map((c) => checkedAtom(c))].join(' ')
      case 'PERMANENTFLAGS':
        return `PERMANENTFLAGS (${rc.flags.map((f) => checkedAtom(f)).join(' ')})`
      case 'BADCHARSET':
        return rc.charsets === undefined || rc.charsets.length === 0
          ? 'BADCHARSET'
          : `BADCHARSET (${rc.charsets.map((c) => checkedAtom(c)).join(' ')})`
      case 'MODIFIED':
        return `MODIFIED ${rc.set.toString()}`
      default:
        return rc.code
    }
  })()
  return `[${body}]`
}

function checkedAtom(text: string): string {
  atom(text)
  return text
}

/**
 * Response text with line breaks removed, so a message can never end the response early.
 * (Text starting with `[` is the caller's to avoid: clients would read it as a code.)
 */
function cleanText(text: string, fallback: string): string {
  const clean = text.replace(/[\r\n\0]+/g, ' ').trim()
  return clean.length === 0 ? fallback : clean
}

function statusLine(tag: string, status: string, text: string, code: ResponseCode | undefined): Buffer {
  const words = cleanText(text, status === 'OK' ? 'completed' : 'failed')
  const prefix = code === undefined ? '' : `${encodeResponseCode(code)} `
  return Buffer.concat([Buffer.from(`${tag} ${status} ${prefix}`, 'latin1'), Buffer.from(words, 'utf8'), CRLF])
}

/** `tag OK|NO|BAD [code] text` + CRLF; RangeError for a tag that is not a valid IMAP tag. */
export function encodeTagged(tag: string, status: 'OK' | 'NO' | 'BAD', text: string, code?: ResponseCode): Buffer {
  if (!TAG.test(tag) || /[(){%*"\\+]/.test(tag)) throw new RangeError(`invalid tag: ${JSON.stringify(tag)}`)
  return statusLine(tag, status, text, code)
}

/** `* OK|NO|BAD|BYE|PREAUTH [code] text` + CRLF. */
export function encodeUntaggedStatus(status: 'OK' | 'NO' | 'BAD' | 'BYE' | 'PREAUTH', text: string, code?: ResponseCode): Buffer {
  return statusLine('*', status, text, code)
}

/** `* ` + tokens separated by SP + CRLF, e.g. `encodeUntagged([num(5), atom('EXISTS')])`. */
export function encodeUntagged(tokens: readonly Token[], options: EncodeOptions = {}): Buffer {
  const out = new Output()
  out.text = '*'
  for (const token of tokens) {
    out.text += ' '
    writeToken(out, token, options)
  }
  out.text += '\r\n'
  return out.finish()
}

/** A continuation request `+ text` + CRLF (`+ Ready`, or a base64 SASL challenge). */
export function encodeContinuation(text = 'Ready'): Buffer {
  return Buffer.from(`+ ${cleanText(text, 'Ready')}\r\n`, 'utf8')
}

/**
 * `* seq FETCH (name value ...)` + CRLF. Names are printable ASCII strings (see
 * {@link fetchItemResponseName}) or tokens.
 */
export function encodeFetch(seq: number, items: ReadonlyArray<readonly [string | Token, Token]>, options: EncodeOptions = {}): Buffer {
  num(seq) // RangeError unless a non-negative integer
  const out = new Output()
  out.text = `* ${seq} FETCH (`
  items.forEach(([name, value], i) => {
    if (i > 0) out.text += ' '
    if (typeof name === 'string') out.text += itemName(name)
    else writeToken(out, name, options)
    out.text += ' '
    writeToken(out, value, options)
  })
  out.text += ')\r\n'
  return out.finish()
}

const itemNames = new Map<string, string>()
/** A FETCH item name, checked like an atom once per distinct name. */
function itemName(name: string): string {
  let known = itemNames.get(name)
  if (known === undefined) {
    known = (atom(name) as { text: string }).text
    if (itemNames.size < 256) itemNames.set(name, known)
  }
  return known
}

/**
 * The name a FETCH reply uses for a requested item: `BODY.PEEK[...]` answers as `BODY[...]`,
 * a partial as `BODY[...]<offset>`; header field names are echoed as atoms or strings.
 */
export function fetchItemResponseName(item: FetchItem): Token {
  if (item.type !== 'BODY[]') return atom(item.type)
  const s = item.section
  let spec = s.part.join('.')
  if (s.text !== undefined) spec += (spec.length > 0 ? '.' : '') + s.text
  const tail = `]${item.partial !== undefined ? `<${item.partial.offset}>` : ''}`
  if (s.fields === undefined) return atom(`BODY[${spec}${tail}`)
  const fields = s.fields.map((f) => (/^[\x21-\x7e]+$/.test(f) && !/[(){%*"\\\]]/.test(f) ? atom(f) : str(f)))
  return { kind: 'concat', items: [atom(`BODY[${spec} `), list(fields), atom(tail)] }
}

function addressList(addresses: readonly Address[] | undefined): Token {
  if (addresses === undefined || addresses.length === 0) return NIL
  // `"(" 1*address ")"`: addresses back to back, no SP (the RFC 3501 sample's space is a line wrap).
  return list([{ kind: 'concat', items: addresses.map((a) => list([nstr(a.name), nstr(a.adl), nstr(a.mailbox), nstr(a.host)])) }])
}

/** The ENVELOPE structure (RFC 9051 `envelope`). */
export function encodeEnvelope(e: Envelope): Token {
  return list([
    nstr(e.date),
    nstr(e.subject),
    addressList(e.from),
    addressList(e.sender),
    addressList(e.replyTo),
    addressList(e.to),
    addressList(e.cc),
    addressList(e.bcc),
    nstr(e.inReplyTo),
    nstr(e.messageId),
  ])
}

function params(p: ReadonlyArray<readonly [string, string]> | undefined): Token {
  return p === undefined || p.length === 0 ? NIL : list(p.flatMap(([k, v]) => [str(k), str(v)]))
}

function disposition(d: Disposition | undefined): Token {
  return d === undefined ? NIL : list([str(d.type), params(d.params)])
}

function language(l: readonly string[] | undefined): Token {
  if (l === undefined || l.length === 0) return NIL
  return l.length === 1 ? str(l[0] ?? '') : list(l.map(str))
}

const EMPTY_TEXT_PART: BodyStructure = {
  type: 'text',
  subtype: 'plain',
  params: [['charset', 'us-ascii']],
  encoding: '7bit',
  size: 0,
  lines: 0,
}

/**
 * A `body` structure: `extensible` selects BODYSTRUCTURE (with extension data: md5,
 * disposition, language, location for parts; params, disposition, language, location for
 * multiparts) over the plain FETCH BODY form.
 */
export function encodeBodyStructure(body: BodyStructure, extensible: boolean): Token {
  if ('parts' in body) {
    const parts = (body.parts.length > 0 ? body.parts : [EMPTY_TEXT_PART]).map((p) => encodeBodyStructure(p, extensible))
    const items: Token[] = [{ kind: 'concat', items: parts }, str(body.subtype)]
    if (extensible) items.push(params(body.params), disposition(body.disposition), language(body.language), nstr(body.location))
    return list(items)
  }
  const type = body.type.toLowerCase()
  const items: Token[] = [
    str(body.type),
    str(body.subtype),
    params(body.params),
    nstr(body.id),
    nstr(body.description),
    str(body.encoding),
    num(body.size),
  ]
  if (type === 'message' && body.message !== undefined) {
    items.push(encodeEnvelope(body.message.envelope), encodeBodyStructure(body.message.body, extensible), num(body.lines ?? 0))
  } else if (type === 'text') items.push(num(body.lines ?? 0))
  if (extensible) items.push(nstr(body.md5), disposition(body.disposition), language(body.language), nstr(body.location))
  return list(items)
}
