import type { SimpleCommand } from '../wire/Command.ts'
import { SELECTED } from './CommandSpec.ts'
import type { CommandSpec } from './CommandSpec.ts'

/** UNSELECT (RFC 3691): deselects without expunging. */
export const unselect: CommandSpec<SimpleCommand> = {
  states: SELECTED,
  notifies: false,
  async run(session) {
    session.deselect()
  },
}
