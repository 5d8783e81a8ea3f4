import type { EnableCommand } from '../wire/Command.ts'
import { atom } from '../wire/encode.ts'
import { AUTHENTICATED } from './CommandSpec.ts'
import type { CommandSpec } from './CommandSpec.ts'

const ENABLEABLE = new Set(['CONDSTORE', 'QRESYNC'])

/** ENABLE (RFC 5161): CONDSTORE and QRESYNC (which implies CONDSTORE); others are ignored. */
export const enable: CommandSpec<EnableCommand> = {
  states: AUTHENTICATED,
  async run(session, cmd) {
    const now: string[] = []
    for (const c of cmd.capabilities) {
      if (!ENABLEABLE.has(c) || session.enabled.has(c)) continue
      session.enabled.add(c)
      now.push(c)
    }
    if (now.includes('QRESYNC') && !session.enabled.has('CONDSTORE')) session.enabled.add('CONDSTORE')
    await session.untagged([atom('ENABLED'), ...now.map(atom)])
  },
}
