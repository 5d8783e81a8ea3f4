import type { SimpleCommand } from '../wire/Command.ts'
import { SELECTED } from './CommandSpec.ts'
import type { CommandSpec } from './CommandSpec.ts'

/** CHECK (RFC 3501 6.4.1): nothing to do, every change is durable before its command is answered. */
export const check: CommandSpec<SimpleCommand> = {
  states: SELECTED,
  async run() {},
}
