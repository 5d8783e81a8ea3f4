import type { SimpleCommand } from '../wire/Command.ts'
import { ANY } from './CommandSpec.ts'
import type { CommandSpec } from './CommandSpec.ts'

/** NOOP (RFC 3501 6.1.2): does nothing; the session then reports every pending mailbox change. */
export const noop: CommandSpec<SimpleCommand> = {
  states: ANY,
  async run() {},
}
