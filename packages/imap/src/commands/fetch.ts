import { bad, no } from '../ImapError.ts'
import { bodySection } from '../mime/bodySection.ts'
import { ReadAhead } from '../mime/ReadAhead.ts'
import type { ParsedMessage } from '../mime/parseMessage.ts'
import { vanishedUids } from '../uidSets.ts'
import type { FetchCommand, FetchItem } from '../wire/Command.ts'
import {
  NIL,
  atom,
  dateTime,
  encodeBodyStructure,
  encodeFetch,
  encodeUntagged,
  fetchItemResponseName,
  list,
  literal,
  num,
} from '../wire/encode.ts'
import { wireFlagList } from '../wireFlags.ts'
import type { Token } from '../wire/encode.ts'
import { SELECTED } from './CommandSpec.ts'
import type { CommandSpec } from './CommandSpec.ts'
import { asBuffer } from '../bytes.ts'

const NEEDS_BODY = new Set(['ENVELOPE', 'BODYSTRUCTURE', 'BODY', 'BODY[]', 'RFC822', 'RFC822.HEADER', 'RFC822.TEXT'])
/** Items answered from the cached structure alone, without the raw bytes. */
const STRUCTURE_ONLY = new Set(['ENVELOPE', 'BODYSTRUCTURE', 'BODY'])

/** Untagged NO lines naming one message each; beyond this one more line counts the rest. */
const MAX_UNAVAILABLE_LINES = 100

const setsSeen = (i: FetchItem): boolean => (i.type === 'BODY[]' && !i.peek) || i.type === 'RFC822' || i.type === 'RFC822.TEXT'

/**
 * FETCH / UID FETCH (RFC 3501 6.4.5) with CHANGEDSINCE and VANISHED (RFC 7162). Only UIDs the
 * session already exposed are ever returned. A non-PEEK body fetch sets `\Seen` (read-write
 * mailboxes) and returns the new FLAGS. Messages expunged but not yet announced are still
 * answered from what the node holds. A message whose body is not here (not replicated yet)
 * gets no FETCH response but an untagged `NO [UNAVAILABLE]` naming its UID, and the command
 * still ends OK: RFC 3501 7.1.2 makes an untagged NO a warning, so a client syncing many
 * messages keeps the others (imapflow throws away nothing; mbsync skips that one message and
 * fetches it on its next run) instead of seeing its whole FETCH fail. Expunged ones not
 * announced yet end the command `NO [EXPUNGEISSUED]`, as before.
 */
export const fetch: CommandSpec<FetchCommand> = {
  states: SELECTED,
  expungeAllowed: (cmd) => cmd.uid,
  async run(session, cmd) {
    const sel = session.selected!
    const { tracker, handle } = sel
    const { seqs, tooHigh } = tracker.resolve(cmd.sequenceSet, cmd.uid)
    if (tooHigh) throw bad('Invalid message sequence number')
    if (cmd.vanished && !session.qresync) throw bad('VANISHED needs ENABLE QRESYNC first')
    const wantModseq = cmd.changedSince !== undefined || cmd.items.some((i) => i.type === 'MODSEQ')
    if (wantModseq) session.enabled.add('CONDSTORE')
    if (cmd.vanished && cmd.changedSince !== undefined) {
      const vanished = vanishedUids(sel, cmd.changedSince, cmd.sequenceSet)
      if (vanished !== undefined) await session.send(encodeUntagged([atom('VANISHED'), list([atom('EARLIER')]), atom(vanished.toString())]))
    }
    const needsBody = cmd.items.some((i) => NEEDS_BODY.has(i.type))
    const needsRaw = cmd.items.some((i) => NEEDS_BODY.has(i.type) && !STRUCTURE_ONLY.has(i.type))
    // ENVELOPE alone (a client listing a mailbox) needs only the header block
    const envelopeOnly = needsBody && cmd.items.every((i) => !NEEDS_BODY.has(i.type) || i.type === 'ENVELOPE')
    const marksSeen = !sel.readOnly && cmd.items.some(setsSeen)
    const wantsFlags = cmd.items.some((i) => i.type === 'FLAGS')
    const unavailable: Array<{ seq: number; uid: number }> = []
    let expunged = 0
    const seenWrites: Promise<void>[] = []
    let seenFailure: unknown
    const cache = session.context.cache
    // CHANGEDSINCE: messages not modified since (or gone) are left out
    const unchanged = (e: { uid: number }): boolean =>
      cmd.changedSince !== undefined && (tracker.isGone(e.uid) || handle.modseq.of(e.uid) <= cmd.changedSince)
    // bodies this command will read (structures not cached yet) are loaded a few messages ahead
    const ahead = new ReadAhead(
      seqs.length,
      (i) => {
        if (!needsBody) return undefined
        const e = tracker.at(seqs[i]!)
        if (e === undefined || unchanged(e)) return undefined
        const info = handle.message(e.guid)
        if (info === undefined || info.hash === '') return undefined
        if (
          (envelopeOnly && (cache.peekEnvelopeToken(info.hash) !== undefined || cache.peekEnvelope(info.hash) !== undefined)) ||
          (!needsRaw && cache.has(info.hash))
        )
          return undefined
        return { guid: e.guid, size: info.size }
      },
      (guid) => handle.body(guid),
    )
    // responses go out in batches, not one write per message
    session.cork()
    let batched = 0
    try {
      for (const [index, seq] of seqs.entries()) {
        const entry = tracker.at(seq)!
        const gone = tracker.isGone(entry.uid)
        if (unchanged(entry)) continue
        const info = handle.message(entry.guid)
        if (info === undefined) {
          expunged++
          continue
        }
        let flags = gone ? entry.flags : info.flags
        let flagsChanged = false
        if (marksSeen && !gone && !flags.includes('\\Seen')) {
          // applied at once (the response shows the new flags and MODSEQ), durable before the tagged OK
          seenWrites.push(
            handle.setFlags([{ guid: entry.guid, add: ['\\Seen'] }]).catch((e: unknown) => {
              seenFailure ??= e
            }),
          )
          flags = handle.message(entry.guid)?.flags ?? flags
          flagsChanged = true
        }
        let raw: Buffer | undefined
        let parsed: ParsedMessage | undefined
        // a cached structure answers ENVELOPE/BODYSTRUCTURE without reading the body again
        // a listing is answered from the encoded envelope alone when one is cached
        const envelopeToken = envelopeOnly ? cache.peekEnvelopeToken(info.hash) : undefined
        const cachedStructure = needsBody && !needsRaw && envelopeToken === undefined ? cache.peek(info.hash) : undefined
        let envelope = envelopeOnly && envelopeToken === undefined ? cache.peekEnvelope(info.hash) : undefined
        if (cachedStructure !== undefined) parsed = await cachedStructure
        else if (envelopeOnly && envelope === undefined && envelopeToken === undefined) {
          const bytes = await ahead.body(index, entry.guid)
          if (bytes === undefined) {
            if (gone) expunged++
            else unavailable.push({ seq, uid: entry.uid })
            continue
          }
          envelope = await cache.envelope(info.hash, bytes)
        } else if (needsBody && !envelopeOnly) {
          const bytes = await ahead.body(index, entry.guid)
          if (bytes === undefined) {
            if (gone) expunged++
            else unavailable.push({ seq, uid: entry.uid })
            continue
          }
          raw = asBuffer(bytes)
          parsed = await cache.get(info.hash, raw)
        }
        const out: Array<[string | Token, Token]> = []
        if (cmd.uid && !cmd.items.some((i) => i.type === 'UID')) out.push(['UID', num(entry.uid)])
        for (const item of cmd.items) {
          switch (item.type) {
            case 'UID':
              out.push(['UID', num(entry.uid)])
              break
            case 'FLAGS':
              out.push(['FLAGS', wireFlagList(flags)])
              break
            case 'INTERNALDATE':
              out.push(['INTERNALDATE', dateTime(info.internalDate)])
              break
            case 'RFC822.SIZE':
              out.push(['RFC822.SIZE', num(info.size)])
              break
            case 'MODSEQ':
              break
            case 'ENVELOPE':
              out.push(['ENVELOPE', envelopeToken ?? cache.envelopeToken(info.hash, envelope ?? parsed!.envelope)])
              break
            case 'BODYSTRUCTURE':
              out.push(['BODYSTRUCTURE', encodeBodyStructure(parsed!.structure, true)])
              break
            case 'BODY':
              out.push(['BODY', encodeBodyStructure(parsed!.structure, false)])
              break
            case 'RFC822':
              out.push(['RFC822', literal(raw!)])
              break
            case 'RFC822.HEADER':
              out.push(['RFC822.HEADER', literal(raw!.subarray(parsed!.root.start, parsed!.root.bodyStart))])
              break
            case 'RFC822.TEXT':
              out.push(['RFC822.TEXT', literal(raw!.subarray(parsed!.root.bodyStart, parsed!.root.end))])
              break
            case 'BODY[]': {
              let bytes = bodySection(raw!, parsed!, item.section)
              if (bytes !== undefined && item.partial !== undefined)
                bytes = bytes.subarray(
                  Math.min(bytes.length, item.partial.offset),
                  Math.min(bytes.length, item.partial.offset + item.partial.length),
                )
              out.push([fetchItemResponseName(item), bytes === undefined ? NIL : literal(bytes)])
              break
            }
          }
        }
        const tellsFlags = wantsFlags || flagsChanged
        if (flagsChanged && !wantsFlags) out.push(['FLAGS', wireFlagList(flags)])
        if (wantModseq || (tellsFlags && session.condstore)) out.push(['MODSEQ', list([num(handle.modseq.of(entry.uid))])])
        if (tellsFlags && !gone) {
          const newList = tracker.told(entry.uid, flags)
          if (newList !== undefined) await session.send(encodeUntagged([atom('FLAGS'), wireFlagList(newList)]))
        }
        await session.send(encodeFetch(seq, out))
        if (++batched % 256 === 0) {
          session.uncork()
          session.cork()
        }
      }
    } finally {
      session.uncork()
    }
    await Promise.all(seenWrites)
    if (seenFailure !== undefined) throw seenFailure
    for (const u of unavailable.slice(0, MAX_UNAVAILABLE_LINES)) {
      await session.untaggedStatus('NO', `UID ${u.uid} (message ${u.seq}): body not available on this server yet; try again later`, {
        code: 'UNAVAILABLE',
      })
    }
    if (unavailable.length > MAX_UNAVAILABLE_LINES) {
      await session.untaggedStatus(
        'NO',
        `${unavailable.length - MAX_UNAVAILABLE_LINES} more message bodies not available on this server yet`,
        { code: 'UNAVAILABLE' },
      )
    }
    if (expunged > 0) throw no('Some of the requested messages were expunged', 'EXPUNGEISSUED')
    if (unavailable.length > 0)
      return { text: `FETCH completed; ${unavailable.length} of ${seqs.length} message bodies not available yet (see above)` }
  },
}
