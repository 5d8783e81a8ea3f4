import { DELIMITER, ancestors, listMatcher } from '../mailboxNames.ts'
import type { ListCommand } from '../wire/Command.ts'
import { atom, list as listToken, mailboxName as nameToken, str } from '../wire/encode.ts'
import { AUTHENTICATED } from './CommandSpec.ts'
import type { CommandSpec } from './CommandSpec.ts'
import { statusResponse } from './status.ts'

/** INBOX first, then by name. */
export function mailboxOrder(a: string, b: string): number {
  if (a === 'INBOX' || b === 'INBOX') return a === 'INBOX' ? (b === 'INBOX' ? 0 : -1) : 1
  return a < b ? -1 : a > b ? 1 : 0
}

/**
 * LIST (RFC 3501 6.3.8) with CHILDREN attributes (RFC 3348) and the RFC 5258 SUBSCRIBED
 * selection/return options and RETURN (STATUS ...) (RFC 5819). A superior that does not
 * exist is listed `\Noselect` when a pattern matches it but none of its inferiors.
 */
export const list: CommandSpec<ListCommand> = {
  states: AUTHENTICATED,
  async run(session, cmd) {
    const account = session.account!
    if (cmd.patterns.length === 1 && cmd.patterns[0] === '' && cmd.selectOptions.length === 0) {
      await session.untagged([atom('LIST'), listToken([atom('\\Noselect')]), str(DELIMITER), str('')])
      return
    }
    const existing = new Set(await account.list())
    const subscribedOnly = cmd.selectOptions.includes('SUBSCRIBED')
    const wantSubscribed = subscribedOnly || cmd.returnOptions.includes('SUBSCRIBED')
    const subs = wantSubscribed ? new Set(await account.subscriptions()) : new Set<string>()
    const names = new Set([...existing, ...(subscribedOnly ? subs : [])])
    const virtual = new Set<string>()
    for (const n of names) for (const a of ancestors(n)) if (!names.has(a)) virtual.add(a)
    const all = [...names, ...virtual]
    const matchers = cmd.patterns.map((p) => listMatcher(cmd.reference, p))
    for (const name of [...names, ...virtual].sort(mailboxOrder)) {
      const inferiors = all.filter((n) => n.startsWith(`${name}${DELIMITER}`))
      const matching = matchers.filter((m) => m(name))
      if (matching.length === 0) continue
      if (virtual.has(name) && matching.every((m) => inferiors.some(m))) continue
      if (subscribedOnly && !subs.has(name) && !virtual.has(name)) continue
      const attrs: string[] = []
      if (!existing.has(name)) attrs.push(subs.has(name) ? '\\NonExistent' : '\\Noselect')
      attrs.push(inferiors.length > 0 ? '\\HasChildren' : '\\HasNoChildren')
      if (wantSubscribed && subs.has(name)) attrs.push('\\Subscribed')
      await session.untagged([atom('LIST'), listToken(attrs.map(atom)), str(DELIMITER), nameToken(name)])
      if (cmd.returnStatus !== undefined && existing.has(name)) {
        const tokens = await statusResponse(session, name, cmd.returnStatus)
        if (tokens !== undefined) await session.untagged(tokens)
      }
    }
  },
}
