import { bad, no } from '../ImapError.ts'
import type { SimpleCommand } from '../wire/Command.ts'
import type { CommandSpec } from './CommandSpec.ts'

/** STARTTLS (RFC 3501 6.2.1): TLS negotiation begins right after the tagged OK. */
export const starttls: CommandSpec<SimpleCommand> = {
  states: ['notAuthenticated'],
  async run(session) {
    if (session.secure) throw bad('TLS is already active')
    if (session.context.secureContext === undefined) throw no('TLS is not configured on this server', 'CANNOT')
    session.afterTagged(() => session.upgradeToTls())
    return { text: 'Begin TLS negotiation now' }
  },
}
