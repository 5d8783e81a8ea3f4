import type { AppendMessage, Command, QresyncParams, StatusItem } from './Command.ts'
import type { CommandFrame } from './CommandReader.ts'
import { parseTag } from './CommandReader.ts'
import { parseDateTime } from './dateTime.ts'
import { decodeMutf7 } from './mutf7.ts'
import { parseFetch } from './parseFetch.ts'
import { parseSearch } from './parseSearch.ts'
import { readSequenceSet } from './readSequenceSet.ts'
import { ParseError, WireCursor, isAstringChar, isListChar } from './WireCursor.ts'

/** Options that change how arguments are decoded. */
export interface ParseOptions {
  /** UTF8=ACCEPT is enabled (RFC 9051/6855): mailbox names are UTF-8, not modified UTF-7. */
  readonly utf8?: boolean
}

/**
 * A command the server must refuse: answer `tag BAD message` (or untagged `* BAD` when `tag`
 * is absent). `code` is `BADCHARSET` for a SEARCH charset we cannot decode (answer NO).
 */
export interface ParseFailure {
  readonly ok: false
  readonly tag?: string
  readonly message: string
  readonly code?: 'BADCHARSET'
}

/** The outcome of {@link parseCommand}. */
export type ParseResult = { readonly ok: true; readonly command: Command } | ParseFailure

const SIMPLE = new Set(['CAPABILITY', 'NOOP', 'LOGOUT', 'STARTTLS', 'CHECK', 'CLOSE', 'UNSELECT', 'IDLE', 'NAMESPACE'])
const UID_COMMANDS = new Set(['COPY', 'MOVE', 'FETCH', 'SEARCH', 'STORE', 'EXPUNGE'])
const STATUS_ITEMS = new Set<string>([
  'MESSAGES',
  'RECENT',
  'UIDNEXT',
  'UIDVALIDITY',
  'UNSEEN',
  'DELETED',
  'SIZE',
  'HIGHESTMODSEQ',
  'APPENDLIMIT',
])
const SYSTEM_FLAGS = new Map(['Answered', 'Flagged', 'Deleted', 'Seen', 'Draft', 'Recent'].map((f) => [f.toUpperCase(), `\\${f}`]))
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/
const utf8Strict = new TextDecoder('utf-8', { fatal: true })

const isTagChar = (c: number): boolean => isAstringChar(c) && c !== 0x2b
const isBase64Char = (c: number): boolean => isAstringChar(c) && c !== 0x2a

/**
 * Parses one framed command into a typed {@link Command}. Never throws on any input: syntax
 * errors, unknown commands and undecodable names come back as `{ ok: false }` with a reason
 * fit for a BAD response and the tag when one could be read.
 */
export function parseCommand(frame: CommandFrame, options: ParseOptions = {}): ParseResult {
  const first = frame.lines[0]
  const tag = first === undefined ? undefined : parseTag(first)
  const c: WireCursor = new WireCursor(frame)
  try {
    if (tag === undefined) c.fail('Missing or invalid tag')
    c.take(isTagChar, 'a tag')
    c.sp()
    let name = c.keyword('a command name')
    let uid = false
    if (name === 'UID') {
      c.sp()
      uid = true
      name = c.keyword('a command name')
      if (!UID_COMMANDS.has(name)) c.fail(`UID ${name} is not a command`)
    }
    const command = parseArguments(c, tag, name, uid, options)
    c.expectEnd()
    return { ok: true, command }
  } catch (e) {
    if (!(e instanceof ParseError)) throw e
    return { ok: false, ...(tag !== undefined ? { tag } : {}), message: e.message, ...(e.code !== undefined ? { code: e.code } : {}) }
  }
}

function parseArguments(c: WireCursor, tag: string, name: string, uid: boolean, options: ParseOptions): Command {
  if (SIMPLE.has(name)) return { tag, name: name as 'NOOP' }
  switch (name) {
    case 'AUTHENTICATE': {
      c.sp()
      const mechanism = c.keyword('a SASL mechanism')
      if (!c.trySp()) return { tag, name, mechanism }
      const text = c.take(isBase64Char, 'an initial response')
      if (text === '=') return { tag, name, mechanism, initialResponse: new Uint8Array(0) }
      if (!BASE64.test(text)) c.fail('Initial response is not base64')
      return { tag, name, mechanism, initialResponse: new Uint8Array(Buffer.from(text, 'base64')) }
    }
    case 'LOGIN': {
      c.sp()
      const username = c.astring()
      c.sp()
      return { tag, name, username, password: c.astring() }
    }
    case 'SELECT':
    case 'EXAMINE':
      return parseSelect(c, tag, name, options)
    case 'CREATE':
    case 'DELETE':
    case 'SUBSCRIBE':
    case 'UNSUBSCRIBE':
      c.sp()
      return { tag, name, mailbox: mailbox(c, options) }
    case 'RENAME': {
      c.sp()
      const from = mailbox(c, options)
      c.sp()
      return { tag, name, from, to: mailbox(c, options) }
    }
    case 'LIST':
      return parseList(c, tag, options)
    case 'LSUB': {
      c.sp()
      const reference = mailbox(c, options, false)
      c.sp()
      return { tag, name, reference, pattern: listMailbox(c, options) }
    }
    case 'STATUS': {
      c.sp()
      const mbox = mailbox(c, options)
      c.sp()
      return { tag, name, mailbox: mbox, items: statusItems(c) }
    }
    case 'APPEND':
      return parseAppend(c, tag, options)
    case 'EXPUNGE':
      if (!uid) return { tag, name, uid }
      c.sp()
      return { tag, name, uid, sequenceSet: readSequenceSet(c) }
    case 'SEARCH':
      return parseSearch(c, tag, uid)
    case 'FETCH':
      return parseFetch(c, tag, uid)
    case 'STORE':
      return parseStore(c, tag, uid)
    case 'COPY':
    case 'MOVE': {
      c.sp()
      const sequenceSet = readSequenceSet(c)
      c.sp()
      return { tag, name, uid, sequenceSet, mailbox: mailbox(c, options) }
    }
    case 'ENABLE': {
      const capabilities: string[] = []
      c.sp()
      do capabilities.push(c.keyword('a capability'))
      while (c.trySp())
      return { tag, name, capabilities }
    }
    case 'ID':
      return parseId(c, tag)
    default:
      return c.fail(`Unknown command ${name}`)
  }
}

/** Decodes a mailbox name per the session's mode; `INBOX` in any case becomes `INBOX`. */
function decodeName(c: WireCursor, bytes: Buffer, options: ParseOptions, normalizeInbox: boolean): string {
  let name: string
  if (!options.utf8 && bytes.every((b) => b >= 0x20 && b <= 0x7e)) {
    const decoded = decodeMutf7(bytes.toString('latin1'))
    if (decoded === undefined) c.fail('Mailbox name is not valid modified UTF-7')
    name = decoded
  } else {
    // 8-bit names without UTF8=ACCEPT are still taken as UTF-8, as many clients send them.
    if (bytes.some((b) => b < 0x20 || b === 0x7f)) c.fail('Control character in mailbox name')
    try {
      name = utf8Strict.decode(bytes)
    } catch {
      c.fail('Mailbox name is not valid UTF-8')
    }
  }
  return normalizeInbox && name.toUpperCase() === 'INBOX' ? 'INBOX' : name
}

function mailbox(c: WireCursor, options: ParseOptions, normalizeInbox = true): string {
  return decodeName(c, c.astringBytes(), options, normalizeInbox)
}

/** `list-mailbox`: like a mailbox name but `%` and `*` are allowed unquoted. */
function listMailbox(c: WireCursor, options: ParseOptions): string {
  const p = c.peek()
  const bytes = p === 0x22 || p === 0x7b ? c.stringBytes() : Buffer.from(c.take(isListChar, 'a mailbox pattern'), 'latin1')
  return decodeName(c, bytes, options, false)
}

function statusItems(c: WireCursor): StatusItem[] {
  c.char('(')
  const items: StatusItem[] = []
  do {
    const item = c.keyword('a status item')
    if (!STATUS_ITEMS.has(item)) c.fail(`Unknown status item ${item}`)
    items.push(item as StatusItem)
  } while (c.trySp())
  c.char(')')
  return items
}

function flag(c: WireCursor): string {
  if (c.tryChar('\\')) {
    const name = c.atom('a flag name')
    return SYSTEM_FLAGS.get(name.toUpperCase()) ?? `\\${name}`
  }
  return c.atom('a flag')
}

function flagList(c: WireCursor): string[] {
  c.char('(')
  const flags: string[] = []
  if (c.tryChar(')')) return flags
  do flags.push(flag(c))
  while (c.trySp())
  c.char(')')
  return flags
}

function parseSelect(c: WireCursor, tag: string, name: 'SELECT' | 'EXAMINE', options: ParseOptions): Command {
  c.sp()
  const mbox = mailbox(c, options)
  let condstore = false
  let qresync: QresyncParams | undefined
  if (c.trySp()) {
    c.char('(')
    do {
      const param = c.keyword('a select parameter')
      if (param === 'CONDSTORE') condstore = true
      else if (param === 'QRESYNC') {
        c.sp()
        qresync = qresyncParams(c)
      } else c.fail(`Unknown select parameter ${param}`)
    } while (c.trySp())
    c.char(')')
  }
  return { tag, name, mailbox: mbox, condstore, ...(qresync !== undefined ? { qresync } : {}) }
}

function qresyncParams(c: WireCursor): QresyncParams {
  c.char('(')
  const uidValidity = c.nzNumber('a UIDVALIDITY')
  c.sp()
  const modSeq = c.modSeq()
  let params: QresyncParams = { uidValidity, modSeq }
  if (c.trySp() && c.peek() !== 0x28) {
    params = { ...params, knownUids: readSequenceSet(c) }
    if (!c.trySp()) {
      c.char(')')
      return params
    }
  }
  if (c.tryChar('(')) {
    const sequences = readSequenceSet(c)
    c.sp()
    params = { ...params, sequenceMatch: { sequences, uids: readSequenceSet(c) } }
    c.char(')')
  }
  c.char(')')
  return params
}

function parseList(c: WireCursor, tag: string, options: ParseOptions): Command {
  c.sp()
  const selectOptions: string[] = []
  if (c.tryChar('(')) {
    if (!c.tryChar(')')) {
      do selectOptions.push(c.keyword('a selection option'))
      while (c.trySp())
      c.char(')')
    }
    c.sp()
  }
  const reference = mailbox(c, options, false)
  c.sp()
  const patterns: string[] = []
  if (c.tryChar('(')) {
    do patterns.push(listMailbox(c, options))
    while (c.trySp())
    c.char(')')
  } else patterns.push(listMailbox(c, options))
  const returnOptions: string[] = []
  let returnStatus: StatusItem[] | undefined
  if (c.trySp()) {
    if (c.keyword('RETURN') !== 'RETURN') c.fail('Expected RETURN')
    c.sp()
    c.char('(')
    if (!c.tryChar(')')) {
      do {
        const option = c.keyword('a return option')
        if (option === 'STATUS') {
          c.sp()
          returnStatus = statusItems(c)
        } else returnOptions.push(option)
      } while (c.trySp())
      c.char(')')
    }
  }
  return { tag, name: 'LIST', reference, patterns, selectOptions, returnOptions, ...(returnStatus !== undefined ? { returnStatus } : {}) }
}

function parseAppend(c: WireCursor, tag: string, options: ParseOptions): Command {
  c.sp()
  const mbox = mailbox(c, options)
  const messages: AppendMessage[] = []
  // MULTIAPPEND (RFC 3502): further messages follow the previous literal after SP.
  while (c.trySp()) {
    let flags: string[] = []
    if (c.peek() === 0x28) {
      flags = flagList(c)
      c.sp()
    }
    let date: Date | undefined
    if (c.peek() === 0x22) {
      const text = c.string()
      date = parseDateTime(text)
      if (date === undefined) c.fail(`Invalid date-time "${text}"`)
      c.sp()
    }
    if (c.peek() !== 0x7b && c.peek() !== 0x7e) c.fail('Expected the message as a literal')
    messages.push({ flags, ...(date !== undefined ? { date } : {}), content: c.literal(true) })
  }
  if (messages.length === 0) c.fail('Expected a message')
  return { tag, name: 'APPEND', mailbox: mbox, messages }
}

function parseStore(c: WireCursor, tag: string, uid: boolean): Command {
  c.sp()
  const sequenceSet = readSequenceSet(c)
  c.sp()
  let unchangedSince: bigint | undefined
  if (c.tryChar('(')) {
    if (c.keyword('UNCHANGEDSINCE') !== 'UNCHANGEDSINCE') c.fail('Expected UNCHANGEDSINCE')
    c.sp()
    unchangedSince = c.modSeq(true)
    c.char(')')
    c.sp()
  }
  const action = /^([+-]?)FLAGS(\.SILENT)?$/.exec(c.keyword('FLAGS, +FLAGS or -FLAGS'))
  if (action === null) return c.fail('Expected FLAGS, +FLAGS or -FLAGS')
  c.sp()
  let flags: string[]
  if (c.peek() === 0x28) flags = flagList(c)
  else {
    flags = [flag(c)]
    while (c.trySp()) flags.push(flag(c))
  }
  const operation = action[1] === '+' ? 'add' : action[1] === '-' ? 'remove' : 'set'
  return {
    tag,
    name: 'STORE',
    uid,
    sequenceSet,
    operation,
    silent: action[2] !== undefined,
    flags,
    ...(unchangedSince !== undefined ? { unchangedSince } : {}),
  }
}

function parseId(c: WireCursor, tag: string): Command {
  c.sp()
  if (c.peek() !== 0x28) {
    if (c.keyword('NIL or a parameter list') !== 'NIL') c.fail('Expected NIL or a parameter list')
    return { tag, name: 'ID' }
  }
  c.char('(')
  const params: Array<readonly [string, string | undefined]> = []
  if (!c.tryChar(')')) {
    do {
      const key = c.string()
      c.sp()
      params.push([key, c.nstring()])
    } while (c.trySp())
    c.char(')')
  }
  return { tag, name: 'ID', params }
}
