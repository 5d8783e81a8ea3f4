// imapflow (a real, widely used IMAP client library) against the server over a real socket.
import { ImapFlow } from 'imapflow'
import { afterEach, describe, expect, it } from 'vitest'
import { PASS, USER, message, startServer, waitFor } from './serverHelpers.ts'
import type { TestServer } from './serverHelpers.ts'

let srv: TestServer | undefined
const clients: ImapFlow[] = []

function client(s: TestServer): ImapFlow {
  const c = new ImapFlow({
    host: '127.0.0.1',
    port: s.port,
    secure: false,
    auth: { user: USER, pass: PASS },
    logger: false,
    disableAutoIdle: true,
  })
  clients.push(c)
  return c
}

afterEach(async () => {
  for (const c of clients.splice(0)) await c.logout().catch(() => c.close())
  if (srv !== undefined) {
    expect(srv.errors).toEqual([])
    await srv.close()
    srv = undefined
  }
})

const MULTIPART = Buffer.from(
  [
    'From: "Ann" <ann@example.com>',
    'To: bob@example.org',
    'Subject: Report',
    'Message-ID: <report@example.com>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'See attached.',
    '--b1',
    'Content-Type: application/pdf; name="r.pdf"',
    'Content-Disposition: attachment; filename="r.pdf"',
    'Content-Transfer-Encoding: base64',
    '',
    'JVBERi0xLjQK',
    '--b1--',
    '',
  ].join('\r\n'),
)

describe('imapflow', () => {
  it('lists, creates, appends, selects, fetches, stores, searches, copies, moves and expunges', async () => {
    srv = await startServer()
    const c = client(srv)
    await c.connect()
    expect(c.capabilities.has('UIDPLUS')).toBe(true)
    await c.mailboxCreate('Archive')
    const names = (await c.list()).map((m) => m.path).sort()
    expect(names).toEqual(['Archive', 'INBOX'])
    const a1 = await c.append('INBOX', message('First'), ['\\Seen'], new Date('2024-02-01T10:00:00Z'))
    const a2 = await c.append('INBOX', MULTIPART)
    expect(a1 && a1.uid).toBe(1)
    expect(a2 && a2.uid).toBe(2)
    const lock = await c.getMailboxLock('INBOX')
    try {
      const mbox = c.mailbox
      expect(mbox && mbox.exists).toBe(2)
      expect(mbox && mbox.uidNext).toBe(3)
      const msgs = await c.fetchAll(
        '1:*',
        { uid: true, flags: true, envelope: true, bodyStructure: true, internalDate: true, size: true },
        { uid: true },
      )
      expect(msgs.map((m) => m.uid)).toEqual([1, 2])
      expect(msgs[0]!.envelope!.subject).toBe('First')
      expect(msgs[0]!.envelope!.from![0]!.address).toBe('bob@example.org')
      expect([...msgs[0]!.flags!]).toEqual(['\\Seen'])
      expect(msgs[1]!.bodyStructure!.type).toBe('multipart/mixed')
      expect(msgs[1]!.bodyStructure!.childNodes!.map((n) => n.type)).toEqual(['text/plain', 'application/pdf'])
      expect(msgs[1]!.bodyStructure!.childNodes![1]!.dispositionParameters!.filename).toBe('r.pdf')
      const one = await c.fetchOne('2', { source: true, bodyParts: ['1', '2'] }, { uid: true })
      expect(one && one.source!.equals(MULTIPART)).toBe(true)
      expect(one && one.bodyParts!.get('1')!.toString()).toBe('See attached.')
      const dl = await c.download('2', '2', { uid: true })
      const chunks: Buffer[] = []
      if (dl.content === undefined) throw new Error('no download stream')
      for await (const chunk of dl.content) chunks.push(chunk as Buffer)
      expect(Buffer.concat(chunks).toString('latin1')).toBe('%PDF-1.4\n')
      expect(await c.messageFlagsAdd({ uid: '2' }, ['\\Flagged', '$Work'], { uid: true })).toBe(true)
      expect(await c.search({ flagged: true }, { uid: true })).toEqual([2])
      expect(await c.search({ subject: 'report' }, { uid: true })).toEqual([2])
      expect(await c.search({ body: 'attached' }, { uid: true })).toEqual([2])
      expect(await c.search({ seen: false }, { uid: true })).toEqual([2])
      const copied = await c.messageCopy('1', 'Archive', { uid: true })
      expect(copied && copied.uidMap && [...copied.uidMap]).toEqual([[1, 1]])
      const moved = await c.messageMove('2', 'Archive', { uid: true })
      expect(moved && moved.uidMap && [...moved.uidMap]).toEqual([[2, 2]])
      expect(c.mailbox && c.mailbox.exists).toBe(1)
      expect(await c.messageDelete('1', { uid: true })).toBe(true)
      expect(c.mailbox && c.mailbox.exists).toBe(0)
    } finally {
      lock.release()
    }
    const st = await c.status('Archive', { messages: true, uidNext: true, unseen: true })
    if (st === false) throw new Error('STATUS failed')
    expect(st.messages).toBe(2)
    expect(st.uidNext).toBe(3)
    expect(st.unseen).toBe(1)
    const archived = await c.getMailboxLock('Archive')
    try {
      const flags = await c.fetchAll('1:*', { flags: true }, { uid: true })
      expect(flags.map((m) => [...m.flags!].sort())).toEqual([['\\Seen'], ['$Work', '\\Flagged']])
    } finally {
      archived.release()
    }
  })

  it('streams a FETCH far larger than the socket buffer (responses batched, backpressure kept)', async () => {
    srv = await startServer()
    const c = client(srv)
    await c.connect()
    const filler = 'x'.repeat(60) + '\r\n'
    for (let i = 0; i < 300; i++)
      await c.append('INBOX', Buffer.from(`Subject: big ${i}\r\nMessage-ID: <big${i}@t>\r\n\r\n${filler.repeat(160)}`))
    await c.mailboxOpen('INBOX')
    let n = 0
    let bytes = 0
    for await (const m of c.fetch('1:*', { uid: true, envelope: true, source: true })) {
      n++
      bytes += m.source?.length ?? 0
      expect(m.envelope?.subject).toBe(`big ${n - 1}`)
    }
    expect(n).toBe(300)
    expect(bytes).toBeGreaterThan(300 * 9_000)
  })

  it('IDLE reports an append made by another session', async () => {
    srv = await startServer()
    const watcher = client(srv)
    const writer = client(srv)
    await watcher.connect()
    await writer.connect()
    const lock = await watcher.getMailboxLock('INBOX')
    const exists: number[] = []
    watcher.on('exists', (data: { count: number }) => exists.push(data.count))
    const idling = watcher.idle()
    await writer.append('INBOX', message('Pushed'))
    await waitFor('EXISTS during IDLE', () => exists.includes(1))
    // Any command ends IDLE.
    await watcher.noop()
    await idling
    expect(watcher.mailbox && watcher.mailbox.exists).toBe(1)
    lock.release()
  })

  it('CONDSTORE: HIGHESTMODSEQ, per-message MODSEQ and FETCH CHANGEDSINCE', async () => {
    srv = await startServer()
    const c = client(srv)
    await c.connect()
    for (const s of ['m1', 'm2', 'm3']) await c.append('INBOX', message(s))
    const lock = await c.getMailboxLock('INBOX')
    try {
      const before = c.mailbox ? c.mailbox.highestModseq : undefined
      if (typeof before !== 'bigint') throw new Error('no HIGHESTMODSEQ')
      await c.messageFlagsAdd({ uid: '2' }, ['\\Answered'], { uid: true })
      const changed = await c.fetchAll('1:*', { uid: true, flags: true }, { uid: true, changedSince: before })
      expect(changed.map((m) => m.uid)).toEqual([2])
      expect(changed[0]!.modseq).toBeGreaterThan(before)
      const none = await c.fetchAll('1:*', { uid: true }, { uid: true, changedSince: changed[0]!.modseq! })
      expect(none).toEqual([])
    } finally {
      lock.release()
    }
  })
})
