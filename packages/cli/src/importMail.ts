import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { open, readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { listHeaders } from '@mailweave/core'
import { mboxReader } from 'mbox-reader'

/** One message read from an mbox file or a Maildir. */
export interface ImportedMessage {
  /** The message with CRLF line ends, without the mbox bookkeeping headers. */
  raw: Uint8Array
  /** System flags and keywords, as `doveadm import` keeps them. */
  flags: string[]
  /** From the mbox `From ` line, the Maildir file's mtime, or the Date header; undefined when none. */
  internalDate?: Date
}

/** What an import source is. */
export type MailSource = { kind: 'mbox'; path: string } | { kind: 'maildir'; path: string }

/** A source that is neither an mbox file nor a Maildir (the message says why). */
export class ImportSourceError extends Error {
  override readonly name = 'ImportSourceError'
}

const MAILDIR_FLAGS: Record<string, string> = { D: '\\Draft', F: '\\Flagged', R: '\\Answered', S: '\\Seen', T: '\\Deleted' }
/** Headers mbox and Dovecot keep for themselves; `doveadm import` does not show them to IMAP clients. */
const MBOX_BOOKKEEPING = /^(status|x-status|x-keywords|x-uid|x-imap|x-imapbase|content-length):/i

const isDir = async (p: string) => (await stat(p).catch(() => undefined))?.isDirectory() === true

/** Whether `path` is a Maildir (has cur/ and new/). */
export async function isMaildir(path: string): Promise<boolean> {
  return (await isDir(path)) && (await isDir(join(path, 'cur'))) && (await isDir(join(path, 'new')))
}

/**
 * Tells what `path` is before anything is imported: a Maildir (a directory with cur/ and
 * new/) or an mbox file (starts with a `From ` line). Throws ImportSourceError for
 * anything else (a missing path, another directory, an empty or foreign file).
 */
export async function detectSource(path: string): Promise<MailSource> {
  const s = await stat(path).catch(() => undefined)
  if (s === undefined) throw new ImportSourceError(`${path} does not exist`)
  if (s.isDirectory()) {
    if (await isMaildir(path)) return { kind: 'maildir', path }
    throw new ImportSourceError(`${path} is a directory but not a Maildir (a Maildir has cur/ and new/ subdirectories)`)
  }
  if (!s.isFile()) throw new ImportSourceError(`${path} is neither a file nor a directory`)
  if (s.size === 0) throw new ImportSourceError(`${path} is empty: not an mbox file`)
  const fh = await open(path, 'r')
  try {
    const head = Buffer.alloc(5)
    await fh.read(head, 0, 5, 0)
    if (head.toString('latin1') !== 'From ')
      throw new ImportSourceError(`${path} is not an mbox file (it does not start with a "From " line) nor a Maildir`)
  } finally {
    await fh.close()
  }
  return { kind: 'mbox', path }
}

/** Number of messages in a source (for the progress bar). */
export async function countMessages(src: MailSource): Promise<number> {
  if (src.kind === 'maildir') return (await maildirFiles(src.path)).length
  let n = 0
  for await (const _ of mboxReader(createReadStream(src.path))) n++
  return n
}

async function maildirFiles(path: string): Promise<string[]> {
  const out: string[] = []
  for (const sub of ['new', 'cur']) {
    for (const f of (await readdir(join(path, sub))).sort()) if (!f.startsWith('.')) out.push(join(path, sub, f))
  }
  return out
}

/** Dovecot's `dovecot-keywords` of a Maildir: letter a + index -> keyword. */
async function maildirKeywords(path: string): Promise<Map<string, string>> {
  const map = new Map<string, string>()
  const text = await readFile(join(path, 'dovecot-keywords'), 'utf8').catch(() => '')
  for (const line of text.split('\n')) {
    const m = /^(\d+) (\S+)$/.exec(line.trim())
    if (m !== null && Number(m[1]) < 26) map.set(String.fromCharCode(97 + Number(m[1])), m[2]!)
  }
  return map
}

/** Bare LF line ends become CRLF (mbox and many Maildirs store LF; IMAP serves CRLF). */
function toCrlf(b: Buffer): Buffer {
  return Buffer.from(b.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1')
}

/** The Date header, when it parses. */
function dateHeader(raw: Uint8Array): Date | undefined {
  const d = listHeaders(raw).date
  if (d === undefined) return undefined
  const t = new Date(d)
  return Number.isNaN(t.getTime()) ? undefined : t
}

/** An mbox message without the bookkeeping headers of its header block. */
function withoutBookkeeping(content: Buffer): Buffer {
  const text = content.toString('latin1')
  const end = text.search(/\r?\n\r?\n/)
  const head = end < 0 ? text : text.slice(0, end)
  const lines = head.split(/\r?\n/)
  const kept: string[] = []
  let dropping = false
  for (const l of lines) {
    if (/^[ \t]/.test(l)) {
      if (!dropping) kept.push(l)
      continue
    }
    dropping = MBOX_BOOKKEEPING.test(l)
    if (!dropping) kept.push(l)
  }
  return Buffer.from(kept.join('\n') + (end < 0 ? '' : text.slice(end)), 'latin1')
}

/**
 * Messages of an mbox file (via mbox-reader) or a Maildir, as `doveadm import` reads them:
 * flags from Status/X-Status (mbox) or the `:2,` info (Maildir), keywords from X-Keywords
 * (mbox) or the Maildir's lowercase letters and `dovecot-keywords`; INTERNALDATE from the
 * `From ` line (mbox) or the file's mtime (Maildir), else the Date header.
 */
export async function* readMessages(src: MailSource): AsyncGenerator<ImportedMessage> {
  if (src.kind === 'maildir') {
    const keywords = await maildirKeywords(src.path)
    for (const file of await maildirFiles(src.path)) {
      const info = /:2,([A-Za-z]*)$/.exec(file)?.[1] ?? ''
      const flags = [...new Set([...info].map((c) => MAILDIR_FLAGS[c] ?? keywords.get(c)).filter((f): f is string => f !== undefined))]
      const st = await stat(file)
      yield { raw: new Uint8Array(toCrlf(await readFile(file))), flags, internalDate: st.mtime }
    }
    return
  }
  for await (const m of mboxReader(createReadStream(src.path))) {
    // mbox-reader drops the line end of the last line with the separator: the message's own last line ends in CRLF
    const content = withoutBookkeeping(m.content)
    const raw = new Uint8Array(
      toCrlf(content.length > 0 && content[content.length - 1] !== 0x0a ? Buffer.concat([content, Buffer.from('\n')]) : content),
    )
    const keywords = (m.headers.get('x-keywords') ?? []).flatMap((v) => v.split(/[\s,]+/)).filter((k) => k !== '' && !k.startsWith('\\'))
    const flags = [...new Set([...m.flags, ...keywords])]
    yield { raw, flags, internalDate: m.time instanceof Date && !Number.isNaN(m.time.getTime()) ? m.time : dateHeader(raw) }
  }
}

/** What marks a message as already imported: its content hash and INTERNALDATE (ms; `*` when it has none). */
export function importKey(raw: Uint8Array, internalDate: Date | undefined): string {
  return `${createHash('sha256').update(raw).digest('hex')}/${internalDate === undefined ? '*' : internalDate.getTime()}`
}
