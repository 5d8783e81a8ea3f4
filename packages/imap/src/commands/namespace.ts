import type { SimpleCommand } from '../wire/Command.ts'
import { NIL, atom, list, str } from '../wire/encode.ts'
import { DELIMITER } from '../mailboxNames.ts'
import { AUTHENTICATED } from './CommandSpec.ts'
import type { CommandSpec } from './CommandSpec.ts'

/** NAMESPACE (RFC 2342): one personal namespace, no prefix, "/" as delimiter. */
export const namespace: CommandSpec<SimpleCommand> = {
  states: AUTHENTICATED,
  async run(session) {
    await session.untagged([atom('NAMESPACE'), list([list([str(''), str(DELIMITER)])]), NIL, NIL])
  },
}
