import { bad } from '../ImapError.ts'
import { isWireFlag } from '../wireFlags.ts'

/**
 * The flags a client asked to store, checked up front (BAD for a malformed one) so a command
 * never applies half its changes; `\Recent` is dropped (it is never stored, see README).
 */
export function storableFlags(flags: readonly string[]): string[] {
  const out: string[] = []
  for (const f of flags) {
    if (f.toLowerCase() === '\\recent') continue
    if (!isWireFlag(f)) throw bad(`Invalid flag ${f}`)
    if (f.startsWith('\\') && !['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft'].includes(f))
      throw bad(`Unknown system flag ${f}`)
    if (!out.includes(f)) out.push(f)
  }
  return out
}
