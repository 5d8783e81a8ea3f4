import { no } from '../ImapError.ts'
import type { ExpungeCommand } from '../wire/Command.ts'
import { SELECTED } from './CommandSpec.ts'
import type { CommandSpec } from './CommandSpec.ts'

/**
 * EXPUNGE (RFC 3501 6.4.3) and UID EXPUNGE (RFC 4315): removes the `\Deleted` messages (only
 * those in the UID set for UID EXPUNGE); the EXPUNGE responses follow as notifications.
 */
export const expunge: CommandSpec<ExpungeCommand> = {
  states: SELECTED,
  async run(session, cmd) {
    const { handle, tracker, readOnly } = session.selected!
    if (readOnly) throw no('The mailbox is read-only', 'READ-ONLY')
    const guids: string[] = []
    const max = tracker.maxUid
    for (let seq = 1; seq <= tracker.count; seq++) {
      const e = tracker.at(seq)!
      if (tracker.isGone(e.uid)) continue
      if (cmd.sequenceSet !== undefined && !cmd.sequenceSet.contains(e.uid, max)) continue
      if (handle.message(e.guid)?.flags.includes('\\Deleted')) guids.push(e.guid)
    }
    await handle.expunge(guids)
  },
}
