import type { BodySection } from '../wire/Command.ts'
import { headerFields } from './parseMessage.ts'
import type { MimePart, ParsedMessage } from './parseMessage.ts'

const CRLF = Buffer.from('\r\n', 'latin1')

/**
 * The entity a part path names (RFC 3501 6.4.5): in a multipart, part n is its n-th child;
 * in a single-part message, part 1 is the message body itself; a path continues into a
 * multipart child or into the message encapsulated by a `message/rfc822` part.
 */
export function findPart(root: MimePart, path: readonly number[]): MimePart | undefined {
  let cur = root
  let part: MimePart | undefined
  for (let k = 0; k < path.length; k++) {
    const i = path[k]!
    if (cur.multipart) part = cur.children[i - 1]
    else part = i === 1 ? cur : undefined
    if (part === undefined) return undefined
    if (k < path.length - 1) {
      if (part.message !== undefined) cur = part.message
      else if (part.multipart && part !== cur) cur = part
      else return undefined
    }
  }
  return part
}

function headerSubset(raw: Buffer, entity: MimePart, fields: readonly string[], not: boolean): Buffer {
  const wanted = new Set(fields.map((f) => f.toLowerCase()))
  const lines = headerFields(raw.subarray(entity.start, entity.bodyStart)).filter((f) => wanted.has(f.key) !== not)
  return Buffer.concat([...lines.flatMap((l) => [Buffer.from(l.line, 'binary'), CRLF]), CRLF])
}

/**
 * The bytes of `BODY[section]` (before any `<partial>`), or `undefined` when the section does
 * not exist (sent as NIL). HEADER, TEXT and HEADER.FIELDS of a part apply to the message
 * encapsulated by a `message/rfc822` part; MIME is the part's own header.
 */
export function bodySection(raw: Buffer, msg: ParsedMessage, section: BodySection): Buffer | undefined {
  let entity: MimePart
  if (section.part.length === 0) {
    if (section.text === undefined) return raw
    entity = msg.root
  } else {
    const part = findPart(msg.root, section.part)
    if (part === undefined) return undefined
    if (section.text === undefined) return raw.subarray(part.bodyStart, part.end)
    if (section.text === 'MIME') return raw.subarray(part.start, part.bodyStart)
    if (part.message === undefined) return undefined
    entity = part.message
  }
  switch (section.text) {
    case 'HEADER':
      return raw.subarray(entity.start, entity.bodyStart)
    case 'TEXT':
      return raw.subarray(entity.bodyStart, entity.end)
    case 'HEADER.FIELDS':
    case 'HEADER.FIELDS.NOT':
      return headerSubset(raw, entity, section.fields ?? [], section.text === 'HEADER.FIELDS.NOT')
    default:
      return undefined
  }
}
