import { bad, no } from '../ImapError.ts'
import { mailboxName } from '../mailboxNames.ts'
import { exposedSet, orderedSet } from '../uidSets.ts'
import type { CopyCommand } from '../wire/Command.ts'
import type { ResponseCode } from '../wire/encode.ts'
import { SELECTED } from './CommandSpec.ts'
import type { CommandSpec } from './CommandSpec.ts'

/**
 * COPY / MOVE and their UID forms (RFC 3501 6.4.7, RFC 6851), with COPYUID (RFC 4315)
 * from a durable exposure of the target. All or nothing: on failure the copies are
 * expunged again. MOVE expunges the originals after the copies are durable and sends
 * `* OK [COPYUID ...]` before the EXPUNGE responses.
 */
export const copy: CommandSpec<CopyCommand> = {
  states: SELECTED,
  async run(session, cmd) {
    const sel = session.selected!
    const { tracker, handle } = sel
    if (cmd.name === 'MOVE' && sel.readOnly) throw no('The mailbox is read-only', 'READ-ONLY')
    const { seqs, tooHigh } = tracker.resolve(cmd.sequenceSet, cmd.uid)
    if (tooHigh) throw bad('Invalid message sequence number')
    const target = mailboxName(cmd.mailbox)
    const sources = seqs.map((s) => tracker.at(s)!).filter((e) => !tracker.isGone(e.uid))
    const dest = await session.account!.open(target)
    if (dest === undefined) throw no(`No mailbox ${target}`, 'TRYCREATE')
    try {
      if (sources.length === 0) return { text: `${cmd.name} completed, no messages` }
      const { guids: copies, view } = await handle.copyTo(
        dest,
        sources.map((e) => e.guid),
      )
      const destination = exposedSet(
        view,
        copies.map((g) => dest.message(g)?.uid),
      )
      const code: ResponseCode | undefined =
        destination !== undefined
          ? { code: 'COPYUID', uidValidity: view.uidValidity, source: orderedSet(sources.map((e) => e.uid)), destination }
          : undefined
      if (cmd.name === 'COPY') return { text: 'COPY completed', ...(code !== undefined ? { code } : {}) }
      await handle.expunge(sources.map((e) => e.guid))
      if (code !== undefined) await session.untaggedStatus('OK', 'Messages copied', code)
      return { text: 'MOVE completed' }
    } finally {
      dest.release()
    }
  },
}
