import type { FlagChange } from '../ImapBackend.ts'
import { bad, no } from '../ImapError.ts'
import type { StoreCommand } from '../wire/Command.ts'
import { wireFlagList } from '../wireFlags.ts'
import { atom, encodeFetch, encodeUntagged, list, num } from '../wire/encode.ts'
import type { Token } from '../wire/encode.ts'
import { SequenceSet } from '../wire/SequenceSet.ts'
import { SELECTED } from './CommandSpec.ts'
import type { CommandSpec } from './CommandSpec.ts'
import { storableFlags } from './flags.ts'

/**
 * STORE / UID STORE (RFC 3501 6.4.6) with UNCHANGEDSINCE (RFC 7162: messages changed since
 * are left alone and listed in `OK [MODIFIED ...]`). Changes are durable before the
 * response; each changed message gets `* n FETCH (FLAGS ...)` unless `.SILENT`.
 */
export const store: CommandSpec<StoreCommand> = {
  states: SELECTED,
  expungeAllowed: (cmd) => cmd.uid,
  async run(session, cmd) {
    const sel = session.selected!
    const { tracker, handle } = sel
    if (sel.readOnly) throw no('The mailbox is read-only', 'READ-ONLY')
    const flags = storableFlags(cmd.flags)
    const { seqs, tooHigh } = tracker.resolve(cmd.sequenceSet, cmd.uid)
    if (tooHigh) throw bad('Invalid message sequence number')
    if (cmd.unchangedSince !== undefined) session.enabled.add('CONDSTORE')
    const modified: number[] = []
    const stored: number[] = []
    const changes: FlagChange[] = []
    for (const seq of seqs) {
      const e = tracker.at(seq)!
      if (tracker.isGone(e.uid)) continue
      if (cmd.unchangedSince !== undefined && handle.modseq.of(e.uid) > cmd.unchangedSince) {
        modified.push(cmd.uid ? e.uid : seq)
        continue
      }
      const current = handle.message(e.guid)?.flags ?? []
      if (cmd.operation === 'add') changes.push({ guid: e.guid, add: flags })
      else if (cmd.operation === 'remove') changes.push({ guid: e.guid, remove: flags })
      else changes.push({ guid: e.guid, add: flags, remove: current.filter((f) => !flags.includes(f)) })
      stored.push(seq)
    }
    await handle.setFlags(changes)
    for (const seq of stored) {
      const e = tracker.at(seq)!
      const now = handle.message(e.guid)?.flags ?? []
      const newList = tracker.told(e.uid, now)
      if (newList !== undefined) await session.send(encodeUntagged([atom('FLAGS'), wireFlagList(newList)]))
      const items: Array<[string, Token]> = []
      if (!cmd.silent) items.push(['FLAGS', wireFlagList(now)])
      if (cmd.uid || (session.condstore && items.length === 0)) items.push(['UID', num(e.uid)])
      if (session.condstore && (!cmd.silent || cmd.unchangedSince !== undefined))
        items.push(['MODSEQ', list([num(handle.modseq.of(e.uid))])])
      if (!cmd.silent || items.some(([k]) => k === 'MODSEQ')) await session.send(encodeFetch(seq, items))
    }
    if (modified.length > 0)
      return {
        text: 'Some messages were changed by someone else and were not stored',
        code: { code: 'MODIFIED', set: SequenceSet.fromNumbers(modified) },
      }
  },
}
