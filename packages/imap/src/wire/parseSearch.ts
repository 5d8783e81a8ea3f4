import type { SearchCommand, SearchKey } from './Command.ts'
import { parseSearchDate } from './dateTime.ts'
import { ParseError } from './WireCursor.ts'
import type { WireCursor } from './WireCursor.ts'
import { readSequenceSet } from './readSequenceSet.ts'

// Bounds recursion on hostile input such as thousands of NOTs; real clients nest a few levels.
const MAX_DEPTH = 100

const FLAG_KEYS = new Set([
  'ALL',
  'ANSWERED',
  'DELETED',
  'DRAFT',
  'FLAGGED',
  'NEW',
  'OLD',
  'RECENT',
  'SEEN',
  'UNANSWERED',
  'UNDELETED',
  'UNDRAFT',
  'UNFLAGGED',
  'UNSEEN',
])
const STRING_KEYS = new Set(['BCC', 'BODY', 'CC', 'FROM', 'SUBJECT', 'TEXT', 'TO'])
const DATE_KEYS = new Set(['BEFORE', 'ON', 'SINCE', 'SENTBEFORE', 'SENTON', 'SENTSINCE'])
const OTHER_KEYS = new Set(['KEYWORD', 'UNKEYWORD', 'HEADER', 'LARGER', 'SMALLER', 'YOUNGER', 'OLDER', 'UID', 'NOT', 'OR', 'MODSEQ'])
const RETURN_OPTIONS = new Set(['MIN', 'MAX', 'ALL', 'COUNT', 'SAVE'])

type Decode = (bytes: Buffer) => string

/** Parses the arguments of SEARCH / UID SEARCH (cursor just after the command name). */
export function parseSearch(c: WireCursor, tag: string, uid: boolean): SearchCommand {
  c.sp()
  let returnOptions: string[] | undefined
  if (c.peekUpper(6) === 'RETURN' && c.peek(6) === 0x20) {
    c.keyword()
    c.sp()
    c.char('(')
    returnOptions = []
    if (!c.tryChar(')')) {
      do {
        const option = c.keyword('a RETURN option')
        if (!RETURN_OPTIONS.has(option)) c.fail(`Unknown SEARCH RETURN option ${option}`)
        returnOptions.push(option)
      } while (c.trySp())
      c.char(')')
    }
    c.sp()
  }
  let charset: string | undefined
  let decode: Decode = (bytes) => bytes.toString('utf8')
  if (c.peekUpper(7) === 'CHARSET' && c.peek(7) === 0x20) {
    c.keyword()
    c.sp()
    charset = c.astring().toUpperCase()
    decode = decoderFor(charset)
    c.sp()
  }
  const criteria: SearchKey[] = [searchKey(c, decode, 0)]
  while (c.trySp()) criteria.push(searchKey(c, decode, 0))
  return {
    tag,
    name: 'SEARCH',
    uid,
    ...(charset !== undefined ? { charset } : {}),
    ...(returnOptions !== undefined ? { returnOptions } : {}),
    criteria,
  }
}

function decoderFor(charset: string): Decode {
  if (charset === 'UTF-8' || charset === 'US-ASCII') return (bytes) => bytes.toString('utf8')
  let decoder: TextDecoder
  try {
    decoder = new TextDecoder(charset)
  } catch {
    throw new ParseError(`Unsupported charset ${charset}`, 'BADCHARSET')
  }
  return (bytes) => decoder.decode(bytes)
}

function searchDate(c: WireCursor): string {
  const text =
    c.peek() === 0x22
      ? c.string()
      : c.take((ch) => ch === 0x2d || (ch >= 0x30 && ch <= 0x39) || ((ch | 0x20) >= 0x61 && (ch | 0x20) <= 0x7a), 'a date')
  const date = parseSearchDate(text)
  if (date === undefined) c.fail(`Invalid date "${text}"`)
  return date
}

function searchKey(c: WireCursor, decode: Decode, depth: number): SearchKey {
  if (depth > MAX_DEPTH) c.fail('Search keys nested too deeply')
  if (c.tryChar('(')) {
    const keys: SearchKey[] = [searchKey(c, decode, depth + 1)]
    while (c.trySp()) keys.push(searchKey(c, decode, depth + 1))
    c.char(')')
    return { type: 'AND', keys }
  }
  const first = c.peek()
  if ((first >= 0x30 && first <= 0x39) || first === 0x2a || first === 0x24) return { type: 'SEQUENCE', set: readSequenceSet(c) }
  const word = c.keyword('a search key')
  if (FLAG_KEYS.has(word)) return { type: word as 'ALL' }
  if (!STRING_KEYS.has(word) && !DATE_KEYS.has(word) && !OTHER_KEYS.has(word)) c.fail(`Unknown search key ${word}`)
  c.sp()
  if (STRING_KEYS.has(word)) return { type: word as 'BCC', value: decode(c.astringBytes()) }
  if (DATE_KEYS.has(word)) return { type: word as 'BEFORE', date: searchDate(c) }
  switch (word) {
    case 'KEYWORD':
    case 'UNKEYWORD':
      return { type: word, flag: c.atom('a keyword') }
    case 'HEADER': {
      const field = c.astring()
      c.sp()
      return { type: 'HEADER', field, value: decode(c.astringBytes()) }
    }
    case 'LARGER':
    case 'SMALLER':
      return { type: word, size: c.number() }
    case 'YOUNGER':
    case 'OLDER':
      return { type: word, seconds: c.nzNumber() }
    case 'UID':
      return { type: 'UID', set: readSequenceSet(c) }
    case 'NOT':
      return { type: 'NOT', key: searchKey(c, decode, depth + 1) }
    case 'OR': {
      const left = searchKey(c, decode, depth + 1)
      c.sp()
      return { type: 'OR', left, right: searchKey(c, decode, depth + 1) }
    }
    case 'MODSEQ': {
      if (c.peek() !== 0x22 && c.peek() !== 0x7b) return { type: 'MODSEQ', modSeq: c.modSeq(true) }
      const name = c.string()
      c.sp()
      const entryType = c.keyword('an entry type').toLowerCase()
      if (entryType !== 'priv' && entryType !== 'shared' && entryType !== 'all') c.fail('Expected priv, shared or all')
      c.sp()
      return { type: 'MODSEQ', modSeq: c.modSeq(true), entry: { name, entryType } }
    }
    default:
      return c.fail(`Unknown search key ${word}`)
  }
}
