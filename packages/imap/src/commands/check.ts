import type { SimpleCommand } from '../wire/Command.ts'
import { SELECTED } from './CommandSpec.ts'
import type { CommandSpec } from './CommandSpec.ts'

/** CHECK (RFC 3501 6.4.1): waits until every earlier change to the mailbox is durable. */
export const check: CommandSpec<SimpleCommand> = {
  states: SELECTED,
  async run(session) {
    await session.selected!.handle.flush()
  },
}
