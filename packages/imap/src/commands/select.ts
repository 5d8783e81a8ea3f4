import { bad, no } from '../ImapError.ts'
import { MailboxTracker } from '../MailboxTracker.ts'
import { mailboxName } from '../mailboxNames.ts'
import { vanishedUids } from '../uidSets.ts'
import type { SelectCommand } from '../wire/Command.ts'
import { wireFlagList } from '../wireFlags.ts'
import { atom, encodeFetch, list, num } from '../wire/encode.ts'
import type { Token } from '../wire/encode.ts'
import { AUTHENTICATED } from './CommandSpec.ts'
import type { CommandSpec } from './CommandSpec.ts'

/**
 * SELECT / EXAMINE (RFC 3501 6.3.1-2) with CONDSTORE and QRESYNC parameters (RFC 7162).
 * Every UID and the UIDNEXT come from the durable exposure the tracker takes first.
 * `* 0 RECENT` always: this server never sets `\Recent` (see README).
 */
export const select: CommandSpec<SelectCommand> = {
  states: AUTHENTICATED,
  notifies: false,
  async run(session, cmd) {
    const readOnly = cmd.name === 'EXAMINE'
    if (cmd.qresync !== undefined && !session.qresync) throw bad('QRESYNC parameters need ENABLE QRESYNC first')
    if (session.selected !== undefined) {
      session.deselect()
      await session.untaggedStatus('OK', 'Previous mailbox is now closed', { code: 'CLOSED' })
    }
    if (cmd.condstore) session.enabled.add('CONDSTORE')
    const name = mailboxName(cmd.mailbox)
    const handle = await session.account!.open(name)
    if (handle === undefined) throw no(`No mailbox ${name}`, 'NONEXISTENT')
    let tracker: MailboxTracker
    try {
      tracker = await MailboxTracker.open(handle)
    } catch (e) {
      handle.release()
      throw e
    }
    if (tracker.uidValidity === 0) {
      tracker.dispose()
      handle.release()
      throw no(`Mailbox ${name} is not ready on this server yet`, 'UNAVAILABLE')
    }
    const selected = { name, handle, tracker, readOnly }
    session.select(selected)
    let firstUnseen = 0
    for (let seq = 1; seq <= tracker.count && firstUnseen === 0; seq++) if (!tracker.at(seq)!.flags.includes('\\Seen')) firstUnseen = seq
    const flags = tracker.flagList
    const out: Array<Promise<void>> = []
    out.push(session.untagged([atom('FLAGS'), wireFlagList(flags)]))
    out.push(
      session.untaggedStatus('OK', readOnly ? 'No permanent flags in a read-only mailbox' : 'Flags permitted', {
        code: 'PERMANENTFLAGS',
        flags: readOnly ? [] : [...flags, '\\*'],
      }),
    )
    out.push(session.untagged([num(tracker.count), atom('EXISTS')]))
    out.push(session.untagged([num(0), atom('RECENT')]))
    if (firstUnseen > 0) out.push(session.untaggedStatus('OK', 'First unseen message', { code: 'UNSEEN', value: firstUnseen }))
    out.push(session.untaggedStatus('OK', 'UIDs valid', { code: 'UIDVALIDITY', value: tracker.uidValidity }))
    out.push(session.untaggedStatus('OK', 'Predicted next UID', { code: 'UIDNEXT', value: tracker.uidNext }))
    out.push(session.untaggedStatus('OK', 'Highest mod-sequence', { code: 'HIGHESTMODSEQ', value: handle.modseq.highest }))
    await Promise.all(out)
    const q = cmd.qresync
    if (q !== undefined && q.uidValidity === tracker.uidValidity) {
      const vanished = vanishedUids(selected, q.modSeq, q.knownUids)
      if (vanished !== undefined) await session.untagged([atom('VANISHED'), list([atom('EARLIER')]), atom(vanished.toString())])
      for (let seq = 1; seq <= tracker.count; seq++) {
        const e = tracker.at(seq)!
        if (q.knownUids !== undefined && !q.knownUids.contains(e.uid, tracker.maxUid)) continue
        const modseq = handle.modseq.of(e.uid)
        if (modseq <= q.modSeq) continue
        const items: Array<[string, Token]> = [
          ['UID', num(e.uid)],
          ['FLAGS', wireFlagList(e.flags)],
          ['MODSEQ', list([num(modseq)])],
        ]
        await session.send(encodeFetch(seq, items))
      }
    }
    return { text: `${cmd.name} completed`, code: { code: readOnly ? 'READ-ONLY' : 'READ-WRITE' } }
  },
}
