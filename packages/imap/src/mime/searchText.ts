import libmime from 'libmime'
import { decode as decodeQp } from 'libqp'
import { fieldValue, headerFields } from './parseMessage.ts'
import type { MimePart } from './parseMessage.ts'

const MAX_TEXT = 4 * 1024 * 1024

function decodeWords(value: string): string {
  try {
    return libmime.decodeWords(value)
  } catch {
    return value
  }
}

/** The MIME-decoded values of header field `key` (lower case) of `entity`. */
export function headerValues(raw: Buffer, entity: MimePart, key: string): string[] {
  return headerFields(raw.subarray(entity.start, entity.bodyStart))
    .filter((f) => f.key === key)
    .map((f) => decodeWords(fieldValue(f.line)))
}

/** The whole header block of `entity`, each field MIME-decoded, one per line. */
export function headerText(raw: Buffer, entity: MimePart): string {
  return headerFields(raw.subarray(entity.start, entity.bodyStart))
    .map((f) => decodeWords(fieldValue(f.line)))
    .join('\n')
}

function charsetDecode(bytes: Buffer, charset: string | undefined): string {
  try {
    return new TextDecoder(charset ?? 'utf-8').decode(bytes)
  } catch {
    return bytes.toString('latin1')
  }
}

function leafText(raw: Buffer, part: MimePart): string {
  const fields = headerFields(raw.subarray(part.start, part.bodyStart))
  const cte = fields.find((f) => f.key === 'content-transfer-encoding')
  const ct = fields.find((f) => f.key === 'content-type')
  const charset = ct === undefined ? undefined : libmime.parseHeaderValue(fieldValue(ct.line)).params.charset
  const body = raw.subarray(part.bodyStart, Math.min(part.end, part.bodyStart + MAX_TEXT))
  const encoding = cte === undefined ? '' : fieldValue(cte.line).toLowerCase()
  const bytes =
    encoding === 'base64' ? Buffer.from(body.toString('latin1'), 'base64') : encoding === 'quoted-printable' ? decodeQp(body) : body
  return charsetDecode(bytes, charset)
}

/**
 * The text SEARCH BODY matches: every `text/*` part transfer- and charset-decoded, and the
 * headers and text of encapsulated messages, separated by newlines.
 */
export function bodyText(raw: Buffer, root: MimePart): string {
  const out: string[] = []
  const walk = (p: MimePart): void => {
    if (p.multipart) p.children.forEach(walk)
    else if (p.message !== undefined) {
      out.push(headerText(raw, p.message))
      walk(p.message)
    } else if (p.type === 'text') out.push(leafText(raw, p))
  }
  walk(root)
  return out.join('\n')
}
