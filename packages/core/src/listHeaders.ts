import type { ListHeaders } from './facts.ts'

const MAX_HEADER_BYTES = 64 * 1024
const MAX_FIELD = 998
const WANTED: Record<string, keyof ListHeaders> = { subject: 'subject', from: 'from', to: 'to', date: 'date', 'message-id': 'messageId' }
const utf8 = new TextDecoder('utf-8', { fatal: false })

const isWsp = (b: number | undefined) => b === 32 || b === 9

/**
 * Extracts the few header fields a mailbox list shows (raw, unfolded, not MIME-decoded)
 * from the header section of an RFC 5322 message. Never throws; absent fields are omitted.
 * Each value is decoded on its own, so it is a small flat string that does not keep the
 * whole header block alive. Full MIME parsing belongs to the IMAP front end.
 */
export function listHeaders(raw: Uint8Array): ListHeaders {
  const out: ListHeaders = {}
  const end = Math.min(raw.length, MAX_HEADER_BYTES)
  let i = 0
  while (i < end) {
    // one header line (with its continuation lines) starts at i
    if (raw[i] === 10 || (raw[i] === 13 && raw[i + 1] === 10)) break // blank line: body follows
    let colon = -1
    let j = i
    while (j < end && raw[j] !== 10) {
      if (colon < 0 && raw[j] === 58) colon = j
      j++
    }
    let fieldEnd = j
    while (fieldEnd + 1 < end && isWsp(raw[fieldEnd + 1])) {
      fieldEnd++
      while (fieldEnd < end && raw[fieldEnd] !== 10) fieldEnd++
    }
    if (colon > i) {
      const key = WANTED[utf8.decode(raw.subarray(i, colon)).trim().toLowerCase()]
      if (key !== undefined && out[key] === undefined) {
        // trim bytes before decoding: String#trim would return a slice pinning the parent
        let a = colon + 1
        let b = fieldEnd
        while (a < b && (isWsp(raw[a]) || raw[a] === 13 || raw[a] === 10)) a++
        while (b > a && (isWsp(raw[b - 1]) || raw[b - 1] === 13 || raw[b - 1] === 10)) b--
        let value = utf8.decode(raw.subarray(a, b))
        if (value.includes('\n')) value = value.replace(/\r?\n[ \t]+/g, ' ')
        out[key] = value.length > MAX_FIELD ? value.slice(0, MAX_FIELD) : value
      }
    }
    i = fieldEnd + 1
  }
  return out
}
