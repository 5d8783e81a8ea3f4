import { finished } from 'node:stream/promises'
import mailsplit from '@zone-eu/mailsplit'
import type { MimeNode as SplitNode, SplitterChunk } from '@zone-eu/mailsplit'
import libmime from 'libmime'
import { addressParser } from 'postal-mime'
import type { Address, BodyStructure, Disposition, Envelope } from '../wire/BodyStructure.ts'
import { asBuffer } from '../bytes.ts'

/**
 * One MIME entity of a message with byte offsets into the message's raw bytes:
 * header `[start, bodyStart)`, body `[bodyStart, end)`. Offsets are absolute even inside
 * an encapsulated message.
 */
export interface MimePart {
  readonly start: number
  readonly bodyStart: number
  readonly end: number
  /** Lower-case media type and subtype (defaults applied). */
  readonly type: string
  readonly subtype: string
  /** Child entities of a multipart (empty otherwise). */
  readonly children: readonly MimePart[]
  readonly multipart: boolean
  /** The top entity of an encapsulated `message/rfc822` (or `message/global`) body. */
  readonly message?: MimePart
}

/** Everything FETCH needs from a message besides its bytes: cached per content hash. */
export interface ParsedMessage {
  readonly root: MimePart
  readonly envelope: Envelope
  /** The extensible structure (BODYSTRUCTURE); FETCH BODY encodes the same data without extensions. */
  readonly structure: BodyStructure
}

/** One header field as it appears in the message. */
export interface HeaderField {
  /** Lower-case field name. */
  readonly key: string
  /** The whole field, name included, folding kept, no final line break; one char per byte (latin1). */
  readonly line: string
}

const MAX_DEPTH = 8
const MAX_PARTS = 2000

/** The fields of a header block, in order (parsed by mailsplit). Never throws. */
export function headerFields(header: Uint8Array): HeaderField[] {
  try {
    const h = new mailsplit.Headers(Buffer.from(header.buffer, header.byteOffset, header.byteLength))
    return h.getList().map((l) => ({ key: l.key, line: l.line }))
  } catch {
    return []
  }
}

/** The unfolded, trimmed value of a field line (RFC 5322 2.2.3), 8-bit bytes read as UTF-8, not MIME-decoded. */
export function fieldValue(line: string): string {
  const colon = line.indexOf(':')
  const value = (colon < 0 ? '' : line.slice(colon + 1)).replace(/\r?\n(?=[ \t])/g, '').trim()
  return /^[\x00-\x7f]*$/.test(value) ? value : Buffer.from(value, 'latin1').toString('utf8')
}

interface Building {
  readonly node: SplitNode
  readonly start: number
  readonly bodyStart: number
  end: number
  readonly children: Building[]
  readonly parent: Building | undefined
}

/**
 * Splits `raw` (one message, or the body of an encapsulated one at offset `base`) into its
 * MIME tree with @zone-eu/mailsplit, whose output is byte-exact: the chunks it emits add up
 * to the input, which is what gives the offsets.
 */
async function split(raw: Buffer, base: number): Promise<{ root: Building; nodes: number }> {
  const splitter = new mailsplit.Splitter({ ignoreEmbedded: true, maxChildNodes: MAX_PARTS })
  const byNode = new Map<SplitNode, Building>()
  let root: Building | undefined
  let pos = 0
  const owned = new Map<Building, number>()
  splitter.on('data', (chunk: SplitterChunk) => {
    if (chunk.type === 'node') {
      const parent = chunk.parentNode === false ? undefined : byNode.get(chunk.parentNode as SplitNode)
      const start = pos
      pos += chunk._headerlen
      const b: Building = { node: chunk, start, bodyStart: pos, end: pos, children: [], parent }
      byNode.set(chunk, b)
      if (parent !== undefined) parent.children.push(b)
      else if (root === undefined) root = b
      return
    }
    pos += chunk.value.length
    const owner = chunk.node ? byNode.get(chunk.node) : undefined
    if (owner === undefined) return
    owner.end = pos
    if (chunk.type === 'data') owned.set(owner, pos)
  })
  const done = finished(splitter)
  splitter.end(raw)
  await done
  if (root === undefined || pos !== raw.length) throw new Error('mailsplit output does not cover the message')
  // A multipart ends after its own closing delimiter and epilogue; the line break before the
  // parent's next delimiter belongs to that delimiter (RFC 2046 5.1.1), like a leaf's last one.
  const finish = (b: Building): number => {
    for (const c of b.children) b.end = Math.max(b.end, finish(c))
    if (b !== root && owned.get(b) === b.end) {
      if (raw[b.end - 1] === 0x0a) b.end--
      if (raw[b.end - 1] === 0x0d) b.end--
    }
    return b.end
  }
  finish(root)
  ;(root as { end: number }).end = raw.length
  // Offsets relative to the whole message.
  const shift = (b: Building): void => {
    ;(b as { start: number }).start += base
    ;(b as { bodyStart: number }).bodyStart += base
    b.end += base
    b.children.forEach(shift)
  }
  shift(root)
  return { root, nodes: byNode.size }
}

/** Media type defaults of RFC 2045 5.2 / RFC 2046 5.1.5. */
function mediaType(
  b: Building,
  fields: HeaderField[],
): { type: string; subtype: string; params: Record<string, string>; explicit: boolean } {
  const line = fields.find((f) => f.key === 'content-type')
  const parentDigest = b.parent?.node.multipart === 'digest'
  const fallback = parentDigest ? { type: 'message', subtype: 'rfc822' } : { type: 'text', subtype: 'plain' }
  if (b.node.multipart) {
    const params = line === undefined ? {} : libmime.parseHeaderValue(fieldValue(line.line)).params
    return { type: 'multipart', subtype: String(b.node.multipart).toLowerCase(), params, explicit: true }
  }
  if (line === undefined) return { ...fallback, params: fallback.type === 'text' ? { charset: 'us-ascii' } : {}, explicit: false }
  const parsed = libmime.parseHeaderValue(fieldValue(line.line))
  const m = /^([!#$%&'*+.^_`|~0-9a-z-]+)\/([!#$%&'*+.^_`|~0-9a-z-]+)$/i.exec(parsed.value.trim())
  if (m === null) return { ...fallback, params: fallback.type === 'text' ? { charset: 'us-ascii' } : {}, explicit: false }
  return { type: m[1]!.toLowerCase(), subtype: m[2]!.toLowerCase(), params: parsed.params, explicit: true }
}

/** Parameters as wire pairs; a non-ASCII value (decoded from RFC 2231 or raw 8-bit) is re-encoded per RFC 2231. */
function wireParams(params: Record<string, string>): Array<[string, string]> {
  return Object.entries(params).map(([k, v]) => {
    if (/^[\x20-\x7e]*$/.test(v)) return [k, v]
    return [`${k}*`, `utf-8''${encodeURIComponent(v).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}`]
  })
}

function lineCount(raw: Buffer, start: number, end: number): number {
  if (end <= start) return 0
  let n = 0
  let i = raw.indexOf(0x0a, start)
  while (i >= 0 && i < end) {
    n++
    i = raw.indexOf(0x0a, i + 1)
  }
  return raw[end - 1] === 0x0a ? n : n + 1
}

function first(fields: HeaderField[], key: string): string | undefined {
  const f = fields.find((x) => x.key === key)
  if (f === undefined) return undefined
  const v = fieldValue(f.line)
  return v.length > 0 ? v : undefined
}

const ASCII = /^[\x20-\x7e]*$/

/** Address list of a header field, groups as start/end markers (RFC 3501 7.4.2). */
function addresses(fields: HeaderField[], key: string): Address[] | undefined {
  const value = first(fields, key)
  if (value === undefined) return undefined
  let parsed: ReturnType<typeof addressParser>
  try {
    parsed = addressParser(value)
  } catch {
    return undefined
  }
  const out: Address[] = []
  const one = (name: string, address: string): Address => {
    const at = address.lastIndexOf('@')
    // postal-mime decodes encoded words; the envelope carries header text, so re-encode.
    const n = name.length === 0 ? undefined : ASCII.test(name) ? name : libmime.encodeWord(name, 'Q')
    return {
      ...(n !== undefined ? { name: n } : {}),
      mailbox: at < 0 ? address : address.slice(0, at),
      host: at < 0 ? '.MISSING-HOST-NAME.' : address.slice(at + 1),
    }
  }
  for (const a of parsed) {
    if ('group' in a && a.group !== undefined) {
      out.push({ mailbox: a.name })
      for (const m of a.group) out.push(one(m.name, m.address))
      out.push({})
    } else if (a.address !== undefined && a.address.length > 0) out.push(one(a.name, a.address))
  }
  return out.length > 0 ? out : undefined
}

/** The ENVELOPE of a header block (RFC 3501 7.4.2: Sender and Reply-To default to From). */
export function envelopeOf(fields: HeaderField[]): Envelope {
  const from = addresses(fields, 'from')
  const opt = <K extends string, V>(k: K, v: V | undefined): { [P in K]?: V } => (v === undefined ? {} : ({ [k]: v } as { [P in K]?: V }))
  return {
    ...opt('date', first(fields, 'date')),
    ...opt('subject', first(fields, 'subject')),
    ...opt('from', from),
    ...opt('sender', addresses(fields, 'sender') ?? from),
    ...opt('replyTo', addresses(fields, 'reply-to') ?? from),
    ...opt('to', addresses(fields, 'to')),
    ...opt('cc', addresses(fields, 'cc')),
    ...opt('bcc', addresses(fields, 'bcc')),
    ...opt('inReplyTo', first(fields, 'in-reply-to')),
    ...opt('messageId', first(fields, 'message-id')),
  }
}

function disposition(fields: HeaderField[]): Disposition | undefined {
  const v = first(fields, 'content-disposition')
  if (v === undefined) return undefined
  const p = libmime.parseHeaderValue(v)
  const type = p.value.trim().toLowerCase()
  if (type.length === 0) return undefined
  const params = wireParams(p.params)
  return { type, ...(params.length > 0 ? { params } : {}) }
}

interface Budget {
  parts: number
}

/** Builds the tree and structure of `raw[base, base + slice.length)`. */
async function build(
  raw: Buffer,
  slice: Buffer,
  base: number,
  depth: number,
  budget: Budget,
): Promise<{ part: MimePart; structure: BodyStructure; envelope: Envelope }> {
  const { root, nodes } = await split(slice, base)
  budget.parts += nodes
  const convert = async (b: Building): Promise<{ part: MimePart; structure: BodyStructure }> => {
    const fields = headerFields(raw.subarray(b.start, b.bodyStart))
    const mt = mediaType(b, fields)
    const ext = {
      ...(disposition(fields) !== undefined ? { disposition: disposition(fields)! } : {}),
      ...(first(fields, 'content-language') !== undefined
        ? {
            language: first(fields, 'content-language')!
              .split(',')
              .map((s) => s.trim())
              .filter((s) => s.length > 0),
          }
        : {}),
      ...(first(fields, 'content-location') !== undefined ? { location: first(fields, 'content-location')! } : {}),
    }
    const params = wireParams(mt.params)
    if (b.node.multipart) {
      const kids = []
      for (const c of b.children) kids.push(await convert(c))
      return {
        part: {
          start: b.start,
          bodyStart: b.bodyStart,
          end: b.end,
          type: mt.type,
          subtype: mt.subtype,
          children: kids.map((k) => k.part),
          multipart: true,
        },
        structure: { parts: kids.map((k) => k.structure), subtype: mt.subtype, ...(params.length > 0 ? { params } : {}), ...ext },
      }
    }
    const common = {
      type: mt.type,
      subtype: mt.subtype,
      ...(params.length > 0 ? { params } : {}),
      ...(first(fields, 'content-id') !== undefined ? { id: first(fields, 'content-id')! } : {}),
      ...(first(fields, 'content-description') !== undefined ? { description: first(fields, 'content-description')! } : {}),
      encoding: (first(fields, 'content-transfer-encoding') ?? '7BIT').toUpperCase(),
      size: b.end - b.bodyStart,
      ...(first(fields, 'content-md5') !== undefined ? { md5: first(fields, 'content-md5')! } : {}),
      ...ext,
    }
    const part = { start: b.start, bodyStart: b.bodyStart, end: b.end, type: mt.type, subtype: mt.subtype, children: [], multipart: false }
    if (mt.type === 'message' && (mt.subtype === 'rfc822' || mt.subtype === 'global') && depth < MAX_DEPTH && budget.parts < MAX_PARTS) {
      const inner = await build(raw, raw.subarray(b.bodyStart, b.end), b.bodyStart, depth + 1, budget)
      return {
        part: { ...part, message: inner.part },
        structure: { ...common, lines: lineCount(raw, b.bodyStart, b.end), message: { envelope: inner.envelope, body: inner.structure } },
      }
    }
    return { part, structure: mt.type === 'text' ? { ...common, lines: lineCount(raw, b.bodyStart, b.end) } : common }
  }
  const top = await convert(root)
  return { ...top, envelope: envelopeOf(headerFields(raw.subarray(root.start, root.bodyStart))) }
}

/** The header block of an unparseable message: up to the first empty line. */
function fallback(raw: Buffer): ParsedMessage {
  const crlf = raw.indexOf('\r\n\r\n')
  const lf = raw.indexOf('\n\n')
  const ends = [crlf < 0 ? -1 : crlf + 4, lf < 0 ? -1 : lf + 2].filter((n) => n >= 0)
  const bodyStart = ends.length > 0 ? Math.min(...ends) : raw.length
  const root: MimePart = {
    start: 0,
    bodyStart,
    end: raw.length,
    type: 'application',
    subtype: 'octet-stream',
    children: [],
    multipart: false,
  }
  const fields = headerFields(raw.subarray(0, bodyStart))
  return {
    root,
    envelope: envelopeOf(fields),
    structure: { type: 'application', subtype: 'octet-stream', encoding: '7BIT', size: raw.length - bodyStart },
  }
}

/**
 * Parses a message's MIME structure and envelope. Never rejects: a message the parser
 * refuses (over its header or part limits) is described as one opaque part.
 */
export async function parseMessage(bytes: Uint8Array): Promise<ParsedMessage> {
  const raw = asBuffer(bytes)
  try {
    const { part, structure, envelope } = await build(raw, raw, 0, 0, { parts: 0 })
    return { root: part, structure, envelope }
  } catch {
    return fallback(raw)
  }
}
