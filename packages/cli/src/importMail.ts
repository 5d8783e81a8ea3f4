import { createReadStream } from 'node:fs'
import { readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { mboxReader } from 'mbox-reader'

/** One message read from an mbox file or a Maildir. */
export interface ImportedMessage {
  raw: Uint8Array
  flags: string[]
  internalDate?: Date
}

const MAILDIR_FLAGS: Record<string, string> = { D: '\\Draft', F: '\\Flagged', R: '\\Answered', S: '\\Seen', T: '\\Deleted' }

/** Whether `path` is a Maildir (has cur/ and new/). */
export async function isMaildir(path: string): Promise<boolean> {
  const s = await stat(path).catch(() => undefined)
  if (s === undefined || !s.isDirectory()) return false
  return (await stat(join(path, 'cur')).catch(() => undefined))?.isDirectory() === true
}

/** Counts messages first (for the progress bar), then yields them. */
export async function countMessages(path: string): Promise<number> {
  if (await isMaildir(path)) return (await maildirFiles(path)).length
  let n = 0
  for await (const _ of mboxReader(createReadStream(path))) n++
  return n
}

async function maildirFiles(path: string): Promise<string[]> {
  const out: string[] = []
  for (const sub of ['new', 'cur']) {
    for (const f of (await readdir(join(path, sub)).catch(() => [])).sort()) if (!f.startsWith('.')) out.push(join(path, sub, f))
  }
  return out
}

/** Messages of an mbox file (via mbox-reader) or a Maildir, with their flags. */
export async function* readMessages(path: string): AsyncGenerator<ImportedMessage> {
  if (await isMaildir(path)) {
    for (const file of await maildirFiles(path)) {
      const info = /:2,([A-Za-z]*)$/.exec(file)?.[1] ?? ''
      const flags = [...info].map((c) => MAILDIR_FLAGS[c]).filter((f): f is string => f !== undefined)
      const st = await stat(file)
      yield { raw: new Uint8Array(await readFile(file)), flags, internalDate: st.mtime }
    }
    return
  }
  for await (const m of mboxReader(createReadStream(path))) {
    yield { raw: new Uint8Array(m.content), flags: m.flags ?? [], internalDate: m.time instanceof Date ? m.time : undefined }
  }
}
