import type { SimpleCommand } from '../wire/Command.ts'
import { ANY } from './CommandSpec.ts'
import type { CommandSpec } from './CommandSpec.ts'

/** LOGOUT (RFC 3501 6.1.3): `* BYE`, tagged OK, then the server closes the connection. */
export const logout: CommandSpec<SimpleCommand> = {
  states: ANY,
  notifies: false,
  async run(session) {
    await session.untaggedStatus('BYE', 'Logging out')
    session.closeAfterTagged()
    return { text: 'LOGOUT completed' }
  },
}
