import type { ImapSession } from '../ImapSession.ts'
import { no } from '../ImapError.ts'
import { mailboxName } from '../mailboxNames.ts'
import type { StatusCommand, StatusItem } from '../wire/Command.ts'
import { atom, list, mailboxName as nameToken, num } from '../wire/encode.ts'
import type { Token } from '../wire/encode.ts'
import { AUTHENTICATED } from './CommandSpec.ts'
import type { CommandSpec } from './CommandSpec.ts'

/**
 * The `* STATUS` response for `name`. UIDNEXT comes from a durable exposure (docs/protocol.md rule 5);
 * without it no exposure is made. RECENT is always 0 (see README). `undefined` when absent.
 */
export async function statusResponse(session: ImapSession, name: string, items: readonly StatusItem[]): Promise<Token[] | undefined> {
  const handle = await session.account!.open(name)
  if (handle === undefined) return undefined
  try {
    const view = items.includes('UIDNEXT') ? await handle.expose() : handle.view()
    if (view.uidValidity === 0) throw no(`Mailbox ${name} is not ready on this server yet`, 'UNAVAILABLE')
    const values: Token[] = []
    const count = (pred: (flags: readonly string[]) => boolean): number => {
      let n = 0
      for (let s = 1; s <= view.size; s++) if (pred(view.atSeq(s)!.flags)) n++
      return n
    }
    for (const item of new Set(items)) {
      let value: number | bigint
      switch (item) {
        case 'MESSAGES':
          value = view.size
          break
        case 'RECENT':
          value = 0
          break
        case 'UIDNEXT':
          value = view.uidNext
          break
        case 'UIDVALIDITY':
          value = view.uidValidity
          break
        case 'UNSEEN':
          value = count((f) => !f.includes('\\Seen'))
          break
        case 'DELETED':
          value = count((f) => f.includes('\\Deleted'))
          break
        case 'SIZE': {
          let total = 0
          for (let s = 1; s <= view.size; s++) total += handle.message(view.atSeq(s)!.guid)?.size ?? 0
          value = total
          break
        }
        case 'HIGHESTMODSEQ':
          session.enabled.add('CONDSTORE')
          value = handle.modseq.highest
          break
        case 'APPENDLIMIT':
          value = session.settings.maxLiteralSize
          break
      }
      values.push(atom(item), num(value))
    }
    return [atom('STATUS'), nameToken(name), list(values)]
  } finally {
    handle.release()
  }
}

/** STATUS (RFC 3501 6.3.10, RFC 7162 HIGHESTMODSEQ, RFC 8438 SIZE, RFC 7889 APPENDLIMIT). */
export const status: CommandSpec<StatusCommand> = {
  states: AUTHENTICATED,
  async run(session, cmd) {
    const name = mailboxName(cmd.mailbox)
    const tokens = await statusResponse(session, name, cmd.items)
    if (tokens === undefined) throw no(`No mailbox ${name}`, 'NONEXISTENT')
    await session.untagged(tokens)
  },
}
