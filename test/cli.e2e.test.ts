import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { createServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '@mailweave/testkit'
import { NodeApi } from '@mailweave/client'
import { MAILWEAVE_BIN, NodeProcess } from '@mailweave/testkit/cluster'

const run = promisify(execFile)
const cli = (...args: string[]) => run(process.execPath, [MAILWEAVE_BIN, ...args], { env: { ...process.env, MAILWEAVE_PASSWORD: 'pw-of-dora' } })

describe('the mailweave CLI against a running node', () => {
  let dir: string
  let node: NodeProcess
  let secretFile: string
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mailweave-cli-'))
    secretFile = join(dir, 'secret')
    writeFileSync(secretFile, randomBytes(32).toString('hex'))
    node = await new NodeProcess({ nodeId: 'N0', slot: 0, stride: 2, dataDir: join(dir, 'N0'), port: 0, secretFile }).start()
  }, 60_000)
  afterAll(async () => {
    await node?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('adds a user, imports an mbox and a Maildir with their flags, and inspects the result', async () => {
    expect((await cli('user', 'add', 'dora', '--url', node.url, '--secret-file', secretFile)).stdout).toContain('user dora saved')
    const mbox = join(dir, 'archive.mbox')
    writeFileSync(mbox, [
      'From a@example.org Sat Jan  3 01:05:34 2026', 'Subject: first', 'Status: RO', '', 'one', '>From the body, quoted', '',
      'From b@example.org Sat Jan  3 01:06:34 2026', 'Subject: second', '', 'two', '',
    ].join('\n'))
    const imported = await cli('import', 'dora/Archive', mbox, '--url', node.url)
    expect(imported.stdout).toContain('imported 2 messages into dora/Archive')
    const maildir = join(dir, 'Maildir')
    for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(maildir, sub), { recursive: true })
    writeFileSync(join(maildir, 'cur', '1700000000.1.host:2,FS'), 'Subject: flagged\r\n\r\nthree\r\n')
    writeFileSync(join(maildir, 'new', '1700000001.2.host'), 'Subject: new one\r\n\r\nfour\r\n')
    expect((await cli('import', 'dora/INBOX', maildir, '--url', node.url)).stdout).toContain('imported 2 messages')
    const api = new NodeApi(node.url, { user: 'dora', password: 'pw-of-dora' })
    const archive = await api.readMailbox('Archive')
    expect(archive.messages).toHaveLength(2)
    expect(archive.messages[0]!.flags).toContain('\\Seen')
    const raw = await api.call('GET', `/api/mailboxes/Archive/messages/${archive.messages[0]!.guid}/raw`)
    expect(String(raw.data)).toContain('From the body, quoted')
    const inbox = await api.readMailbox('INBOX')
    expect(inbox.messages.map((m) => [...m.flags].sort())).toEqual([[], ['\\Flagged', '\\Seen']].sort((a, b) => a.length - b.length))
    const inspect = await cli('inspect', 'dora/INBOX', '--url', node.url, '--secret-file', secretFile)
    expect(inspect.stdout).toMatch(/mailbox INBOX\s+UIDVALIDITY \d+/)
    expect(inspect.stdout).toMatch(/N0\s+0\s+\d+/) // W of N0
    expect(inspect.stdout.match(/ valid$/gm)).toHaveLength(2)
    const status = JSON.parse((await cli('status', '--url', node.url, '--secret-file', secretFile)).stdout) as { node: { nodeId: string } }
    expect(status.node.nodeId).toBe('N0')
  }, 60_000)

  it('serve fails to start, with a clear error, when --imap or --lmtp is busy or bad (no half-running node)', async () => {
    const busy = createServer()
    await new Promise<void>((res) => busy.listen(0, '127.0.0.1', () => res()))
    const busyPort = (busy.address() as AddressInfo).port
    try {
      const cases = [
        ['--imap', `127.0.0.1:${busyPort}`, /IMAP cannot listen on 127\.0\.0\.1:\d+: the address is already in use \(EADDRINUSE\)/],
        ['--imap', '192.0.2.1:1143', /IMAP cannot listen on 192\.0\.2\.1:1143: no such local address/],
        ['--imap', '127.0.0.1:70000', /imap port must be in \[0, 65535\]/],
        ['--lmtp', `127.0.0.1:${busyPort}`, /LMTP cannot listen on 127\.0\.0\.1:\d+: the address is already in use \(EADDRINUSE\)/],
      ] as const
      for (const [flag, addr, cause] of cases) {
        const port = await freePort()
        const started = Date.now()
        const out = await run(process.execPath, [MAILWEAVE_BIN, 'serve', '--node-id', 'B0', '--data', join(dir, `busy-${port}`), '--listen', `127.0.0.1:${port}`, '--secret-file', secretFile, flag, addr], { timeout: 30_000 }).then(
          () => ({ code: 0, stderr: '' }),
          (e: { code?: number; stderr?: string }) => ({ code: e.code, stderr: e.stderr ?? '' }),
        )
        // the process ended by itself (not killed by the timeout) with a failure and the cause
        expect(out.code, `serve ${flag} ${addr}`).toBe(1)
        expect(out.stderr).toMatch(cause)
        expect(Date.now() - started).toBeLessThan(30_000)
        // and nothing was left listening on its HTTP port
        await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow()
      }
    } finally {
      busy.close()
    }
  }, 120_000)

  it('explains bad invocations and refuses a wrong secret', async () => {
    await expect(cli('inspect', 'nouser', '--url', node.url, '--secret-file', secretFile)).rejects.toMatchObject({ stderr: expect.stringContaining('expected <user>/<mailbox>') })
    const wrong = join(dir, 'wrong')
    writeFileSync(wrong, 'x'.repeat(64))
    await expect(cli('status', '--url', node.url, '--secret-file', wrong)).rejects.toMatchObject({ stderr: expect.stringContaining('401') })
    const badHash = await new NodeApi(node.url, { user: 'dora', password: 'pw-of-dora' }).call('PUT', `/api/blobs/${'0'.repeat(64)}`, undefined, new TextEncoder().encode('bytes'))
    expect(badHash.status).toBe(400)
    expect(badHash.data.message).toMatch(/hashes to/)
  }, 60_000)
})
