import { mailboxName } from '../mailboxNames.ts'
import type { MailboxCommand } from '../wire/Command.ts'
import { AUTHENTICATED } from './CommandSpec.ts'
import type { CommandSpec } from './CommandSpec.ts'

/** SUBSCRIBE / UNSUBSCRIBE (RFC 3501 6.3.6-7); names need not exist. */
export const subscribe: CommandSpec<MailboxCommand> = {
  states: AUTHENTICATED,
  async run(session, cmd) {
    await session.account!.subscribe(mailboxName(cmd.mailbox), cmd.name === 'SUBSCRIBE')
  },
}
