import type { IdCommand } from '../wire/Command.ts'
import { atom, list, str } from '../wire/encode.ts'
import { ANY } from './CommandSpec.ts'
import type { CommandSpec } from './CommandSpec.ts'

/** ID (RFC 2971): names the server; the client's parameters are ignored. */
export const id: CommandSpec<IdCommand> = {
  states: ANY,
  async run(session) {
    await session.untagged([atom('ID'), list([str('name'), str(session.settings.serverName), str('vendor'), str('mailweave')])])
  },
}
