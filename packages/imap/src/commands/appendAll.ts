import type { ImapMailbox } from '../ImapBackend.ts'

/**
 * Appends `count` messages to `dest` (`appendOne(i)` appends the i-th and returns its GUID),
 * all or nothing: when one fails, those already appended are expunged again (best effort)
 * and the error is rethrown. APPEND (MULTIAPPEND) and COPY / MOVE share it.
 */
export async function appendAll(dest: ImapMailbox, count: number, appendOne: (i: number) => Promise<string>): Promise<string[]> {
  const guids: string[] = []
  try {
    for (let i = 0; i < count; i++) guids.push(await appendOne(i))
  } catch (e) {
    if (guids.length > 0) {
      dest.mailbox.expunge(guids)
      await dest.flush().catch(() => undefined)
    }
    throw e
  }
  return guids
}
