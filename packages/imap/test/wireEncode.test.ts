import { describe, expect, it } from 'vitest'
import {
  NIL,
  atom,
  dateTime,
  encodeBodyStructure,
  encodeContinuation,
  encodeEnvelope,
  encodeFetch,
  encodeResponseCode,
  encodeTagged,
  encodeToken,
  encodeUntagged,
  encodeUntaggedStatus,
  fetchItemResponseName,
  flagList,
  list,
  literal,
  mailboxName,
  nstr,
  num,
  preEncode,
  str,
} from '../src/wire/encode.ts'
import { SequenceSet } from '../src/wire/SequenceSet.ts'
import { parseCommand } from '../src/wire/parseCommand.ts'
import type { BodyStructure, Envelope } from '../src/wire/BodyStructure.ts'
import type { FetchItem } from '../src/wire/Command.ts'
import { frameOf } from './wireFixtures.ts'

const enc = (...args: Parameters<typeof encodeToken>): string => encodeToken(...args).toString('utf8')

describe('string encoding', () => {
  it.each([
    ['hello', '"hello"'],
    ['', '""'],
    ['say "hi" \\o/', '"say \\"hi\\" \\\\o/"'],
    ['line\r\nbreak', '{11}\r\nline\r\nbreak'],
    ['bare\rcr', '{7}\r\nbare\rcr'],
    ['nul\u0000', '{4}\r\nnul\u0000'],
    ['café', '{5}\r\ncafé'],
    ['x'.repeat(5000), `{5000}\r\n${'x'.repeat(5000)}`],
  ])('str(%j)', (value, wire) => {
    expect(enc(str(value))).toBe(wire)
  })

  it('quotes UTF-8 only when UTF8=ACCEPT is on, and only if it is valid UTF-8', () => {
    expect(enc(str('café'), { utf8: true })).toBe('"café"')
    expect(encodeToken(str(Buffer.from([0x61, 0xff])), { utf8: true })).toEqual(Buffer.from([0x7b, 0x32, 0x7d, 0x0d, 0x0a, 0x61, 0xff]))
  })

  it('encodes nil, numbers, lists, flags, literals and mailbox names', () => {
    expect(enc(list([NIL, nstr(undefined), nstr('a'), num(0), num(2n ** 63n - 1n), list([]), flagList(['\\Seen', '$Junk'])]))).toBe(
      '(NIL NIL "a" 0 9223372036854775807 () (\\Seen $Junk))',
    )
    expect(enc(literal('abc'))).toBe('{3}\r\nabc')
    expect(enc(mailboxName('~peter/mail/台北/日本語'))).toBe('"~peter/mail/&U,BTFw-/&ZeVnLIqe-"')
    expect(enc(mailboxName('Entwürfe', true), { utf8: true })).toBe('"Entwürfe"')
    expect(enc(mailboxName('inbox'))).toBe('"INBOX"')
    expect(enc(dateTime(new Date('1996-07-17T09:44:25Z')))).toBe('"17-Jul-1996 09:44:25 +0000"')
  })

  it('refuses values that would corrupt the stream', () => {
    expect(() => atom('a\r\nb')).toThrow(RangeError)
    expect(() => atom('')).toThrow(RangeError)
    expect(() => num(-1)).toThrow(RangeError)
    expect(() => num(1.5)).toThrow(RangeError)
    expect(() => encodeTagged('a b', 'OK', 'x')).toThrow(RangeError)
    expect(() => flagList(['\\Seen\r\n* BYE'])).toThrow(RangeError)
  })
})

describe('responses', () => {
  it('builds tagged and untagged status responses with codes', () => {
    const s = (b: Buffer): string => b.toString('utf8')
    expect(s(encodeTagged('A003', 'OK', 'APPEND completed', { code: 'APPENDUID', uidValidity: 38505, uids: 3955 }))).toBe(
      'A003 OK [APPENDUID 38505 3955] APPEND completed\r\n',
    )
    expect(
      s(
        encodeTagged('A004', 'OK', 'Done', {
          code: 'COPYUID',
          uidValidity: 38505,
          source: SequenceSet.fromNumbers([304, 319, 320]),
          destination: SequenceSet.fromNumbers([3956, 3957, 3958]),
        }),
      ),
    ).toBe('A004 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n')
    expect(s(encodeTagged('A1', 'NO', 'no such mailbox', { code: 'TRYCREATE' }))).toBe('A1 NO [TRYCREATE] no such mailbox\r\n')
    expect(s(encodeTagged('A1', 'BAD', 'bad\r\n* OK injected'))).toBe('A1 BAD bad * OK injected\r\n')
    expect(s(encodeTagged('A1', 'OK', ''))).toBe('A1 OK completed\r\n')
    expect(s(encodeUntaggedStatus('OK', 'UIDs valid', { code: 'UIDVALIDITY', value: 3857529045 }))).toBe(
      '* OK [UIDVALIDITY 3857529045] UIDs valid\r\n',
    )
    expect(s(encodeUntaggedStatus('OK', 'Highest', { code: 'HIGHESTMODSEQ', value: 715194045007n }))).toBe(
      '* OK [HIGHESTMODSEQ 715194045007] Highest\r\n',
    )
    expect(s(encodeUntaggedStatus('BYE', 'Autologout; idle for too long'))).toBe('* BYE Autologout; idle for too long\r\n')
    expect(
      s(
        encodeUntaggedStatus('OK', 'IMAP4rev2 ready', {
          code: 'CAPABILITY',
          capabilities: ['IMAP4rev1', 'IMAP4rev2', 'LITERAL+', 'AUTH=PLAIN'],
        }),
      ),
    ).toBe('* OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ AUTH=PLAIN] IMAP4rev2 ready\r\n')
    expect(s(encodeContinuation())).toBe('+ Ready\r\n')
    expect(s(encodeContinuation(''))).toBe('+ Ready\r\n')
    expect(s(encodeUntagged([num(172), atom('EXISTS')]))).toBe('* 172 EXISTS\r\n')
    expect(s(encodeUntagged([atom('LIST'), list([atom('\\HasNoChildren')]), str('/'), mailboxName('Entwürfe')]))).toBe(
      '* LIST (\\HasNoChildren) "/" "Entw&APw-rfe"\r\n',
    )
  })

  it.each([
    [{ code: 'PERMANENTFLAGS', flags: ['\\Deleted', '\\Seen', '\\*'] }, '[PERMANENTFLAGS (\\Deleted \\Seen \\*)]'],
    [{ code: 'UIDNEXT', value: 4392 }, '[UIDNEXT 4392]'],
    [{ code: 'BADCHARSET', charsets: ['UTF-8', 'US-ASCII'] }, '[BADCHARSET (UTF-8 US-ASCII)]'],
    [{ code: 'BADCHARSET' }, '[BADCHARSET]'],
    [{ code: 'MODIFIED', set: SequenceSet.fromNumbers([7, 9]) }, '[MODIFIED 7,9]'],
    [{ code: 'READ-ONLY' }, '[READ-ONLY]'],
    [{ code: 'TOOBIG' }, '[TOOBIG]'],
    [{ code: 'APPENDUID', uidValidity: 1, uids: SequenceSet.fromNumbers([5, 6, 7]) }, '[APPENDUID 1 5:7]'],
  ] as const)('response code %j', (code, wire) => {
    expect(encodeResponseCode(code)).toBe(wire)
  })

  it('names FETCH reply items as the client requested them', () => {
    const items = (cmd: string): FetchItem[] => {
      const r = parseCommand(frameOf(`a FETCH 1 (${cmd})`))
      if (!r.ok || r.command.name !== 'FETCH') throw new Error(cmd)
      return [...r.command.items]
    }
    const names = items('BODY.PEEK[HEADER.FIELDS (From "X Y")]<0.100> BODY[] BODY[1.2.TEXT] RFC822.SIZE BODY.PEEK[3.MIME]').map((i) =>
      enc(fetchItemResponseName(i)),
    )
    expect(names).toEqual(['BODY[HEADER.FIELDS (From "X Y")]<0>', 'BODY[]', 'BODY[1.2.TEXT]', 'RFC822.SIZE', 'BODY[3.MIME]'])
  })
})

describe('ENVELOPE and BODYSTRUCTURE', () => {
  // RFC 3501 section 8 sample message.
  const envelope: Envelope = {
    date: 'Wed, 17 Jul 1996 02:23:25 -0700 (PDT)',
    subject: 'IMAP4rev1 WG mtg summary and minutes',
    from: [{ name: 'Terry Gray', mailbox: 'gray', host: 'cac.washington.edu' }],
    sender: [{ name: 'Terry Gray', mailbox: 'gray', host: 'cac.washington.edu' }],
    replyTo: [{ name: 'Terry Gray', mailbox: 'gray', host: 'cac.washington.edu' }],
    to: [{ mailbox: 'imap', host: 'cac.washington.edu' }],
    cc: [
      { mailbox: 'minutes', host: 'CNRI.Reston.VA.US' },
      { name: 'John Klensin', mailbox: 'KLENSIN', host: 'MIT.EDU' },
    ],
    bcc: [],
    messageId: '<B27397-0100000@cac.washington.edu>',
  }

  it('a pre-encoded envelope is sent byte for byte like the envelope itself', () => {
    const odd: Envelope = {
      ...envelope,
      subject: 'quote " and \\ and \r\n line break',
      from: [{ name: 'Zoë', mailbox: 'z', host: 'example.org' }],
    }
    for (const e of [envelope, odd]) {
      const token = encodeEnvelope(e)
      const pre = preEncode(token)
      expect(pre.kind).toBe('raw')
      expect(encodeFetch(3, [['ENVELOPE', pre]]).equals(encodeFetch(3, [['ENVELOPE', token]]))).toBe(true)
    }
    const big = list([literal(new Uint8Array(64 * 1024).fill(0x61))])
    expect(preEncode(big)).toBe(big) // a large literal stays a view, never copied into text
  })

  // The RFC shows a line break between the two Cc addresses; the grammar (1*address) has no SP there.
  it('reproduces the RFC 3501 FETCH FULL example', () => {
    const body: BodyStructure = {
      type: 'TEXT',
      subtype: 'PLAIN',
      params: [['CHARSET', 'US-ASCII']],
      encoding: '7BIT',
      size: 3028,
      lines: 92,
    }
    const wire = encodeFetch(12, [
      ['FLAGS', flagList(['\\Seen'])],
      ['INTERNALDATE', str('17-Jul-1996 02:44:25 -0700')],
      ['RFC822.SIZE', num(4286)],
      ['ENVELOPE', encodeEnvelope(envelope)],
      ['BODY', encodeBodyStructure(body, false)],
    ]).toString('utf8')
    expect(wire).toBe(
      '* 12 FETCH (FLAGS (\\Seen) INTERNALDATE "17-Jul-1996 02:44:25 -0700" RFC822.SIZE 4286 ENVELOPE ("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" ' +
        '"IMAP4rev1 WG mtg summary and minutes" (("Terry Gray" NIL "gray" "cac.washington.edu")) (("Terry Gray" NIL "gray" "cac.washington.edu")) ' +
        '(("Terry Gray" NIL "gray" "cac.washington.edu")) ((NIL NIL "imap" "cac.washington.edu")) ((NIL NIL "minutes" "CNRI.Reston.VA.US")' +
        '("John Klensin" NIL "KLENSIN" "MIT.EDU")) NIL NIL "<B27397-0100000@cac.washington.edu>") BODY ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 3028 92))\r\n',
    )
  })

  const multipart: BodyStructure = {
    subtype: 'MIXED',
    params: [['BOUNDARY', 'xyz']],
    parts: [
      { type: 'TEXT', subtype: 'PLAIN', params: [['CHARSET', 'US-ASCII']], encoding: '7BIT', size: 1152, lines: 23 },
      {
        type: 'TEXT',
        subtype: 'PLAIN',
        params: [
          ['CHARSET', 'US-ASCII'],
          ['NAME', 'cc.diff'],
        ],
        id: '<960723163407.20117h@cac.washington.edu>',
        description: 'Compiler diff',
        encoding: 'BASE64',
        size: 4554,
        lines: 73,
        disposition: { type: 'attachment', params: [['filename', 'cc.diff']] },
      },
    ],
  }

  it('encodes the RFC 3501 multipart example (BODY form, parts back to back)', () => {
    expect(enc(encodeBodyStructure(multipart, false))).toBe(
      '(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 1152 23)("TEXT" "PLAIN" ("CHARSET" "US-ASCII" "NAME" "cc.diff") ' +
        '"<960723163407.20117h@cac.washington.edu>" "Compiler diff" "BASE64" 4554 73) "MIXED")',
    )
  })

  it('adds extension data for BODYSTRUCTURE', () => {
    expect(enc(encodeBodyStructure(multipart, true))).toBe(
      '(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 1152 23 NIL NIL NIL NIL)("TEXT" "PLAIN" ("CHARSET" "US-ASCII" "NAME" "cc.diff") ' +
        '"<960723163407.20117h@cac.washington.edu>" "Compiler diff" "BASE64" 4554 73 NIL ("attachment" ("filename" "cc.diff")) NIL NIL) ' +
        '"MIXED" ("BOUNDARY" "xyz") NIL NIL NIL)',
    )
  })

  it('nests message/rfc822 with its envelope, body and line count', () => {
    const inner: BodyStructure = {
      type: 'text',
      subtype: 'plain',
      encoding: '8bit',
      size: 10,
      lines: 1,
      language: ['en', 'de'],
      location: 'x',
    }
    const msg: BodyStructure = {
      type: 'message',
      subtype: 'rfc822',
      encoding: '7bit',
      size: 300,
      lines: 12,
      message: { envelope: { subject: 'Fwd' }, body: inner },
    }
    expect(enc(encodeBodyStructure(msg, true))).toBe(
      '("message" "rfc822" NIL NIL NIL "7bit" 300 (NIL "Fwd" NIL NIL NIL NIL NIL NIL NIL NIL) ' +
        '("text" "plain" NIL NIL NIL "8bit" 10 1 NIL NIL ("en" "de") "x") 12 NIL NIL NIL NIL)',
    )
    expect(enc(encodeBodyStructure({ type: 'image', subtype: 'png', encoding: 'base64', size: 4, language: ['en'] }, true))).toBe(
      '("image" "png" NIL NIL NIL "base64" 4 NIL NIL "en" NIL)',
    )
    expect(enc(encodeBodyStructure({ subtype: 'alternative', parts: [] }, false))).toBe(
      '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0) "alternative")',
    )
  })

  it('sends header strings with line breaks or 8-bit as literals', () => {
    expect(enc(encodeEnvelope({ subject: 'Grüße\r\n folded', from: [{ mailbox: 'undisclosed-recipients' }, {}] }))).toBe(
      '(NIL {16}\r\nGrüße\r\n folded ((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL)) NIL NIL NIL NIL NIL NIL NIL)',
    )
  })
})
