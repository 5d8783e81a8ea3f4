import { no } from '../ImapError.ts'
import { mailboxName } from '../mailboxNames.ts'
import { exposedSet } from '../uidSets.ts'
import type { AppendCommand } from '../wire/Command.ts'
import { AUTHENTICATED } from './CommandSpec.ts'
import type { CommandSpec } from './CommandSpec.ts'
import { storableFlags } from './flags.ts'

/**
 * APPEND (RFC 3501 6.3.11) with MULTIAPPEND (RFC 3502, all or nothing) and APPENDUID
 * (RFC 4315), whose UIDs come from a durable exposure taken after the appends. A message
 * the exposure does not show yet (a stranded one) is appended without APPENDUID.
 */
export const append: CommandSpec<AppendCommand> = {
  states: AUTHENTICATED,
  async run(session, cmd) {
    const name = mailboxName(cmd.mailbox)
    const messages = cmd.messages.map((m) => ({ raw: m.content, flags: storableFlags(m.flags), date: m.date }))
    const handle = await session.account!.open(name)
    if (handle === undefined) throw no(`No mailbox ${name}`, 'TRYCREATE')
    try {
      const { guids, view } = await handle.append(
        messages.map((m) => ({ raw: m.raw, flags: m.flags, ...(m.date !== undefined ? { internalDate: m.date } : {}) })),
      )
      const infos = guids.map((g) => handle.message(g))
      // a mail client lists what it just saved: parse the envelopes now, after the reply is out,
      // while the bytes are in memory (Dovecot fills its index cache at save time the same way)
      const cache = session.context.cache
      setImmediate(() =>
        messages.forEach((m, i) => {
          const hash = infos[i]?.hash
          if (hash === undefined || hash === '') return
          // nobody awaits this: a failure must be logged, not become an unhandled rejection
          cache
            .envelope(hash, m.raw)
            .then((env) => cache.envelopeToken(hash, env))
            .catch((e: unknown) => session.context.logError('envelope warm-up', e))
        }),
      )
      const uids = exposedSet(
        view,
        infos.map((info) => info?.uid),
      )
      if (uids === undefined) return { text: 'APPEND completed' }
      return { text: 'APPEND completed', code: { code: 'APPENDUID', uidValidity: view.uidValidity, uids } }
    } finally {
      handle.release()
    }
  },
}
