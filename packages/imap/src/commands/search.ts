import type { MessageInfo } from '@mailweave/core'
import { bad } from '../ImapError.ts'
import type { ParsedMessage } from '../mime/parseMessage.ts'
import { bodyText, headerText, headerValues } from '../mime/searchText.ts'
import type { SearchCommand, SearchKey } from '../wire/Command.ts'
import { atom, list, num, str } from '../wire/encode.ts'
import type { Token } from '../wire/encode.ts'
import { SequenceSet } from '../wire/SequenceSet.ts'
import { SELECTED } from './CommandSpec.ts'
import type { CommandSpec } from './CommandSpec.ts'
import { asBuffer } from '../bytes.ts'

const CONTENT_KEYS = new Set(['BCC', 'BODY', 'CC', 'FROM', 'SUBJECT', 'TEXT', 'TO', 'HEADER', 'SENTBEFORE', 'SENTON', 'SENTSINCE'])

/** Whether `key` or any key nested in it (under NOT, OR, AND) satisfies `test`. */
function anyKey(key: SearchKey, test: (k: SearchKey) => boolean): boolean {
  switch (key.type) {
    case 'NOT':
      return anyKey(key.key, test)
    case 'OR':
      return anyKey(key.left, test) || anyKey(key.right, test)
    case 'AND':
      return key.keys.some((k) => anyKey(k, test))
    default:
      return test(key)
  }
}

/** Whether evaluating `key` needs the message's bytes. */
const needsContent = (key: SearchKey): boolean => anyKey(key, (k) => CONTENT_KEYS.has(k.type))

/** Whether `key` tests a MODSEQ (which turns CONDSTORE on). */
const usesModseq = (key: SearchKey): boolean => anyKey(key, (k) => k.type === 'MODSEQ')

/** One message being tested. */
interface Candidate {
  readonly seq: number
  readonly uid: number
  readonly count: number
  readonly maxUid: number
  readonly info: MessageInfo
  readonly modseq: bigint
  readonly raw?: Buffer
  readonly parsed?: ParsedMessage
  body?: string
  text?: string
}

const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10)

/** The calendar day of a Date header in its own time zone (RFC 3501: SENT* disregard time and zone). */
function sentDay(c: Candidate): string {
  const value = c.raw !== undefined && c.parsed !== undefined ? headerValues(c.raw, c.parsed.root, 'date')[0] : undefined
  const ms = value === undefined ? NaN : Date.parse(value.replace(/\([^)]*\)/g, ' '))
  if (Number.isNaN(ms)) return day(c.info.internalDate.getTime())
  const zone = /([+-])(\d\d)(\d\d)\s*$/.exec(value!.replace(/\([^)]*\)/g, '').trim())
  const offset = zone === null ? 0 : (zone[1] === '-' ? -1 : 1) * (Number(zone[2]) * 60 + Number(zone[3]))
  return day(ms + offset * 60_000)
}

const contains = (hay: string, needle: string): boolean => hay.toLowerCase().includes(needle.toLowerCase())

function headerMatch(c: Candidate, field: string, value: string): boolean {
  if (c.raw === undefined || c.parsed === undefined) return false
  const values = headerValues(c.raw, c.parsed.root, field.toLowerCase())
  return value.length === 0 ? values.length > 0 : values.some((v) => contains(v, value))
}

function matches(key: SearchKey, c: Candidate, now: number): boolean {
  const flags = c.info.flags
  const has = (f: string): boolean => flags.some((x) => x.toLowerCase() === f.toLowerCase())
  switch (key.type) {
    case 'ALL':
    case 'OLD':
      return true
    case 'NEW':
    case 'RECENT':
      return false
    case 'ANSWERED':
    case 'DELETED':
    case 'DRAFT':
    case 'FLAGGED':
    case 'SEEN':
      return has(`\\${key.type}`)
    case 'UNANSWERED':
    case 'UNDELETED':
    case 'UNDRAFT':
    case 'UNFLAGGED':
    case 'UNSEEN':
      return !has(`\\${key.type.slice(2)}`)
    case 'KEYWORD':
      return has(key.flag)
    case 'UNKEYWORD':
      return !has(key.flag)
    case 'BCC':
    case 'CC':
    case 'FROM':
    case 'SUBJECT':
    case 'TO':
      return headerMatch(c, key.type, key.value)
    case 'HEADER':
      return headerMatch(c, key.field, key.value)
    case 'BODY':
      if (c.raw === undefined || c.parsed === undefined) return false
      c.body ??= bodyText(c.raw, c.parsed.root)
      return contains(c.body, key.value)
    case 'TEXT':
      if (c.raw === undefined || c.parsed === undefined) return false
      c.body ??= bodyText(c.raw, c.parsed.root)
      c.text ??= headerText(c.raw, c.parsed.root)
      return contains(c.text, key.value) || contains(c.body, key.value)
    case 'BEFORE':
      return day(c.info.internalDate.getTime()) < key.date
    case 'ON':
      return day(c.info.internalDate.getTime()) === key.date
    case 'SINCE':
      return day(c.info.internalDate.getTime()) >= key.date
    case 'SENTBEFORE':
      return sentDay(c) < key.date
    case 'SENTON':
      return sentDay(c) === key.date
    case 'SENTSINCE':
      return sentDay(c) >= key.date
    case 'LARGER':
      return c.info.size > key.size
    case 'SMALLER':
      return c.info.size < key.size
    case 'YOUNGER':
      return now - c.info.internalDate.getTime() <= key.seconds * 1000
    case 'OLDER':
      return now - c.info.internalDate.getTime() > key.seconds * 1000
    case 'UID':
      return key.set.contains(c.uid, c.maxUid)
    case 'SEQUENCE':
      return key.set.contains(c.seq, c.count)
    case 'MODSEQ':
      return c.modseq >= key.modSeq
    case 'NOT':
      return !matches(key.key, c, now)
    case 'OR':
      return matches(key.left, c, now) || matches(key.right, c, now)
    case 'AND':
      return key.keys.every((k) => matches(k, c, now))
  }
}

/**
 * SEARCH / UID SEARCH (RFC 3501 6.4.4) with MODSEQ (RFC 7162) and ESEARCH results
 * (RFC 4731 `RETURN (MIN MAX COUNT ALL)`). Header and body keys match MIME-decoded text,
 * case-insensitively. Only messages the session knows (and not expunged) can match.
 */
export const search: CommandSpec<SearchCommand> = {
  states: SELECTED,
  expungeAllowed: (cmd) => cmd.uid,
  async run(session, cmd) {
    const { tracker, handle } = session.selected!
    if (cmd.returnOptions?.includes('SAVE')) throw bad('SEARCHRES (RETURN SAVE) is not supported')
    const content = cmd.criteria.some(needsContent)
    const withModseq = cmd.criteria.some(usesModseq)
    if (withModseq) session.enabled.add('CONDSTORE')
    const now = Date.now()
    const hits: Array<{ seq: number; uid: number; modseq: bigint }> = []
    const count = tracker.count
    const maxUid = tracker.maxUid
    for (let seq = 1; seq <= count; seq++) {
      const e = tracker.at(seq)!
      if (tracker.isGone(e.uid)) continue
      const info = handle.message(e.guid)
      if (info === undefined || info.expunged) continue
      let raw: Buffer | undefined
      let parsed: ParsedMessage | undefined
      if (content) {
        const bytes = await handle.body(e.guid)
        if (bytes !== undefined) {
          raw = asBuffer(bytes)
          parsed = await session.context.cache.get(info.hash, raw)
        }
      }
      const c: Candidate = {
        seq,
        uid: e.uid,
        count,
        maxUid,
        info,
        modseq: handle.modseq.of(e.uid),
        ...(raw !== undefined ? { raw } : {}),
        ...(parsed !== undefined ? { parsed } : {}),
      }
      if (cmd.criteria.every((k) => matches(k, c, now))) hits.push({ seq, uid: e.uid, modseq: c.modseq })
    }
    // Ascending either way: sequence numbers and UIDs grow together.
    const ids = hits.map((h) => (cmd.uid ? h.uid : h.seq))
    const highest = hits.reduce((m, h) => (h.modseq > m ? h.modseq : m), 0n)
    if (cmd.returnOptions === undefined) {
      const tokens: Token[] = [atom('SEARCH'), ...ids.map(num)]
      if (withModseq && hits.length > 0) tokens.push(list([atom('MODSEQ'), num(highest)]))
      await session.untagged(tokens)
      return
    }
    const opts = cmd.returnOptions.length === 0 ? ['ALL'] : cmd.returnOptions
    const tokens: Token[] = [atom('ESEARCH'), list([atom('TAG'), str(cmd.tag)])]
    if (cmd.uid) tokens.push(atom('UID'))
    if (opts.includes('MIN') && ids.length > 0) tokens.push(atom('MIN'), num(ids[0]!))
    if (opts.includes('MAX') && ids.length > 0) tokens.push(atom('MAX'), num(ids[ids.length - 1]!))
    if (opts.includes('COUNT')) tokens.push(atom('COUNT'), num(ids.length))
    if (opts.includes('ALL') && ids.length > 0) tokens.push(atom('ALL'), atom(SequenceSet.fromNumbers(ids).toString()))
    if (withModseq && hits.length > 0) tokens.push(atom('MODSEQ'), num(highest))
    await session.untagged(tokens)
  },
}
