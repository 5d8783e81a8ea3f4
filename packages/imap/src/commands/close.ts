import type { SimpleCommand } from '../wire/Command.ts'
import { SELECTED } from './CommandSpec.ts'
import type { CommandSpec } from './CommandSpec.ts'

/** CLOSE (RFC 3501 6.4.2): silently expunges `\Deleted` messages (read-write only), then deselects. */
export const close: CommandSpec<SimpleCommand> = {
  states: SELECTED,
  notifies: false,
  async run(session) {
    const { handle, tracker, readOnly } = session.selected!
    if (!readOnly) {
      const guids: string[] = []
      for (let seq = 1; seq <= tracker.count; seq++) {
        const e = tracker.at(seq)!
        if (handle.message(e.guid)?.flags.includes('\\Deleted')) guids.push(e.guid)
      }
      await handle.expunge(guids)
    }
    session.deselect()
  },
}
