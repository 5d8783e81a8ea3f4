import { no } from '../ImapError.ts'
import { mailboxName } from '../mailboxNames.ts'
import type { MailboxCommand } from '../wire/Command.ts'
import { AUTHENTICATED } from './CommandSpec.ts'
import type { CommandSpec } from './CommandSpec.ts'

/** CREATE (RFC 3501 6.3.3); a trailing delimiter is dropped, superiors need not exist. */
export const create: CommandSpec<MailboxCommand> = {
  states: AUTHENTICATED,
  async run(session, cmd) {
    const name = mailboxName(cmd.mailbox)
    if (name === 'INBOX') throw no('INBOX always exists', 'ALREADYEXISTS')
    await session.account!.create(name)
  },
}
