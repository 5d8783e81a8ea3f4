import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import * as net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { ImapFlow } from 'imapflow'
import { afterEach, describe, expect, it } from 'vitest'
import { waitFor } from '@mailweave/testkit'
import { writeMbsyncrc } from '../../../scripts/lib/imapClients.ts'
import { MailNode, silentLogger } from '../src/index.ts'

const run = promisify(execFile)
const USER = 'erin'
const PASS = 'imap-pass-1'
const raw = (id: string): Buffer =>
  Buffer.from(`From: t@example.org\r\nTo: erin@example.org\r\nSubject: ${id}\r\nMessage-ID: <${id}>\r\n\r\nbody of ${id}\r\n`)

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** Lines of one raw IMAP exchange: LOGIN, SELECT INBOX, then `command`, up to its tagged response. */
async function exchange(port: number, command: string): Promise<string[]> {
  const socket = net.connect(port, '127.0.0.1')
  cleanups.push(() => void socket.destroy())
  let text = ''
  socket.on('data', (d: Buffer) => (text += d.toString('latin1')))
  socket.write(`a LOGIN ${USER} ${PASS}\r\nb SELECT INBOX\r\nc ${command}\r\n`)
  await waitFor(() => /\r\nc (OK|NO|BAD) [^\r\n]*\r\n$/.test(text), 10_000, 'the tagged response')
  socket.end()
  return text.split('\r\n').slice(text.split('\r\n').findIndex((l) => l.startsWith('b ')) + 1, -1)
}

/** Message-IDs of the Maildir that mbsync pulled INBOX into. */
async function mbsync(dir: string, port: number): Promise<{ ids: string[]; stderr: string }> {
  const maildir = join(dir, 'Maildir')
  mkdirSync(maildir, { recursive: true })
  const rc = writeMbsyncrc(dir, maildir, { account: 'node', port, user: USER, pass: PASS })
  const { stderr } = await run('mbsync', ['-c', rc, '-a']).catch((e: { stderr?: string; code?: number }) => ({
    stderr: `exit ${e.code}: ${e.stderr ?? ''}`,
  }))
  const ids: string[] = []
  for (const sub of ['cur', 'new']) {
    for (const f of readdirSync(join(maildir, 'INBOX', sub)))
      ids.push(/Message-ID: <([^>]+)>/i.exec(readFileSync(join(maildir, 'INBOX', sub, f), 'utf8'))?.[1] ?? '?')
  }
  return { ids: ids.sort(), stderr }
}

describe('FETCH when one body is unavailable', () => {
  it('FETCH with one unavailable body: the others are answered, the one is named in an untagged NO [UNAVAILABLE], imapflow and mbsync keep the rest', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'mw-fetch-'))
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }))
    // a peer that never answers, so a missing body is waited for (bodyWaitMs), then given up on
    const node = await MailNode.start(
      {
        nodeId: 'a',
        slot: 0,
        stride: 2,
        dataDir,
        host: '127.0.0.1',
        port: 0,
        peers: [{ id: 'b', url: 'http://127.0.0.1:9' }],
        secret: new Uint8Array(32).fill(3),
        bodyWaitMs: 200,
        imap: { host: '127.0.0.1', port: 0 },
      },
      silentLogger(),
    )
    cleanups.push(() => node.stop())
    await node.addUser(USER, PASS)
    const port = Number(new URL(node.imapUrl!).port)

    const flow = new ImapFlow({ host: '127.0.0.1', port, secure: false, auth: { user: USER, pass: PASS }, logger: false })
    await flow.connect()
    cleanups.push(() => flow.logout().catch(() => undefined))
    await flow.append('INBOX', raw('m1'))
    // m2's message fact arrives (as from an edge replica whose upload never reached any node): no node has its body
    const lost = createHash('sha256').update(raw('m2')).digest('hex')
    const h = (await node.openMailbox(USER, 'INBOX'))!
    h.mailbox.doc.getArray('mailweave.log').push([['m', 'g2', 'edge', lost, raw('m2').length, 0, 1, 0, [], {}]])
    await h.expose()
    h.release()
    await flow.append('INBOX', raw('m3'))

    // imapflow: the whole fetch completes with the two messages it can have
    await flow.mailboxOpen('INBOX')
    const got: string[] = []
    for await (const m of flow.fetch('1:*', { uid: true, source: true }))
      got.push(/Message-ID: <([^>]+)>/.exec(m.source?.toString() ?? '')?.[1] ?? '?')
    expect(got).toEqual(['m1', 'm3'])

    // on the wire: FETCH for 1 and 3, an untagged NO naming UID and sequence number of 2, tagged OK
    const lines = await exchange(port, 'UID FETCH 1:* (UID BODY.PEEK[])')
    const uidOf = (seq: number): number => Number(/UID (\d+)/.exec(lines.find((l) => l.startsWith(`* ${seq} FETCH`)) ?? '')?.[1])
    expect(lines.filter((l) => / FETCH \(/.test(l)).map((l) => l.split(' ')[1])).toEqual(['1', '3'])
    const warning = lines.find((l) => l.startsWith('* NO '))
    expect(warning).toMatch(/^\* NO \[UNAVAILABLE\] UID \d+ \(message 2\): body not available/)
    const uid2 = Number(/UID (\d+)/.exec(warning!)?.[1])
    expect(uid2).toBeGreaterThan(uidOf(1))
    expect(uid2).toBeLessThan(uidOf(3))
    expect(lines.at(-1)).toMatch(/^c OK .*1 of 3 message bodies not available/)

    // mbsync: pulls the two and exits 0, passing on the server's warning about the third. Like
    // for a tagged NO, its sync state then moves past that UID (mbsync takes a message it
    // cannot fetch as vanished), so only a new sync state fetches it once the body is back.
    const first = await mbsync(join(dataDir, 'mbsync-1'), port)
    expect(first.ids).toEqual(['m1', 'm3'])
    expect(first.stderr).not.toMatch(/^exit|error/im)
    expect(first.stderr).toContain(`Warning from IMAP server: [UNAVAILABLE] UID ${uid2} (message 2)`)
    // the edge retries its upload and the body arrives
    const put = await fetch(`${node.url}/api/blobs/${lost}`, {
      method: 'PUT',
      headers: { authorization: `Basic ${Buffer.from(`${USER}:${PASS}`).toString('base64')}` },
      body: new Uint8Array(raw('m2')),
    })
    expect(put.status).toBe(200)
    const second = await mbsync(join(dataDir, 'mbsync-2'), port)
    expect(second.ids).toEqual(['m1', 'm2', 'm3'])
    expect(second.stderr).not.toMatch(/^exit|error/im)
  }, 60_000)
})
