// Shared helpers for the wire tests: framing a literal command string, a seeded PRNG and a
// corpus of real client command lines (RFC 3501/9051/7162 examples, Thunderbird, imapflow, mbsync).
import { CommandReader } from '../src/wire/CommandReader.ts'
import { parseCommand } from '../src/wire/parseCommand.ts'
import type { CommandFrame, ReaderEvent } from '../src/wire/CommandReader.ts'
import type { ParseResult } from '../src/wire/parseCommand.ts'

/** Frames `text` + CRLF and returns its single command frame; throws otherwise. */
export function frameOf(text: string | Buffer): CommandFrame {
  const bytes = typeof text === 'string' ? Buffer.from(`${text}\r\n`, 'utf8') : text
  const events = new CommandReader().push(bytes).filter((e) => e.kind !== 'needContinuation')
  const only = events[0]
  if (events.length !== 1 || only?.kind !== 'command') throw new Error(`expected one command, got ${JSON.stringify(events)}`)
  return only.frame
}

/** Frames then parses one command. */
export function parse(text: string | Buffer, utf8 = false): ParseResult {
  return parseCommand(frameOf(text), { utf8 })
}

/** mulberry32: small, fast, good enough to drive fuzzing reproducibly. */
export function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Splits `bytes` into chunks at random cut points. */
export function randomChunks(bytes: Buffer, random: () => number, maxChunk = 17): Buffer[] {
  const chunks: Buffer[] = []
  let i = 0
  while (i < bytes.length) {
    const n = 1 + Math.floor(random() * maxChunk)
    chunks.push(bytes.subarray(i, i + n))
    i += n
  }
  return chunks
}

/** A stable, comparable rendering of reader events (literal bytes as hex). */
export function describeEvents(events: readonly ReaderEvent[]): string[] {
  return events.map((e) => {
    if (e.kind === 'command')
      return `command ${e.frame.lines.map((l) => l.toString('hex')).join('|')} / ${e.frame.literals.map((l) => l.toString('hex')).join('|')}`
    if (e.kind === 'needContinuation') return `continue ${e.tag} ${e.size}`
    return `error ${e.error.code} ${e.error.tag} ${e.error.synchronizing}`
  })
}

/** A literal marker plus its bytes: `{n}` CRLF body (`{n+}` with `plus`). */
export function lit(body: string, plus = false): string {
  return `{${Buffer.byteLength(body, 'utf8')}${plus ? '+' : ''}}\r\n${body}`
}

/** Valid commands as clients send them (literals inline, without the final CRLF). */
export const CORPUS: readonly string[] = [
  // RFC 3501 / 9051 section 6 examples
  'a001 CAPABILITY',
  'a002 NOOP',
  'A023 LOGOUT',
  'a002 STARTTLS',
  'A001 AUTHENTICATE GSSAPI',
  'A01 AUTHENTICATE PLAIN AHRlc3QAdGVzdA==',
  'a001 LOGIN SMITH SESAME',
  'A142 SELECT INBOX',
  'A932 EXAMINE blurdybloop',
  'A003 CREATE owatagusiam/',
  'A683 DELETE blurdybloop',
  'A683 RENAME blurdybloop sarasoop',
  'A002 SUBSCRIBE #news.comp.mail.mime',
  'A002 UNSUBSCRIBE #news.comp.mail.mime',
  'A101 LIST "" ""',
  'A102 LIST #news.comp.mail.misc ""',
  'A202 LIST ~/Mail/ %',
  'A002 LSUB "#news." "comp.mail.*"',
  'A042 STATUS blurdybloop (UIDNEXT MESSAGES)',
  'A003 APPEND saved-messages (\\Seen) ' +
    lit(
      'Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\nFrom: Fred Foobar <foobar@Blurdybloop.example>\r\nSubject: afternoon meeting\r\nTo: mooch@owatagu.siam.edu.example\r\nMessage-Id: <B27397-0100000@Blurdybloop.example>\r\nMIME-Version: 1.0\r\nContent-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n\r\nHello Joe, do you think we can meet at 3:30 tomorrow?\r\n\r\n',
    ),
  'FXXZ CHECK',
  'A341 CLOSE',
  'A202 EXPUNGE',
  'A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"',
  'A283 SEARCH TEXT "string not in mailbox"',
  'A284 SEARCH CHARSET UTF-8 TEXT ' + lit('\u043e\u0442\u043f\u0443\u0441\u043a'),
  'A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])',
  'A003 STORE 2:4 +FLAGS (\\Deleted)',
  'A003 COPY 2:4 MEETING',
  'A999 UID FETCH 4827313:4828442 FLAGS',
  'a003 fetch 12 full',
  'a004 fetch 12 body[header]',
  'a005 store 12 +flags \\deleted',
  'a006 logout',
  'A01 NAMESPACE',
  'a047 IDLE',
  'A342 UNSELECT',
  'A202 UID EXPUNGE 3000:3002',
  'a MOVE 1:3 Archive',
  'a UID MOVE 42:69 foo',
  'A1 ENABLE CONDSTORE QRESYNC',
  'a023 ID ("name" "sodr" "version" "19.34" "vendor" "Pink Floyd Music Limited")',
  'a024 ID NIL',
  // CONDSTORE / QRESYNC (RFC 7162)
  'a103 UID STORE 6,4,8 (UNCHANGEDSINCE 12121230045) +FLAGS.SILENT (\\Deleted)',
  's100 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)',
  's100 UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)',
  'A02 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))',
  'B04 SELECT INBOX (QRESYNC (67890007 90060115194045000 1:29997 (5000,7500,9000,9990:9999 15000,22500,27000,29970,29973)))',
  'a SEARCH MODSEQ "/flags/\\\\draft" all 620162338',
  'A160 SELECT INBOX (CONDSTORE)',
  'A042 STATUS blurdybloop (UIDNEXT MESSAGES HIGHESTMODSEQ)',
  // Thunderbird
  '3 select "INBOX" (CONDSTORE)',
  '4 UID fetch 1:* (FLAGS)',
  '5 UID fetch 2 (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Cc Bcc Subject Date Message-ID Priority X-Priority References Newsgroups In-Reply-To Content-Type Reply-To)])',
  '7 UID fetch 2 (UID RFC822.SIZE BODY.PEEK[]<0.10240>)',
  '8 uid store 2 +Flags (\\Seen)',
  '9 list (subscribed) "" "*" return (special-use)',
  '10 UID MOVE 2 "Trash"',
  '11 ID ("name" "Thunderbird" "version" "115.5.0")',
  '12 UID fetch 3 (UID RFC822.SIZE BODY.PEEK[1.2.MIME] BODY.PEEK[1.2])',
  '13 uid copy 1:3,5 "Sent Items"',
  // imapflow
  '1 ID ("name" "imapflow" "version" "1.0.150" "vendor" "Postal Systems" "support-url" "https://github.com/postalsys/imapflow/issues")',
  '2 ENABLE CONDSTORE UTF8=ACCEPT',
  '3 LIST "" "*" RETURN (SPECIAL-USE SUBSCRIBED)',
  '4 STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ)',
  '5 UID FETCH 1:* (UID FLAGS BODYSTRUCTURE ENVELOPE INTERNALDATE MODSEQ)',
  '6 UID SEARCH RETURN (ALL) SEEN NOT DELETED',
  '7 UID SEARCH OR (FROM "alice" SUBJECT hello) (TO bob LARGER 1000) UID 1:100',
  '8 APPEND INBOX (\\Seen $Forwarded) "14-Jul-2023 10:00:00 +0200" ' + lit('hello world', true),
  // mbsync
  '1 CAPABILITY',
  '3 LOGIN "user@example.org" "p\\"ss\\\\word"',
  '5 LIST "" "*"',
  '7 SELECT "INBOX"',
  '9 UID FETCH 1:1000000000 (UID FLAGS)',
  '11 APPEND "INBOX" (\\Seen) ' + lit('Subject: x\r\n\r\nbody\r\n', true),
  '13 UID STORE 5 +FLAGS.SILENT (\\Deleted)',
  '15 UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS (X-TUID MESSAGE-ID)])',
  '17 UID SEARCH HEADER X-TUID 4xgtasvSU2iH',
  // more forms
  `x1 LOGIN ${lit('user')} ${lit('pass word')}`,
  'x2 SEARCH (OR SEEN (NOT ANSWERED)) 1:5,7 SENTBEFORE "3-Mar-2021" KEYWORD $Junk YOUNGER 3600',
  'x3 FETCH 1:* (BODY[] BODY[TEXT] BODY[1.HEADER] RFC822 RFC822.HEADER RFC822.TEXT)',
  `x4 APPEND Drafts ${lit('abc')} (\\Draft) ${lit('def', true)}`,
  'x5 LIST (SUBSCRIBED RECURSIVEMATCH) "" ("INBOX" "Sent" %) RETURN (CHILDREN STATUS (MESSAGES UNSEEN))',
  'x6 CREATE "~peter/mail/&U,BTFw-/&ZeVnLIqe-"',
  'x7 STORE 1 FLAGS ()',
  'x8 fetch 1 fast',
  'x9 FETCH * ALL',
]
