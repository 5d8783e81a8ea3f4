import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openMailbox } from '@mailweave/core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { MemoryBackend } from '../src/index.ts'
import { PASS, RawClient, USER, message, startServer } from './serverHelpers.ts'
import type { TestServer } from './serverHelpers.ts'

const last = (lines: string[]): string => lines[lines.length - 1] ?? ''

let certDir: string
let tlsFiles: { certFile: string; keyFile: string }

beforeAll(() => {
  certDir = mkdtempSync(join(tmpdir(), 'imap-cert-'))
  tlsFiles = { certFile: join(certDir, 'cert.pem'), keyFile: join(certDir, 'key.pem') }
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      tlsFiles.keyFile,
      '-out',
      tlsFiles.certFile,
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
    ],
    { stdio: 'ignore' },
  )
})
afterAll(() => rmSync(certDir, { recursive: true, force: true }))

let srv: TestServer | undefined
const clients: RawClient[] = []
async function client(s: TestServer): Promise<RawClient> {
  const c = await RawClient.connect(s.port)
  clients.push(c)
  return c
}
afterEach(async () => {
  for (const c of clients.splice(0)) c.close()
  if (srv !== undefined) {
    expect(srv.errors).toEqual([])
    await srv.close()
    srv = undefined
  }
})

describe('authentication and connection rules', () => {
  it('offers AUTH=PLAIN on loopback and the full capability list after login', async () => {
    srv = await startServer()
    const c = await client(srv)
    expect(last(await c.command('CAPABILITY'))).toMatch(/OK/)
    expect(c.lines.find((l) => l.startsWith('* CAPABILITY'))).toMatch(/AUTH=PLAIN/)
    const r = await c.command(`LOGIN ${USER} "${PASS}"`)
    expect(last(r)).toMatch(/OK \[CAPABILITY IMAP4rev1 .*UIDPLUS.*MOVE.*CONDSTORE.*QRESYNC/)
    expect(last(await c.command('LOGIN x y'))).toMatch(/BAD .*not valid after logging in/)
  })

  it('refuses plaintext login without TLS when loopback is not trusted, and allows it after STARTTLS', async () => {
    srv = await startServer({ trustLoopback: false, tls: tlsFiles })
    const c = await client(srv)
    await c.command('CAPABILITY')
    const caps = c.lines.find((l) => l.startsWith('* CAPABILITY'))!
    expect(caps).toMatch(/LOGINDISABLED/)
    expect(caps).toMatch(/STARTTLS/)
    expect(caps).not.toMatch(/AUTH=PLAIN/)
    expect(last(await c.command(`LOGIN ${USER} "${PASS}"`))).toMatch(/NO \[PRIVACYREQUIRED\]/)
    expect(last(await c.command('AUTHENTICATE PLAIN AGFsaWNlAHg='))).toMatch(/NO \[PRIVACYREQUIRED\]/)
    // Anything pipelined in the clear after STARTTLS must be discarded, never executed.
    c.write(`S1 STARTTLS\r\nS2 LOGIN ${USER} "${PASS}"\r\n`)
    expect(last(await c.until((l) => l.startsWith('S1 ')))).toMatch(/S1 OK/)
    await c.startTls()
    const after = await c.command('CAPABILITY')
    expect(after.join('\n')).not.toMatch(/S2/)
    expect(after[0]).toMatch(/AUTH=PLAIN/)
    expect(after[0]).not.toMatch(/STARTTLS|LOGINDISABLED/)
    expect(last(await c.command('SELECT INBOX'))).toMatch(/BAD .*before logging in/)
    await c.login()
    expect(last(await c.command('STARTTLS'))).toMatch(/BAD/)
  })

  it('AUTHENTICATE PLAIN with an initial response, after a continuation, cancelled, and with a wrong password', async () => {
    srv = await startServer()
    const b64 = (s: string): string => Buffer.from(s).toString('base64')
    const c1 = await client(srv)
    expect(last(await c1.command(`AUTHENTICATE PLAIN ${b64(`\0${USER}\0${PASS}`)}`))).toMatch(/OK/)
    const c2 = await client(srv)
    c2.write('A AUTHENTICATE PLAIN\r\n')
    await c2.until((l) => l.startsWith('+'))
    c2.write(`${b64(`${USER}\0${USER}\0${PASS}`)}\r\n`)
    expect(last(await c2.until((l) => l.startsWith('A ')))).toMatch(/A OK/)
    const c3 = await client(srv)
    c3.write('B AUTHENTICATE PLAIN\r\n')
    await c3.until((l) => l.startsWith('+'))
    c3.write('*\r\n')
    expect(last(await c3.until((l) => l.startsWith('B ')))).toMatch(/B BAD .*cancelled/)
    expect(last(await c3.command(`AUTHENTICATE PLAIN ${b64(`\0${USER}\0wrong`)}`))).toMatch(/NO \[AUTHENTICATIONFAILED\]/)
    expect(last(await c3.command('LOGIN nobody whatever'))).toMatch(/NO \[AUTHENTICATIONFAILED\]/)
    expect(last(await c3.command('AUTHENTICATE CRAM-MD5'))).toMatch(/NO/)
  })

  it('limits connections per user', async () => {
    srv = await startServer({ maxConnectionsPerUser: 2 })
    const a = await client(srv)
    const b = await client(srv)
    const c = await client(srv)
    await a.login()
    await b.login()
    expect(last(await c.command(`LOGIN ${USER} "${PASS}"`))).toMatch(/NO \[LIMIT\]/)
    a.close()
    await b.command('NOOP')
    // The slot frees once the server has seen the close.
    for (let i = 0; ; i++) {
      const r = last(await c.command(`LOGIN ${USER} "${PASS}"`))
      if (r.includes(' OK ')) break
      if (i > 200) throw new Error('slot never freed')
      await new Promise((r) => setTimeout(r, 5))
    }
  })

  it('logs out idle connections', async () => {
    srv = await startServer({ idleTimeoutMs: 1500 })
    const c = await client(srv)
    await c.login()
    await c.until((l) => l.startsWith('* BYE'), 10000)
    await c.closedByServer()
  })
})

describe('bad input', () => {
  it('answers BAD or NO with a reason and keeps going', async () => {
    srv = await startServer({ maxLineLength: 1000, maxLiteralSize: 2000 })
    const c = await client(srv)
    expect(last(await c.command('FROBNICATE'))).toMatch(/BAD Unknown command/)
    c.write('\x00\xff garbage without a tag\r\n')
    expect(last(await c.until((l) => l.startsWith('* BAD')))).toMatch(/tag/)
    expect(last(await c.command('FETCH 1 FLAGS'))).toMatch(/BAD .*before logging in/)
    expect(last(await c.command(`LOGIN ${'x'.repeat(3000)} y`))).toMatch(/BAD .*Line longer/)
    // Before login, literals are capped at the pre-auth limit regardless of maxLiteralSize... and after it at maxLiteralSize.
    await c.login()
    c.write('L1 APPEND INBOX {5000}\r\n')
    expect(last(await c.until((l) => l.startsWith('L1 ')))).toMatch(/L1 NO \[TOOBIG\]/)
    c.write(`L2 APPEND INBOX {5000+}\r\n${'y'.repeat(5000)}\r\n`)
    expect(last(await c.until((l) => l.startsWith('L2 ')))).toMatch(/L2 BAD \[TOOBIG\]/)
    expect(last(await c.command('FETCH 1 FLAGS'))).toMatch(/BAD .*selected mailbox/)
    expect(last(await c.command('SELECT INBOX'))).toMatch(/OK \[READ-WRITE\]/)
    expect(last(await c.command('FETCH 1 FLAGS'))).toMatch(/BAD Invalid message sequence/)
    expect(last(await c.command('FETCH 1:x FLAGS'))).toMatch(/BAD/)
    expect(last(await c.command('UID FETCH 1:* (FLAGS) (VANISHED)'))).toMatch(/BAD/)
    expect(last(await c.command('STORE 1 +FLAGS (\\Bogus)'))).toMatch(/BAD/)
    expect(last(await c.command('SEARCH CHARSET KOI8-XX TEXT x'))).toMatch(/NO \[BADCHARSET/)
    expect(last(await c.command('SELECT "no/such"'))).toMatch(/NO \[NONEXISTENT\]/)
    expect(last(await c.command('CREATE "a//b"'))).toMatch(/NO \[CANNOT\]/)
    expect(last(await c.command('APPEND nowhere {3+}\r\nabc'))).toMatch(/NO \[TRYCREATE\]/)
    expect(last(await c.command('NOOP'))).toMatch(/OK/)
  })

  it('survives a client that disconnects in the middle of a literal', async () => {
    srv = await startServer()
    const c = await client(srv)
    await c.login()
    c.write('A APPEND INBOX {100000+}\r\nFrom: half')
    c.close()
    const d = await client(srv)
    await d.login()
    const r = await d.command('STATUS INBOX (MESSAGES)')
    expect(r[0]).toBe('* STATUS "INBOX" (MESSAGES 0)')
  })
})

describe('mailbox management', () => {
  it('creates, lists with hierarchy, renames, subscribes and deletes', async () => {
    srv = await startServer()
    const c = await client(srv)
    await c.login()
    for (const n of ['Work', 'Work/Projects/Alpha', 'Caf\u00e9'])
      expect(last(await c.command(`CREATE "${n === 'Caf\u00e9' ? 'Caf&AOk-' : n}"`))).toMatch(/OK/)
    expect(last(await c.command('CREATE Work'))).toMatch(/NO \[ALREADYEXISTS\]/)
    expect(last(await c.command('CREATE inbox'))).toMatch(/NO \[ALREADYEXISTS\]/)
    const top = await c.command('LIST "" %')
    expect(top.slice(0, -1)).toEqual([
      '* LIST (\\HasNoChildren) "/" "INBOX"',
      '* LIST (\\HasNoChildren) "/" "Caf&AOk-"',
      '* LIST (\\HasChildren) "/" "Work"',
    ])
    const all = await c.command('LIST "" "Work/*"')
    expect(all.slice(0, -1)).toEqual(
      ['* LIST (\\Noselect \\HasChildren) "/" "Work/Projects"', '* LIST (\\HasNoChildren) "/" "Work/Projects/Alpha"'].slice(1),
    )
    expect((await c.command('LIST "Work/" %')).slice(0, -1)).toEqual(['* LIST (\\Noselect \\HasChildren) "/" "Work/Projects"'])
    expect((await c.command('LIST "" ""')).slice(0, -1)).toEqual(['* LIST (\\Noselect) "/" ""'])
    expect(last(await c.command('RENAME Work Play'))).toMatch(/OK/)
    expect((await c.command('LIST "" *')).slice(0, -1)).toEqual([
      '* LIST (\\HasNoChildren) "/" "INBOX"',
      '* LIST (\\HasNoChildren) "/" "Caf&AOk-"',
      '* LIST (\\HasChildren) "/" "Play"',
      '* LIST (\\HasNoChildren) "/" "Play/Projects/Alpha"',
    ])
    expect(last(await c.command('SUBSCRIBE Play/Projects/Alpha'))).toMatch(/OK/)
    expect((await c.command('LSUB "" %')).slice(0, -1)).toEqual(['* LSUB () "/" "INBOX"', '* LSUB (\\Noselect) "/" "Play"'])
    expect(last(await c.command('DELETE Play'))).toMatch(/OK/)
    expect(last(await c.command('DELETE Play'))).toMatch(/NO \[NONEXISTENT\]/)
    expect(last(await c.command('DELETE INBOX'))).toMatch(/NO \[CANNOT\]/)
    expect((await c.command('NAMESPACE'))[0]).toBe('* NAMESPACE (("" "/")) NIL NIL')
    expect((await c.command('ID NIL'))[0]).toMatch(/^\* ID \("name" "mailweave"/)
  })

  it('APPEND (with MULTIAPPEND) answers APPENDUID from an exposure; STATUS reports it', async () => {
    srv = await startServer()
    const c = await client(srv)
    await c.login()
    const m1 = message('one')
    const m2 = message('two')
    c.write(`A APPEND INBOX (\\Seen) "01-Feb-2024 10:00:00 +0000" {${m1.length}+}\r\n`)
    c.write(m1)
    c.write(` {${m2.length}+}\r\n`)
    c.write(m2)
    c.write('\r\n')
    expect(last(await c.until((l) => l.startsWith('A ')))).toMatch(/^A OK \[APPENDUID \d+ 1:2\]/)
    const st = await c.command('STATUS INBOX (MESSAGES UIDNEXT UNSEEN DELETED SIZE RECENT)')
    expect(st[0]).toBe(`* STATUS "INBOX" (MESSAGES 2 UIDNEXT 3 UNSEEN 1 DELETED 0 SIZE ${m1.length + m2.length} RECENT 0)`)
    const mb = srv.backend.mailbox(USER, 'INBOX')!
    expect(mb.inspect().watermarks['memory-node']).toBe(3)
    const f = await c.command('EXAMINE INBOX')
    expect(f).toContain('* 2 EXISTS')
    expect(f).toContain('* OK [UIDNEXT 3] Predicted next UID')
    expect(last(f)).toMatch(/OK \[READ-ONLY\]/)
    const d = await c.command('FETCH 1 (INTERNALDATE FLAGS)')
    expect(d[0]).toBe('* 1 FETCH (INTERNALDATE "01-Feb-2024 10:00:00 +0000" FLAGS (\\Seen))')
    expect(last(await c.command('STORE 1 +FLAGS (\\Flagged)'))).toMatch(/NO \[READ-ONLY\]/)
    expect(last(await c.command('EXPUNGE'))).toMatch(/NO \[READ-ONLY\]/)
  })
})

const MIME = Buffer.from(
  [
    'From: "Ann Example" <ann@example.com>',
    'To: bob@example.org, "Carl, Jr." <carl@example.net>',
    'Cc: team: dan@example.com, eve@example.com;',
    'Subject: =?UTF-8?B?aMOpbGxv?= world',
    'Message-ID: <mime-1@example.com>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="XX"',
    '',
    'preamble',
    '--XX',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    'Caf=C3=A9 au lait',
    '--XX',
    'Content-Type: message/rfc822',
    '',
    'From: inner@example.com',
    'Subject: inner',
    '',
    'inner body',
    '--XX',
    'Content-Type: application/octet-stream; name="a.bin"',
    'Content-Disposition: attachment; filename="a.bin"',
    'Content-Transfer-Encoding: base64',
    '',
    'AAECAw==',
    '--XX--',
    '',
  ].join('\r\n'),
)

describe('FETCH, SEARCH, STORE', () => {
  it('returns sections, partials, envelope and structure from the MIME parser', async () => {
    srv = await startServer()
    const c = await client(srv)
    await c.login()
    c.write(`A APPEND INBOX {${MIME.length}+}\r\n`)
    c.write(MIME)
    c.write('\r\n')
    await c.until((l) => l.startsWith('A OK'))
    await c.command('SELECT INBOX')
    const env = await c.command('FETCH 1 (ENVELOPE)')
    expect(env[0]).toBe(
      '* 1 FETCH (ENVELOPE (NIL "=?UTF-8?B?aMOpbGxv?= world" (("Ann Example" NIL "ann" "example.com")) (("Ann Example" NIL "ann" "example.com")) (("Ann Example" NIL "ann" "example.com")) ((NIL NIL "bob" "example.org")("Carl, Jr." NIL "carl" "example.net")) ((NIL NIL "team" NIL)(NIL NIL "dan" "example.com")(NIL NIL "eve" "example.com")(NIL NIL NIL NIL)) NIL NIL "<mime-1@example.com>"))',
    )
    const bs = await c.command('FETCH 1 (BODYSTRUCTURE)')
    expect(bs[0]).toMatch(
      /^\* 1 FETCH \(BODYSTRUCTURE \(\("text" "plain" \("charset" "utf-8"\) NIL NIL "QUOTED-PRINTABLE" 17 1 NIL NIL NIL NIL\)\("message" "rfc822" NIL NIL NIL "7BIT" 53 \(NIL "inner" /,
    )
    expect(bs[0]).toMatch(
      /\("application" "octet-stream" \("name" "a.bin"\) NIL NIL "BASE64" 8 NIL \("attachment" \("filename" "a.bin"\)\) NIL NIL\) "mixed" \("boundary" "XX"\) NIL NIL NIL\)\)$/,
    )
    const b = await c.command('FETCH 1 (BODY)')
    expect(b[0]).toMatch(/^\* 1 FETCH \(BODY \(\("text" "plain" \("charset" "utf-8"\) NIL NIL "QUOTED-PRINTABLE" 17 1\)/)
    const s1 = await c.command(
      'FETCH 1 (BODY.PEEK[1] BODY.PEEK[2.HEADER] BODY.PEEK[2.TEXT] BODY.PEEK[3.MIME] BODY.PEEK[4] BODY.PEEK[HEADER.FIELDS (SUBJECT message-id)] BODY.PEEK[]<5.4>)',
    )
    const joined = s1.join('\r\n')
    expect(joined).toContain('BODY[1] {17}\r\nCaf=C3=A9 au lait')
    expect(joined).toContain('BODY[2.HEADER] {43}\r\nFrom: inner@example.com\r\nSubject: inner\r\n\r\n')
    expect(joined).toContain('BODY[2.TEXT] {10}\r\ninner body')
    expect(joined).toContain('BODY[3.MIME] {')
    expect(joined).toContain('BODY[4] NIL')
    expect(joined).toContain(
      'BODY[HEADER.FIELDS (SUBJECT message-id)] {73}\r\nSubject: =?UTF-8?B?aMOpbGxv?= world\r\nMessage-ID: <mime-1@example.com>\r\n\r\n',
    )
    expect(joined).toContain('BODY[]<5> {4}\r\n "An')
    expect((await c.command('FETCH 1 FLAGS'))[0]).toBe('* 1 FETCH (FLAGS ())')
    // A non-PEEK body fetch sets \Seen and says so.
    expect((await c.command('FETCH 1 BODY[TEXT]<0.8>')).join('\r\n')).toMatch(/BODY\[TEXT\]<0> \{8\}\r\npreamble FLAGS \(\\Seen\)\)/)
    expect((await c.command('FETCH 1 RFC822.HEADER')).join('\r\n')).toMatch(/RFC822.HEADER \{\d+\}\r\nFrom:/)
    expect((await c.command('SEARCH SUBJECT "HÉLLO"'))[0]).toBe('* SEARCH 1')
    expect((await c.command('SEARCH SUBJECT "goodbye"'))[0]).toBe('* SEARCH')
    expect((await c.command('SEARCH CHARSET UTF-8 SUBJECT "h\u00e9llo"'))[0]).toBe('* SEARCH 1')
    expect((await c.command('SEARCH BODY "café AU"'))[0]).toBe('* SEARCH 1')
    expect((await c.command('SEARCH TEXT "inner body" FROM ann CC eve SEEN'))[0]).toBe('* SEARCH 1')
    expect((await c.command('SEARCH OR UNSEEN HEADER Message-ID nothing'))[0]).toBe('* SEARCH')
    expect((await c.command('UID SEARCH RETURN (MIN MAX COUNT) ALL'))[0]).toMatch(/^\* ESEARCH \(TAG "T\d+"\) UID MIN 1 MAX 1 COUNT 1$/)
  })

  it('STORE variants, UNCHANGEDSINCE, SEARCH by flags, keywords and MODSEQ', async () => {
    srv = await startServer()
    const c = await client(srv)
    await c.login()
    for (const s of ['a', 'b', 'c']) {
      const m = message(s)
      await c.append(m)
    }
    await c.command('ENABLE CONDSTORE')
    const sel = await c.command('SELECT INBOX')
    const highest = BigInt(/HIGHESTMODSEQ (\d+)/.exec(sel.join('\n'))![1]!)
    const st = await c.command('STORE 1:2 +FLAGS ($Important \\Flagged)')
    expect(st[0]).toBe('* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Important)')
    expect(st[1]).toMatch(/^\* 1 FETCH \(FLAGS \(\$Important \\Flagged\) MODSEQ \(\d+\)\)$/)
    const after = BigInt(/MODSEQ \((\d+)\)/.exec(st[1]!)![1]!)
    expect(after).toBeGreaterThan(highest)
    expect((await c.command('UID STORE 2 FLAGS.SILENT (\\Seen)'))[0]).toMatch(/^T\d+ OK/)
    expect((await c.command('SEARCH KEYWORD $important'))[0]).toBe('* SEARCH 1')
    expect((await c.command('SEARCH SEEN'))[0]).toBe('* SEARCH 2')
    expect((await c.command('SEARCH UNFLAGGED NOT SEEN'))[0]).toBe('* SEARCH 3')
    expect((await c.command(`SEARCH MODSEQ ${after}`))[0]).toMatch(/^\* SEARCH 1 2 \(MODSEQ \d+\)$/)
    const cond = await c.command(`STORE 1:3 (UNCHANGEDSINCE ${highest}) +FLAGS (\\Answered)`)
    expect(last(cond)).toMatch(/OK \[MODIFIED 1:2\]/)
    expect(cond.filter((l) => l.includes('FETCH'))).toHaveLength(1)
    expect((await c.command('FETCH 1:* (UID FLAGS) (CHANGEDSINCE ' + after + ')')).filter((l) => l.startsWith('*'))).toHaveLength(2)
    expect((await c.command('SEARCH 2:* LARGER 10 SMALLER 100000 SINCE 1-Jan-2000 SENTON 1-Jan-2024'))[0]).toBe('* SEARCH 2 3')
    expect((await c.command('SEARCH UID 3'))[0]).toBe('* SEARCH 3')
  })
})

describe('notifications', () => {
  it('holds EXPUNGE during FETCH, STORE and SEARCH; sends it on NOOP and UID commands; FLAGS from other sessions', async () => {
    srv = await startServer()
    const a = await client(srv)
    const b = await client(srv)
    await a.login()
    await b.login()
    for (const s of ['one', 'two', 'three']) {
      const m = message(s)
      await a.append(m)
    }
    await a.command('SELECT INBOX')
    await b.command('SELECT INBOX')
    await b.command('STORE 2 +FLAGS (\\Deleted)')
    await b.command('EXPUNGE')
    await b.command('STORE 1 +FLAGS (\\Flagged)')
    const f = await a.command('FETCH 1:* (UID)')
    expect(f.filter((l) => l.includes('EXPUNGE'))).toEqual([])
    expect(f).toContain('* 1 FETCH (UID 1 FLAGS (\\Flagged))')
    // Seq 2 (expunged elsewhere) is still answered until the EXPUNGE is delivered.
    expect(f).toContain('* 2 FETCH (UID 2)')
    expect((await a.command('SEARCH ALL'))[0]).toBe('* SEARCH 1 3')
    const n = await a.command('NOOP')
    expect(n).toContain('* 2 EXPUNGE')
    expect((await a.command('FETCH 1:* UID')).slice(0, -1)).toEqual(['* 1 FETCH (UID 1)', '* 2 FETCH (UID 3)'])
    await b.command('UID STORE 3 +FLAGS (\\Deleted)')
    await b.command('UID EXPUNGE 3')
    const u = await a.command('UID FETCH 1 FLAGS')
    expect(u).toContain('* 2 EXPUNGE')
  })

  it('IDLE delivers appends, flag changes and expunges from other sessions as they happen; VANISHED with QRESYNC', async () => {
    srv = await startServer()
    const a = await client(srv)
    const b = await client(srv)
    await a.login()
    await b.login()
    await a.command('ENABLE QRESYNC')
    await a.command('SELECT INBOX')
    a.write('I IDLE\r\n')
    await a.until((l) => l.startsWith('+'))
    const m = message('live')
    await b.append(m)
    await a.until((l) => l === '* 1 EXISTS')
    await b.command('SELECT INBOX')
    await b.command('STORE 1 +FLAGS (\\Deleted)')
    expect(await a.until((l) => l.includes('FETCH'))).toContainEqual(
      expect.stringMatching(/^\* 1 FETCH \(UID 1 FLAGS \(\\Deleted\) MODSEQ \(\d+\)\)$/),
    )
    await b.command('EXPUNGE')
    await a.until((l) => l === '* VANISHED 1')
    a.write('DONE\r\n')
    expect(last(await a.until((l) => l.startsWith('I ')))).toMatch(/I OK/)
  })

  it('QRESYNC SELECT reports VANISHED (EARLIER) and changed flags since a mod-sequence', async () => {
    srv = await startServer()
    const c = await client(srv)
    await c.login()
    for (const s of ['1', '2', '3', '4']) {
      const m = message(s)
      await c.append(m)
    }
    await c.command('ENABLE QRESYNC')
    const sel = await c.command('SELECT INBOX')
    const uv = /UIDVALIDITY (\d+)/.exec(sel.join('\n'))![1]
    const ms = /HIGHESTMODSEQ (\d+)/.exec(sel.join('\n'))![1]
    await c.command('UID STORE 2,4 +FLAGS (\\Deleted)')
    await c.command('UID EXPUNGE 2')
    await c.command('UID STORE 3 +FLAGS (\\Seen)')
    await c.command('UNSELECT')
    const r = await c.command(`SELECT INBOX (QRESYNC (${uv} ${ms} 1:4))`)
    expect(r).toContain('* VANISHED (EARLIER) 2')
    expect(r.filter((l) => / FETCH /.test(l)).map((l) => l.replace(/MODSEQ \(\d+\)/, 'MODSEQ (n)'))).toEqual([
      '* 2 FETCH (UID 3 FLAGS (\\Seen) MODSEQ (n))',
      '* 3 FETCH (UID 4 FLAGS (\\Deleted) MODSEQ (n))',
    ])
    const v = await c.command(`UID FETCH 1:* (FLAGS) (CHANGEDSINCE ${ms} VANISHED)`)
    expect(v[0]).toBe('* VANISHED (EARLIER) 2')
    // A client from before this node's history: every UID gap counts as vanished.
    const old = await c.command(`SELECT INBOX (QRESYNC (${uv} 1))`)
    expect(old).toContain('* OK [CLOSED] Previous mailbox is now closed')
    expect(old).toContain('* VANISHED (EARLIER) 2')
    expect(old.filter((l) => / FETCH /.test(l))).toHaveLength(3)
  })

  it('a duplicate-on-seen fixup reaches the client as EXPUNGE of the old UID and a new message', async () => {
    // Node A is the server (slot 0 of 2); node B (slot 1) replicates the same document.
    const backend = new MemoryBackend({ node: 'node-a', slot: 0, stride: 2 })
    srv = await startServer({ backend })
    const a = await client(srv)
    await a.login()
    const inboxA = backend.mailbox(USER, 'INBOX')!
    const docB = new Y.Doc()
    Y.applyUpdate(docB, Y.encodeStateAsUpdate(inboxA.doc))
    // Bodies replicate separately; here both nodes share one blob store.
    const inboxB = openMailbox(docB, { replica: 'node-b', slot: 1, stride: 2, blobs: backend.blobs })
    Y.applyUpdate(inboxA.doc, Y.encodeStateAsUpdate(docB))
    // Partition: A's client sees A's message at UID 2; B appends two and exposes W[B] = 4.
    const m = message('from A')
    await a.append(m)
    const sel = await a.command('SELECT INBOX')
    expect(sel).toContain('* 1 EXISTS')
    expect(sel).toContain('* OK [UIDNEXT 3] Predicted next UID')
    expect((await a.command('FETCH 1 UID'))[0]).toBe('* 1 FETCH (UID 2)')
    inboxB.append(message('from B 1'))
    inboxB.append(message('from B 2'))
    inboxB.expose()
    await inboxB.whenBlobsStored()
    a.write('I IDLE\r\n')
    await a.until((l) => l.startsWith('+'))
    // Heal.
    Y.applyUpdate(inboxA.doc, Y.encodeStateAsUpdate(docB))
    const seen = await a.until((l) => /^\* \d+ EXISTS$/.test(l))
    expect(seen).toContain('* 1 EXPUNGE')
    a.write('DONE\r\n')
    await a.until((l) => l.startsWith('I '))
    const fr = await a.command('FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])')
    const uids = fr.filter((l) => /^\* \d+ FETCH /.test(l)).map((l) => Number(/UID (\d+)/.exec(l)![1]))
    expect(fr.filter((l) => l.startsWith('Subject:')).sort()).toEqual(['Subject: from A', 'Subject: from B 1', 'Subject: from B 2'])
    expect(uids).toHaveLength(3)
    // Every UID shown is new to this client and at or above the UIDNEXT (3) it was told.
    for (const u of uids) expect(u).toBeGreaterThanOrEqual(3)
    // A's message (seen by A's client) and B's UID 1 (exposed by B) were both duplicated.
    expect(inboxA.stats.fixupsDuplicate).toBe(2)
    inboxB.destroy()
  })
})
