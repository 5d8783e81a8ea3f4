import { no } from '../ImapError.ts'
import { mailboxName } from '../mailboxNames.ts'
import type { MailboxCommand } from '../wire/Command.ts'
import { AUTHENTICATED } from './CommandSpec.ts'
import type { CommandSpec } from './CommandSpec.ts'

/** DELETE (RFC 3501 6.3.4); INBOX cannot be deleted, inferiors stay. */
export const deleteMailbox: CommandSpec<MailboxCommand> = {
  states: AUTHENTICATED,
  async run(session, cmd) {
    const name = mailboxName(cmd.mailbox)
    if (name === 'INBOX') throw no('INBOX cannot be deleted', 'CANNOT')
    await session.account!.delete(name)
  },
}
