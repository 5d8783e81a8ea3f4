import type { ListHeaders } from './facts.ts'

const MAX_HEADER_BYTES = 64 * 1024
const MAX_FIELD = 998
const WANTED: Record<string, keyof ListHeaders> = { subject: 'subject', from: 'from', to: 'to', date: 'date', 'message-id': 'messageId' }

/**
 * Extracts the few header fields a mailbox list shows (raw, unfolded, not MIME-decoded)
 * from the header section of an RFC 5322 message. Never throws; absent fields are omitted.
 * Full MIME parsing (ENVELOPE, BODYSTRUCTURE) belongs to the IMAP front end.
 */
export function listHeaders(raw: Uint8Array): ListHeaders {
  let end = Math.min(raw.length, MAX_HEADER_BYTES)
  for (let i = 0; i + 1 < end; i++) {
    if (raw[i] === 10 && (raw[i + 1] === 10 || (raw[i + 1] === 13 && raw[i + 2] === 10))) {
      end = i
      break
    }
  }
  const text = new TextDecoder('utf-8', { fatal: false }).decode(raw.subarray(0, end))
  const out: ListHeaders = {}
  let name: keyof ListHeaders | undefined
  let value = ''
  const flush = () => {
    if (name !== undefined && out[name] === undefined) out[name] = value.trim().slice(0, MAX_FIELD)
    name = undefined
  }
  for (const line of text.split(/\r?\n/)) {
    if (line.startsWith(' ') || line.startsWith('\t')) {
      if (name !== undefined) value += ' ' + line.trim()
      continue
    }
    flush()
    const colon = line.indexOf(':')
    if (colon <= 0) continue
    const key = WANTED[line.slice(0, colon).trim().toLowerCase()]
    if (key !== undefined) {
      name = key
      value = line.slice(colon + 1)
    }
  }
  flush()
  return out
}
