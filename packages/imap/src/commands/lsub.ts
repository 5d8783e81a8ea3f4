import { DELIMITER, ancestors, listMatcher } from '../mailboxNames.ts'
import type { LsubCommand } from '../wire/Command.ts'
import { atom, list, mailboxName as nameToken, str } from '../wire/encode.ts'
import { AUTHENTICATED } from './CommandSpec.ts'
import type { CommandSpec } from './CommandSpec.ts'
import { mailboxOrder } from './list.ts'

/** LSUB (RFC 3501 6.3.9): subscribed names; an unsubscribed superior a `%` stops at is `\Noselect`. */
export const lsub: CommandSpec<LsubCommand> = {
  states: AUTHENTICATED,
  async run(session, cmd) {
    const account = session.account!
    const subs = new Set(await account.subscriptions())
    const existing = new Set(await account.list())
    const matches = listMatcher(cmd.reference, cmd.pattern)
    const virtual = new Set<string>()
    for (const s of subs) for (const a of ancestors(s)) if (!subs.has(a)) virtual.add(a)
    for (const name of [...subs, ...virtual].sort(mailboxOrder)) {
      if (!matches(name)) continue
      const isVirtual = virtual.has(name)
      if (isVirtual && [...subs].some((s) => s.startsWith(`${name}${DELIMITER}`) && matches(s))) continue
      const attrs = isVirtual || !existing.has(name) ? [atom('\\Noselect')] : []
      await session.untagged([atom('LSUB'), list(attrs), str(DELIMITER), nameToken(name)])
    }
  },
}
