/** Just enough MIME to show a message's text: headers, the first text part, decoded. */

export interface ParsedMessage {
  headers: [name: string, value: string][]
  text: string
  /** What the text was taken from, e.g. `text/plain` or `text/html (as text)`. */
  source: string
}

const latin1 = new TextDecoder('latin1')

function decoder(charset: string | undefined): TextDecoder {
  try {
    return new TextDecoder(charset ?? 'utf-8')
  } catch {
    return new TextDecoder('utf-8')
  }
}

function splitHead(raw: string): [head: string, body: string] {
  const m = /\r?\n\r?\n/.exec(raw)
  return m === null ? [raw, ''] : [raw.slice(0, m.index), raw.slice(m.index + m[0].length)]
}

function parseHeaders(head: string): [string, string][] {
  const out: [string, string][] = []
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const i = line.indexOf(':')
    if (i > 0) out.push([line.slice(0, i).trim(), line.slice(i + 1).trim()])
  }
  return out
}

const header = (hs: [string, string][], name: string) => hs.find(([k]) => k.toLowerCase() === name)?.[1]

function param(value: string | undefined, name: string): string | undefined {
  const m = new RegExp(`;\\s*${name}\\s*=\\s*("([^"]*)"|[^;\\s]+)`, 'i').exec(value ?? '')
  return m === null ? undefined : (m[2] ?? m[1])
}

/** Bytes of a latin1 "binary string" decoded with `charset`. */
const bytesAs = (bin: string, charset: string | undefined) => decoder(charset).decode(Uint8Array.from(bin, (c) => c.charCodeAt(0) & 0xff))

function decodeBody(bin: string, encoding: string | undefined, charset: string | undefined): string {
  const e = (encoding ?? '').toLowerCase()
  if (e === 'base64') {
    try {
      return bytesAs(atob(bin.replace(/[^A-Za-z0-9+/=]/g, '')), charset)
    } catch {
      return bin
    }
  }
  if (e === 'quoted-printable')
    return bytesAs(
      bin.replace(/=\r?\n/g, '').replace(/=([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))),
      charset,
    )
  return bytesAs(bin, charset)
}

/** Decodes RFC 2047 encoded words (`=?utf-8?B?…?=`) in a header value. */
export function decodeWords(value: string): string {
  return value.replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=(\s+(?==\?))?/g, (_, cs: string, enc: string, data: string) => {
    if (enc.toUpperCase() === 'B') {
      try {
        return bytesAs(atob(data), cs)
      } catch {
        return data
      }
    }
    return bytesAs(
      data.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (__, h: string) => String.fromCharCode(parseInt(h, 16))),
      cs,
    )
  })
}

function htmlToText(html: string): string {
  const doc = new DOMParser().parseFromString(html, 'text/html')
  return doc.body.textContent ?? ''
}

function textOf(head: [string, string][], body: string, depth: number): { text: string; source: string } | undefined {
  const type = header(head, 'content-type') ?? 'text/plain'
  const mediaType = type.split(';')[0]!.trim().toLowerCase()
  if (mediaType.startsWith('multipart/') && depth < 5) {
    const boundary = param(type, 'boundary')
    if (boundary === undefined) return undefined
    const parts = body.split(new RegExp(`\\r?\\n?--${boundary.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?:--)?[ \\t]*\\r?\\n?`)).slice(1)
    const found = parts.map((p) => {
      const [h, b] = splitHead(p)
      return textOf(parseHeaders(h), b, depth + 1)
    })
    return found.find((f) => f?.source === 'text/plain') ?? found.find((f) => f !== undefined)
  }
  if (mediaType === 'text/plain' || mediaType === 'text/html') {
    const text = decodeBody(body, header(head, 'content-transfer-encoding'), param(type, 'charset'))
    return mediaType === 'text/html' ? { text: htmlToText(text), source: 'text/html (as text)' } : { text, source: 'text/plain' }
  }
  return undefined
}

/** Parses a raw RFC 5322 message for display; never throws. */
export function parseMessage(raw: Uint8Array): ParsedMessage {
  const [head, body] = splitHead(latin1.decode(raw))
  const headers = parseHeaders(head).map(([k, v]): [string, string] => [k, decodeWords(bytesAs(v, 'utf-8'))])
  const found = textOf(parseHeaders(head), body, 0)
  return { headers, text: found?.text ?? '(no text part)', source: found?.source ?? 'none' }
}

/** A new plain-text RFC 5322 message, UTF-8, CRLF line ends. */
export function composeMessage(m: { from: string; to: string; subject: string; body: string; date?: Date }): Uint8Array {
  const enc = (s: string) => (/^[\x20-\x7e]*$/.test(s) ? s : `=?utf-8?B?${btoa(String.fromCharCode(...new TextEncoder().encode(s)))}?=`)
  const id = `${Date.now().toString(36)}.${Math.random().toString(36).slice(2)}@mailweave.example`
  const lines = [
    `From: ${enc(m.from)}`,
    `To: ${enc(m.to)}`,
    `Subject: ${enc(m.subject)}`,
    `Date: ${(m.date ?? new Date()).toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <${id}>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    m.body.replace(/\r?\n/g, '\r\n'),
    '',
  ]
  return new TextEncoder().encode(lines.join('\r\n'))
}
