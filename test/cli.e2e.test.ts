import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { createServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '@mailweave/testkit'
import { NodeApi } from '@mailweave/client'
import { MAILWEAVE_BIN, NodeProcess } from '@mailweave/testkit-cluster'

const run = promisify(execFile)
const cli = (...args: string[]) =>
  run(process.execPath, [MAILWEAVE_BIN, ...args], { env: { ...process.env, MAILWEAVE_PASSWORD: 'pw-of-dora' } })

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
    writeFileSync(
      mbox,
      [
        'From a@example.org Sat Jan  3 01:05:34 2026',
        'Subject: first',
        'Status: RO',
        '',
        'one',
        '>From the body, quoted',
        '',
        'From b@example.org Sat Jan  3 01:06:34 2026',
        'Subject: second',
        '',
        'two',
        '',
      ].join('\n'),
    )
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
    const status = JSON.parse((await cli('status', '--wait', '--url', node.url, '--secret-file', secretFile)).stdout) as {
      node: { nodeId: string }
    }
    expect(status.node.nodeId).toBe('N0')
    // an expunged message's binding says so (it used to read "valid")
    expect((await api.call('POST', '/api/mailboxes/INBOX/expunge', { guids: [inbox.messages[0]!.guid] })).status).toBe(200)
    const after = await cli('inspect', 'dora/INBOX', '--url', node.url, '--secret-file', secretFile)
    expect(after.stdout.match(/ valid$/gm)).toHaveLength(1)
    expect(after.stdout.match(/ expunged$/gm)).toHaveLength(1)
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
        const out = await run(
          process.execPath,
          [
            MAILWEAVE_BIN,
            'serve',
            '--node-id',
            'B0',
            '--data',
            join(dir, `busy-${port}`),
            '--listen',
            `127.0.0.1:${port}`,
            '--secret-file',
            secretFile,
            flag,
            addr,
          ],
          { timeout: 30_000 },
        ).then(
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

  it('import is faithful (dates from the From line, file mtime or Date header; flags and keywords as doveadm import) and idempotent', async () => {
    await cli('user', 'add', 'dora', '--url', node.url, '--secret-file', secretFile)
    const api = new NodeApi(node.url, { user: 'dora', password: 'pw-of-dora' })
    const listing = (box: string) => api.digests(box)
    const mbox = join(dir, 'faithful.mbox')
    writeFileSync(
      mbox,
      [
        'From a@example.org Tue Mar 10 14:15:16 2020',
        'Subject: one',
        'Date: Wed, 1 Jan 2025 00:00:00 +0000',
        'Status: RO',
        'X-Status: AF',
        'X-Keywords: $Label1 work',
        'X-UID: 7',
        '',
        'first body',
        '',
        'From b@example.org',
        'Subject: two, no date on its From line',
        'Date: Thu, 2 Jan 2025 03:04:05 +0000',
        '',
        'second body',
        '',
        'From c@example.org Tue Mar 10 14:15:16 2020',
        'Subject: one',
        'Date: Wed, 1 Jan 2025 00:00:00 +0000',
        '',
        'third body',
        '',
      ].join('\n'),
    )
    expect((await cli('import', 'dora/Faithful', mbox, '--url', node.url)).stdout).toContain('imported 3 messages')
    const first = await listing('Faithful')
    expect(first.map((m) => m.internalDate)).toEqual(['2020-03-10T14:15:16.000Z', '2025-01-02T03:04:05.000Z', '2020-03-10T14:15:16.000Z'])
    expect([...first[0]!.flags].sort()).toEqual(['$Label1', '\\Answered', '\\Flagged', '\\Seen', 'work'])
    expect(first[1]!.flags).toEqual([])
    const raw = new TextDecoder().decode(await api.raw('Faithful', first[0]!.guid))
    // the mbox bookkeeping headers are Dovecot's, not the message's; lines end in CRLF
    expect(raw).toBe('Subject: one\r\nDate: Wed, 1 Jan 2025 00:00:00 +0000\r\n\r\nfirst body\r\n')
    // the same mbox again: nothing new
    const again = await cli('import', 'dora/Faithful', mbox, '--url', node.url)
    expect(again.stdout).toContain('imported 0 messages')
    expect(again.stdout).toContain('skipped 3 messages already in dora/Faithful')
    expect(await listing('Faithful')).toHaveLength(3)

    const maildir = join(dir, 'Faithful.maildir')
    for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(maildir, sub), { recursive: true })
    writeFileSync(join(maildir, 'dovecot-keywords'), '0 $Important\n1 receipts\n')
    const file = join(maildir, 'cur', '1600000000.M1P1.host,S=40:2,RSb')
    writeFileSync(file, 'Subject: maildir\nDate: Fri, 3 Jan 2025 00:00:00 +0000\n\nbody\n')
    utimesSync(file, new Date('2021-06-07T08:09:10Z'), new Date('2021-06-07T08:09:10Z'))
    for (let i = 0; i < 2; i++) await cli('import', 'dora/FromMaildir', maildir, '--url', node.url)
    const md = await listing('FromMaildir')
    expect(md).toHaveLength(1)
    expect(md[0]!.internalDate).toBe('2021-06-07T08:09:10.000Z')
    expect([...md[0]!.flags].sort()).toEqual(['\\Answered', '\\Seen', 'receipts'])
  }, 60_000)

  it('import refuses what is not an mbox file or a Maildir, and creates no mailbox', async () => {
    await cli('user', 'add', 'dora', '--url', node.url, '--secret-file', secretFile)
    const notMbox = join(dir, 'notes.txt')
    writeFileSync(notMbox, 'Subject: hello\n\njust a message, no From line\n')
    const empty = join(dir, 'empty.mbox')
    writeFileSync(empty, '')
    const plainDir = join(dir, 'plain-dir')
    mkdirSync(plainDir, { recursive: true })
    for (const [path, why] of [
      [notMbox, /notes\.txt is not an mbox file \(it does not start with a "From " line\) nor a Maildir/],
      [empty, /empty\.mbox is empty: not an mbox file/],
      [plainDir, /plain-dir is a directory but not a Maildir \(a Maildir has cur\/ and new\/ subdirectories\)/],
      [join(dir, 'missing'), /missing does not exist/],
    ] as const) {
      await expect(cli('import', 'dora/Wrong', path, '--url', node.url)).rejects.toMatchObject({
        code: 1,
        stderr: expect.stringMatching(why),
      })
    }
    const boxes = await new NodeApi(node.url, { user: 'dora', password: 'pw-of-dora' }).mailboxes()
    expect(boxes.map((b) => b.name)).not.toContain('Wrong')
  }, 60_000)

  it('explains bad invocations and refuses a wrong secret', async () => {
    await expect(cli('inspect', 'nouser', '--url', node.url, '--secret-file', secretFile)).rejects.toMatchObject({
      stderr: expect.stringContaining('expected <user>/<mailbox>'),
    })
    const wrong = join(dir, 'wrong')
    writeFileSync(wrong, 'x'.repeat(64))
    // a wrong secret says the same on every admin command
    for (const args of [['status'], ['inspect', 'dora/INBOX'], ['user', 'add', 'eve', '--password', 'pw'], ['status', '--wait', '5']]) {
      await expect(cli(...args, '--url', node.url, '--secret-file', wrong), args.join(' ')).rejects.toMatchObject({
        stderr: expect.stringContaining("refused the admin token (401): --secret-file does not hold this cluster's secret"),
      })
    }
    // an unreachable node is named with the cause, not "fetch failed"; --wait gives up after its bound
    const closed = `http://127.0.0.1:${await freePort()}`
    await expect(cli('status', '--url', closed, '--secret-file', secretFile)).rejects.toMatchObject({
      stderr: expect.stringContaining(`cannot reach the node at ${closed}: connection refused`),
    })
    await expect(cli('status', '--wait', '1', '--url', closed, '--secret-file', secretFile)).rejects.toMatchObject({
      stderr: expect.stringMatching(/not ready after 1 s: cannot reach the node .* \(ECONNREFUSED\)/),
    })
    await expect(cli('import', 'dora/INBOX', dir, '--url', 'not a url')).rejects.toMatchObject({
      stderr: expect.stringContaining('--url "not a url" is not a URL'),
    })
    const badHash = await new NodeApi(node.url, { user: 'dora', password: 'pw-of-dora' }).call(
      'PUT',
      `/api/blobs/${'0'.repeat(64)}`,
      undefined,
      new TextEncoder().encode('bytes'),
    )
    expect(badHash.status).toBe(400)
    expect(badHash.data.message).toMatch(/hashes to/)
    // multi-process options: --process needs a postgres store, the lease options need --process
    const serve = (...args: string[]) => cli('serve', '--secret-file', secretFile, '--data', join(dir, 'unused'), ...args)
    await expect(serve('--process', 'eu-a')).rejects.toMatchObject({
      stderr: expect.stringContaining('--process needs --store postgres://'),
    })
    await expect(serve('--lease-ttl', '5000')).rejects.toMatchObject({ stderr: expect.stringContaining('--lease-ttl needs --process') })
    await expect(serve('--process', 'eu-a', '--store', 'postgres://u@127.0.0.1:1/db', '--lease-ttl', '10')).rejects.toMatchObject({
      stderr: expect.stringContaining('--lease-ttl must be in [500, 600000] ms'),
    })
    await expect(serve('--process', 'bad name', '--store', 'postgres://u@127.0.0.1:1/db')).rejects.toMatchObject({
      stderr: expect.stringContaining('must be 1-64 characters'),
    })
    // --blobs s3://…: credentials in the URL are refused without being repeated; an unreachable service is named
    const inUrl = await serve('--blobs', 's3://AKIAEXAMPLE:sekrit-key@mail/eu').catch((e: { stderr: string }) => e.stderr)
    expect(inUrl).toContain('set AWS_ACCESS_KEY_ID')
    expect(inUrl).not.toContain('sekrit-key')
    await expect(serve('--blobs', 's3://mail/eu?endpoint=http://127.0.0.1:1&attempts=1')).rejects.toMatchObject({
      stderr: expect.stringContaining('cannot open the S3 blob store s3://mail/eu/ at http://127.0.0.1:1'),
    })
  }, 60_000)
})
