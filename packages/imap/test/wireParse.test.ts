import { describe, expect, it } from 'vitest'
import { SequenceSet } from '../src/wire/SequenceSet.ts'
import { parseCommand } from '../src/wire/parseCommand.ts'
import type { Command } from '../src/wire/Command.ts'
import { CORPUS, frameOf, lit, parse } from './wireFixtures.ts'

const seq = (text: string): SequenceSet => {
  const set = SequenceSet.parse(text)
  if (set === undefined) throw new Error(`bad fixture ${text}`)
  return set
}

function ok(text: string, utf8 = false): Command {
  const r = parse(text, utf8)
  if (!r.ok) throw new Error(`${text}: ${r.message}`)
  return r.command
}

describe('parseCommand: real client commands', () => {
  it.each(CORPUS.map((c) => [c.slice(0, 70), c]))('parses %s', (_label, text) => {
    const r = parse(text)
    expect(r.ok ? r.command.tag : r.message).toBe(text.slice(0, text.indexOf(' ')))
  })
})

describe('parseCommand: exact results', () => {
  const table: Array<[string, Command]> = [
    ['a1 noop', { tag: 'a1', name: 'NOOP' }],
    ['A01 AUTHENTICATE PLAIN =', { tag: 'A01', name: 'AUTHENTICATE', mechanism: 'PLAIN', initialResponse: new Uint8Array(0) }],
    ['a SELECT inbox', { tag: 'a', name: 'SELECT', mailbox: 'INBOX', condstore: false }],
    ['a SELECT "INBOX/Sub" (CONDSTORE)', { tag: 'a', name: 'SELECT', mailbox: 'INBOX/Sub', condstore: true }],
    ['a EXAMINE x (QRESYNC (1 2))', { tag: 'a', name: 'EXAMINE', mailbox: 'x', condstore: false, qresync: { uidValidity: 1, modSeq: 2n } }],
    [
      'a SELECT x (QRESYNC (1 2 (3,4 5:6)))',
      {
        tag: 'a',
        name: 'SELECT',
        mailbox: 'x',
        condstore: false,
        qresync: { uidValidity: 1, modSeq: 2n, sequenceMatch: { sequences: seq('3,4'), uids: seq('5:6') } },
      },
    ],
    [
      'a SELECT x (QRESYNC (1 2 1:9 (3 5)) CONDSTORE)',
      {
        tag: 'a',
        name: 'SELECT',
        mailbox: 'x',
        condstore: true,
        qresync: { uidValidity: 1, modSeq: 2n, knownUids: seq('1:9'), sequenceMatch: { sequences: seq('3'), uids: seq('5') } },
      },
    ],
    ['a RENAME "Entw&APw-rfe" INBOX.old', { tag: 'a', name: 'RENAME', from: 'Entwürfe', to: 'INBOX.old' }],
    ['a LSUB "" *', { tag: 'a', name: 'LSUB', reference: '', pattern: '*' }],
    [
      'a STATUS Inbox (messages deleted size appendlimit)',
      { tag: 'a', name: 'STATUS', mailbox: 'INBOX', items: ['MESSAGES', 'DELETED', 'SIZE', 'APPENDLIMIT'] },
    ],
    ['a EXPUNGE', { tag: 'a', name: 'EXPUNGE', uid: false }],
    ['a uid expunge 1:*', { tag: 'a', name: 'EXPUNGE', uid: true, sequenceSet: seq('1:*') }],
    [
      'a STORE 1:2 -FLAGS.SILENT \\seen \\FLAGGED $Label1',
      {
        tag: 'a',
        name: 'STORE',
        uid: false,
        sequenceSet: seq('1:2'),
        operation: 'remove',
        silent: true,
        flags: ['\\Seen', '\\Flagged', '$Label1'],
      },
    ],
    [
      'a UID STORE 1 (UNCHANGEDSINCE 0) FLAGS.SILENT (\\Answered)',
      {
        tag: 'a',
        name: 'STORE',
        uid: true,
        sequenceSet: seq('1'),
        operation: 'set',
        silent: true,
        flags: ['\\Answered'],
        unchangedSince: 0n,
      },
    ],
    ['a ENABLE qresync', { tag: 'a', name: 'ENABLE', capabilities: ['QRESYNC'] }],
    ['a ID ()', { tag: 'a', name: 'ID', params: [] }],
    ['a ID ("name" NIL)', { tag: 'a', name: 'ID', params: [['name', undefined]] }],
    [
      'a FETCH 1 (BODY.PEEK[1.2.3.HEADER.FIELDS.NOT (Received "X-Spam")]<100.200>)',
      {
        tag: 'a',
        name: 'FETCH',
        uid: false,
        sequenceSet: seq('1'),
        vanished: false,
        items: [
          {
            type: 'BODY[]',
            peek: true,
            section: { part: [1, 2, 3], text: 'HEADER.FIELDS.NOT', fields: ['Received', 'X-Spam'] },
            partial: { offset: 100, length: 200 },
          },
        ],
      },
    ],
    [
      'a FETCH 4 (BODY BODYSTRUCTURE BODY[4.TEXT])',
      {
        tag: 'a',
        name: 'FETCH',
        uid: false,
        sequenceSet: seq('4'),
        vanished: false,
        items: [{ type: 'BODY' }, { type: 'BODYSTRUCTURE' }, { type: 'BODY[]', peek: false, section: { part: [4], text: 'TEXT' } }],
      },
    ],
    [
      'a SEARCH CHARSET us-ascii UNKEYWORD $Junk OR OLD NEW',
      {
        tag: 'a',
        name: 'SEARCH',
        uid: false,
        charset: 'US-ASCII',
        criteria: [
          { type: 'UNKEYWORD', flag: '$Junk' },
          { type: 'OR', left: { type: 'OLD' }, right: { type: 'NEW' } },
        ],
      },
    ],
    [
      'a UID SEARCH UID 5:* SMALLER 10 ON 29-Feb-2024 MODSEQ 0 OLDER 60 *',
      {
        tag: 'a',
        name: 'SEARCH',
        uid: true,
        criteria: [
          { type: 'UID', set: seq('5:*') },
          { type: 'SMALLER', size: 10 },
          { type: 'ON', date: '2024-02-29' },
          { type: 'MODSEQ', modSeq: 0n },
          { type: 'OLDER', seconds: 60 },
          { type: 'SEQUENCE', set: seq('*') },
        ],
      },
    ],
    [
      'a SEARCH HEADER "Content-Type" "" CC ' + lit('a b'),
      {
        tag: 'a',
        name: 'SEARCH',
        uid: false,
        criteria: [
          { type: 'HEADER', field: 'Content-Type', value: '' },
          { type: 'CC', value: 'a b' },
        ],
      },
    ],
    [
      'a SEARCH CHARSET ISO-8859-1 SUBJECT "caf\u00e9"',
      { tag: 'a', name: 'SEARCH', uid: false, charset: 'ISO-8859-1', criteria: [{ type: 'SUBJECT', value: 'cafÃ©' }] },
    ],
    ['a LIST "" "%/&ZeVnLIqe-"', { tag: 'a', name: 'LIST', reference: '', patterns: ['%/日本語'], selectOptions: [], returnOptions: [] }],
  ]
  it.each(table.map(([text, command]) => [text.slice(0, 70), text, command] as const))('%s', (_label, text, command) => {
    expect(ok(text)).toEqual(command)
  })

  it('returns APPEND literals byte-exact, with flags and date', () => {
    const body = 'From: a@b\r\n\r\n\u00ff\u0000binary'
    const c = ok(`A APPEND Sent () "05-Jul-1996 09:44:25 +0000" ${lit(body, true)}`)
    expect(c.name).toBe('APPEND')
    if (c.name !== 'APPEND') return
    expect(c.messages).toHaveLength(1)
    expect(c.messages[0]?.flags).toEqual([])
    expect(c.messages[0]?.date?.toISOString()).toBe('1996-07-05T09:44:25.000Z')
    expect(c.messages[0]?.content).toEqual(Buffer.from(body, 'utf8'))
  })

  it('decodes mailbox names as UTF-8 with UTF8=ACCEPT and tolerates raw UTF-8 without it', () => {
    expect(ok('a CREATE "R&D &amp; Co"', true)).toMatchObject({ mailbox: 'R&D &amp; Co' })
    expect(ok('a CREATE "Entwürfe"', false)).toMatchObject({ mailbox: 'Entwürfe' })
    expect(ok('a CREATE "Entwürfe"', true)).toMatchObject({ mailbox: 'Entwürfe' })
    expect(ok('a CREATE "R&-D"', false)).toMatchObject({ mailbox: 'R&D' })
  })
})

describe('parseCommand: errors are results, never exceptions', () => {
  const failures: Array<[string, string | undefined, RegExp]> = [
    ['', undefined, /tag/],
    ['A1', 'A1', /space/],
    ['A1 ', 'A1', /command name/],
    ['+ FOO', undefined, /tag/],
    ['A(1 NOOP', undefined, /tag/],
    ['A1 FROB', 'A1', /Unknown command FROB/],
    ['A1 UID NOOP', 'A1', /UID NOOP/],
    ['A1 NOOP extra', 'A1', /extra/],
    ['A1 NOOP ', 'A1', /extra/],
    ['A1  NOOP', 'A1', /command name/],
    ['A1 SELECT', 'A1', /space/],
    ['A1 SELECT  INBOX', 'A1', /atom or string/],
    ['A1 SELECT INBOX (FOO)', 'A1', /select parameter FOO/],
    ['A1 SELECT &Jjo', 'A1', /modified UTF-7/],
    ['A1 SELECT "&AEE-"', 'A1', /modified UTF-7/],
    ['A1 CREATE "a\tb"', 'A1', /Control character|modified UTF-7/],
    ['A1 LOGIN "a\\x" b', 'A1', /escape/],
    ['A1 LOGIN "abc', 'A1', /Unterminated/],
    ['A1 FETCH 0 FLAGS', 'A1', /sequence set/],
    ['A1 FETCH 1:2 (FLAGS', 'A1', /"\)"/],
    ['A1 FETCH 1 BODY[4.MIME', 'A1', /"\]"/],
    ['A1 FETCH 1 BODY[MIME]', 'A1', /Invalid section/],
    ['A1 FETCH 1 BODY.PEEK', 'A1', /Unknown fetch item/],
    ['A1 FETCH 1 BODY[]<1>', 'A1', /"\."/],
    ['A1 FETCH 1 BINARY[1]', 'A1', /Unknown fetch item/],
    ['A1 FETCH 1 FLAGS (VANISHED)', 'A1', /VANISHED/],
    ['A1 UID FETCH 1 FLAGS (VANISHED)', 'A1', /VANISHED/],
    ['A1 FETCH $ FLAGS', 'A1', /SEARCHRES/],
    ['A1 STORE 1 FLAGS \\*', 'A1', /flag name/],
    ['A1 STORE 1 XFLAGS (\\Seen)', 'A1', /FLAGS/],
    ['A1 STORE 1 +FLAGS', 'A1', /space/],
    ['A1 SEARCH', 'A1', /space/],
    ['A1 SEARCH NOT', 'A1', /space/],
    ['A1 SEARCH FROBNICATE', 'A1', /Unknown search key/],
    ['A1 SEARCH SINCE 31-Feb-2020', 'A1', /Invalid date/],
    ['A1 SEARCH (SEEN', 'A1', /"\)"/],
    ['A1 SEARCH LARGER 99999999999', 'A1', /out of range/],
    ['A1 SEARCH MODSEQ 9223372036854775808', 'A1', /out of range/],
    ['A1 SEARCH ' + 'NOT '.repeat(500) + 'SEEN', 'A1', /nested too deeply/],
    ['A1 STATUS INBOX (FOO)', 'A1', /Unknown status item/],
    ['A1 STATUS INBOX ()', 'A1', /status item/],
    ['A1 APPEND INBOX "hello"', 'A1', /date-time/],
    ['A1 APPEND INBOX (\\Seen) hello', 'A1', /literal/],
    ['A1 APPEND INBOX', 'A1', /message/],
    ['A1 APPEND INBOX "31-Jun-2020 00:00:00 +0000" ' + lit('x'), 'A1', /Invalid date-time/],
    ['A1 AUTHENTICATE PLAIN abc', 'A1', /base64/],
    ['A1 EXPUNGE 1', 'A1', /extra/],
    ['A1 ENABLE', 'A1', /space/],
    ['A1 ID ("name")', 'A1', /space/],
    ['A1 LIST "" "*" RETURN', 'A1', /space/],
  ]
  it.each(failures.map(([text, tag, message]) => [text.slice(0, 60), text, tag, message] as const))(
    'rejects %j',
    (_label, text, tag, message) => {
      const r = parse(text)
      expect(r.ok).toBe(false)
      if (r.ok) return
      expect(r.tag).toBe(tag)
      expect(r.message).toMatch(message)
    },
  )

  it('reports an unknown SEARCH charset as BADCHARSET', () => {
    const r = parse('A1 SEARCH CHARSET X-MARTIAN TEXT foo')
    expect(r).toMatchObject({ ok: false, tag: 'A1', code: 'BADCHARSET' })
  })

  it('rejects hand-built frames whose literal does not match its marker', () => {
    const frame = { lines: [Buffer.from('A1 LOGIN {3}'), Buffer.from('')], literals: [Buffer.from('ab')] }
    expect(parseCommand(frame)).toMatchObject({ ok: false, tag: 'A1', message: expect.stringMatching(/size/) })
    expect(parseCommand({ lines: [], literals: [] })).toMatchObject({ ok: false })
    expect(parseCommand(frameOf(`A1 NOOP ${lit('abc')}`))).toMatchObject({ ok: false, message: expect.stringMatching(/extra/) })
    expect(parseCommand(frameOf(`A1 LOGIN ${lit('abc')}x y`))).toMatchObject({ ok: false })
  })
})
