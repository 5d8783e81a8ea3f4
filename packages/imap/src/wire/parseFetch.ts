import type { BodySection, FetchAttribute, FetchCommand, FetchItem, ModSeq } from './Command.ts'
import type { WireCursor } from './WireCursor.ts'
import { readSequenceSet } from './readSequenceSet.ts'

const ATTRIBUTES = new Set<string>([
  'FLAGS',
  'INTERNALDATE',
  'RFC822.SIZE',
  'ENVELOPE',
  'BODYSTRUCTURE',
  'BODY',
  'UID',
  'MODSEQ',
  'RFC822',
  'RFC822.HEADER',
  'RFC822.TEXT',
])
const MACROS: Record<string, readonly FetchAttribute[]> = {
  ALL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE'],
  FAST: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE'],
  FULL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY'],
}
const SECTION_TEXT = new Set(['HEADER', 'HEADER.FIELDS', 'HEADER.FIELDS.NOT', 'TEXT', 'MIME'])

const isNameChar = (c: number): boolean => c === 0x2e || (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a)
const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39

/** Parses the arguments of FETCH / UID FETCH (cursor just after the command name). */
export function parseFetch(c: WireCursor, tag: string, uid: boolean): FetchCommand {
  c.sp()
  const sequenceSet = readSequenceSet(c)
  c.sp()
  let items: FetchItem[]
  let macro: 'ALL' | 'FAST' | 'FULL' | undefined
  if (c.tryChar('(')) {
    items = [fetchItem(c, c.take(isNameChar, 'a fetch item').toUpperCase())]
    while (c.trySp()) items.push(fetchItem(c, c.take(isNameChar, 'a fetch item').toUpperCase()))
    c.char(')')
  } else {
    const name = c.take(isNameChar, 'a fetch item').toUpperCase()
    const expansion = MACROS[name]
    if (expansion !== undefined) {
      macro = name as 'ALL'
      items = expansion.map((type) => ({ type }))
    } else items = [fetchItem(c, name)]
  }
  let changedSince: ModSeq | undefined
  let vanished = false
  if (c.trySp()) {
    c.char('(')
    do {
      const modifier = c.keyword('a fetch modifier')
      if (modifier === 'CHANGEDSINCE') {
        c.sp()
        changedSince = c.modSeq(true)
      } else if (modifier === 'VANISHED') vanished = true
      else c.fail(`Unknown FETCH modifier ${modifier}`)
    } while (c.trySp())
    c.char(')')
    // RFC 7162 3.2.6: VANISHED only with UID FETCH and CHANGEDSINCE.
    if (vanished && (!uid || changedSince === undefined)) c.fail('VANISHED requires UID FETCH with CHANGEDSINCE')
  }
  return {
    tag,
    name: 'FETCH',
    uid,
    sequenceSet,
    items,
    ...(macro !== undefined ? { macro } : {}),
    ...(changedSince !== undefined ? { changedSince } : {}),
    vanished,
  }
}

function fetchItem(c: WireCursor, name: string): FetchItem {
  if ((name === 'BODY' || name === 'BODY.PEEK') && c.tryChar('[')) {
    const section = bodySection(c)
    c.char(']')
    let partial: { offset: number; length: number } | undefined
    if (c.tryChar('<')) {
      const offset = c.number('a partial offset')
      c.char('.')
      partial = { offset, length: c.nzNumber('a partial length') }
      c.char('>')
    }
    return { type: 'BODY[]', peek: name === 'BODY.PEEK', section, ...(partial !== undefined ? { partial } : {}) }
  }
  if (!ATTRIBUTES.has(name)) c.fail(`Unknown fetch item ${name}`)
  return { type: name as FetchAttribute }
}

function bodySection(c: WireCursor): BodySection {
  const part: number[] = []
  if (isDigit(c.peek())) {
    part.push(c.nzNumber('a part number'))
    while (c.peek() === 0x2e && isDigit(c.peek(1))) {
      c.char('.')
      part.push(c.nzNumber('a part number'))
    }
    if (c.peek() === 0x5d) return { part }
    c.char('.')
  } else if (c.peek() === 0x5d) return { part }
  const text = c.take(isNameChar, 'a section name').toUpperCase()
  if (!SECTION_TEXT.has(text) || (text === 'MIME' && part.length === 0)) c.fail(`Invalid section ${text}`)
  if (text !== 'HEADER.FIELDS' && text !== 'HEADER.FIELDS.NOT') return { part, text: text as 'HEADER' }
  c.sp()
  c.char('(')
  const fields = [c.astring()]
  while (c.trySp()) fields.push(c.astring())
  c.char(')')
  return { part, text, fields }
}
