import { no } from '../ImapError.ts'
import { mailboxName } from '../mailboxNames.ts'
import type { RenameCommand } from '../wire/Command.ts'
import { AUTHENTICATED } from './CommandSpec.ts'
import type { CommandSpec } from './CommandSpec.ts'

/** RENAME (RFC 3501 6.3.5); renaming INBOX moves its messages and leaves it empty. */
export const rename: CommandSpec<RenameCommand> = {
  states: AUTHENTICATED,
  async run(session, cmd) {
    const from = mailboxName(cmd.from)
    const to = mailboxName(cmd.to)
    if (to === 'INBOX') throw no('INBOX always exists', 'ALREADYEXISTS')
    await session.account!.rename(from, to)
  },
}
