import type { SimpleCommand } from '../wire/Command.ts'
import { atom } from '../wire/encode.ts'
import { ANY } from './CommandSpec.ts'
import type { CommandSpec } from './CommandSpec.ts'

/** CAPABILITY (RFC 3501 6.1.1): what this server offers in the current state. */
export const capability: CommandSpec<SimpleCommand> = {
  states: ANY,
  async run(session) {
    await session.untagged([atom('CAPABILITY'), ...session.capabilities().map(atom)])
  },
}
