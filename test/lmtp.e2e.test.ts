import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LmtpClient, PrivatePostfix, freePort, waitFor } from '@mailweave/testkit'
import { NodeApi } from '@mailweave/client'
import { MAILWEAVE_BIN, NodeProcess } from '@mailweave/testkit-cluster'

const run = promisify(execFile)
const MAX = 20_000

/** Raw bodies of every message in `mailbox`, in UID order. */
async function bodies(api: NodeApi, mailbox: string): Promise<Buffer[]> {
  const view = await api.readMailbox(mailbox)
  const out: Buffer[] = []
  for (const m of view.messages) {
    const raw = await api.raw(mailbox, m.guid)
    if (raw === undefined) throw new Error(`no body for ${m.guid}`)
    out.push(Buffer.from(raw))
  }
  return out
}

describe('LMTP delivery into a real node process', () => {
  let dir: string
  let node: NodeProcess
  let dora: NodeApi
  let eve: NodeApi
  let postfix: PrivatePostfix | undefined
  let lmtpPort = 0
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mailweave-lmtp-'))
    const secretFile = join(dir, 'secret')
    writeFileSync(secretFile, randomBytes(32).toString('hex'))
    // a fixed LMTP port: the node is restarted and Postfix keeps its address
    lmtpPort = await freePort()
    node = await new NodeProcess({
      nodeId: 'N0',
      slot: 0,
      stride: 1,
      dataDir: join(dir, 'N0'),
      port: 0,
      secretFile,
      args: ['--lmtp', `127.0.0.1:${lmtpPort}`, '--max-message-size', String(MAX)],
    }).start()
    const admin = (
      await run(process.execPath, [
        MAILWEAVE_BIN,
        'user',
        'add',
        'dora',
        '--password',
        'pw-of-dora',
        '--url',
        node.url,
        '--secret-file',
        secretFile,
      ])
    ).stdout
    expect(admin).toContain('saved')
    await run(process.execPath, [
      MAILWEAVE_BIN,
      'user',
      'add',
      'eve',
      '--password',
      'pw-of-eve',
      '--url',
      node.url,
      '--secret-file',
      secretFile,
    ])
    dora = new NodeApi(node.url, { user: 'dora', password: 'pw-of-dora' })
    eve = new NodeApi(node.url, { user: 'eve', password: 'pw-of-eve' })
    expect((await dora.call('POST', '/api/mailboxes', { name: 'Lists' })).status).toBe(201)
  }, 60_000)
  afterAll(async () => {
    // Postfix goes whatever happened in the tests (its helper also kills it on process exit)
    await postfix?.stop()
    await node?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('Postfix delivers over LMTP: one reply per recipient, +detail into the mailbox, unknown user bounced, Received and Delivered-To added, 8-bit kept', async () => {
    postfix = await PrivatePostfix.start(lmtpPort)
    const body = Buffer.concat([
      Buffer.from(
        'From: carol@example.org\r\nSubject: via postfix\r\nMessage-ID: <pf-1@example.org>\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n',
      ),
      Buffer.from('grüße aus köln\r\n.a dot line\r\n', 'utf8'),
    ])
    await postfix.sendmail('carol@example.org', ['dora+Lists@example.org', 'eve+NoSuchBox@example.org', 'nobody@example.org'], body)
    await waitFor(
      () =>
        postfix!.outcomes('dora+Lists@example.org').includes('sent') &&
        postfix!.outcomes('eve+NoSuchBox@example.org').includes('sent') &&
        postfix!.outcomes('nobody@example.org').includes('bounced'),
      60_000,
      `postfix to finish\n${postfix.log()}`,
      100,
    )
    expect(postfix.outcomes('nobody@example.org')).toEqual(['bounced'])
    expect(postfix.log()).toMatch(/to=<nobody@example\.org>.*dsn=5\.1\.1, status=bounced/)
    const [lists] = await bodies(dora, 'Lists')
    expect((await dora.readMailbox('INBOX')).messages).toHaveLength(0)
    const [inbox] = await bodies(eve, 'INBOX')
    for (const [raw, rcpt] of [
      [lists!, 'dora+Lists@example.org'],
      [inbox!, 'eve+NoSuchBox@example.org'],
    ] as const) {
      const text = raw.toString('latin1')
      expect(
        text.startsWith(`Delivered-To: ${rcpt}\r\nReceived: from mta.test ([127.0.0.1])\r\n\tby mailweave-N0 (mailweave) with LMTP id `),
      ).toBe(true)
      expect(text).toMatch(new RegExp(`\\tfor <${rcpt.replace('+', '\\+')}>; \\w{3}, \\d{1,2} \\w{3} \\d{4} [\\d:]{8} \\+0000\\r\\n`))
      // Postfix's own Received, then the message as sent, the 8-bit bytes unchanged
      expect(text).toMatch(/\r\nReceived: by mta\.test \(Postfix/)
      expect(raw.subarray(raw.length - Buffer.from('grüße aus köln\r\n.a dot line\r\n', 'utf8').length).toString('utf8')).toBe(
        'grüße aus köln\r\n.a dot line\r\n',
      )
    }
  }, 120_000)

  it('a node that is down is a temporary failure for Postfix: it retries and the message arrives once', async () => {
    postfix ??= await PrivatePostfix.start(lmtpPort)
    await node.stop()
    await postfix.sendmail(
      'carol@example.org',
      ['dora@example.org'],
      'Subject: while down\r\nMessage-ID: <pf-2@example.org>\r\n\r\nretry me\r\n',
    )
    await waitFor(() => postfix!.outcomes('dora@example.org').includes('deferred'), 60_000, `postfix to defer\n${postfix.log()}`, 100)
    await node.start()
    await waitFor(() => postfix!.outcomes('dora@example.org').includes('sent'), 60_000, `postfix to retry\n${postfix.log()}`, 100)
    const inbox = await bodies(dora, 'INBOX')
    expect(inbox.filter((b) => b.toString().includes('retry me'))).toHaveLength(1)
  }, 120_000)

  it('swaks over LMTP: a reply per recipient after DATA, unknown user refused at RCPT', async () => {
    const out = await run(
      'swaks',
      [
        '--protocol',
        'LMTP',
        '--server',
        '127.0.0.1',
        '--port',
        String(lmtpPort),
        '--from',
        'frank@example.org',
        '--to',
        'dora+Lists@example.org,eve@example.org,ghost@example.org',
        '--header',
        'Subject: via swaks',
        '--body',
        'hello from swaks',
      ],
      { timeout: 30_000 },
    ).catch((e: { stdout?: string; code?: number }) => ({ stdout: e.stdout ?? '', code: e.code }))
    const lines = out.stdout.split('\n')
    expect(
      lines.filter((l) => /^<\*\* 550 5\.1\.1 no such user here: ghost@example\.org/.test(l)),
      out.stdout,
    ).toHaveLength(1)
    // after the final dot: one 250 per accepted recipient, naming it
    expect(
      lines.filter((l) => /^<- +250 2\.6\.0 (dora\+Lists|eve)@example\.org delivered/.test(l)),
      out.stdout,
    ).toHaveLength(2)
    expect((await bodies(dora, 'Lists')).filter((b) => b.toString().includes('hello from swaks'))).toHaveLength(1)
    expect((await bodies(eve, 'INBOX')).filter((b) => b.toString().includes('hello from swaks'))).toHaveLength(1)
  }, 60_000)

  it('bad input gets the right reply and stores nothing: bare LF, no final dot, oversize, unknown user; 8-bit is stored byte for byte', async () => {
    const before = (await dora.readMailbox('INBOX')).messages.length
    const c = await LmtpClient.connect(lmtpPort)
    try {
      expect((await c.command('LHLO test')).text).toContain(`SIZE ${MAX - 4096}`)
      expect(
        (await c.send('x@example.org', ['dora@example.org', 'eve@example.org'], 'Subject: bare\n\nLF only\r\n')).data.map((r) => r.code),
      ).toEqual([554, 554])
      expect(
        (await c.send('x@example.org', ['dora@example.org'], `Subject: big\r\n\r\n${'y'.repeat(100)}\r\n`.repeat(200))).data.map(
          (r) => r.code,
        ),
      ).toEqual([552])
      expect((await c.command(`MAIL FROM:<x@example.org> SIZE=${MAX}`)).code).toBe(552)
      const unknown = await c.send('x@example.org', ['nobody@example.org'], 'Subject: x\r\n\r\ny\r\n')
      expect(unknown.rcpt.map((r) => r.code)).toEqual([550])
      expect(unknown.data).toEqual([])
      expect((await c.command('RSET')).code).toBe(250)
    } finally {
      await c.quit()
    }
    const cut = await LmtpClient.connect(lmtpPort)
    await cut.command('LHLO test')
    await cut.command('MAIL FROM:<x@example.org>')
    await cut.command('RCPT TO:<dora@example.org>')
    expect((await cut.command('DATA')).code).toBe(354)
    cut.write('Subject: cut\r\n\r\nthe final dot never comes\r\n')
    cut.destroy()
    const eight = Buffer.concat([
      Buffer.from('Subject: 8bit\r\nMessage-ID: <8@example.org>\r\n\r\n'),
      Buffer.from([0xe4, 0xf6, 0xfc, 0x80, 0xff]),
      Buffer.from('\r\n'),
    ])
    const c2 = await LmtpClient.connect(lmtpPort)
    await c2.command('LHLO test')
    expect((await c2.send('x@example.org', ['dora@example.org'], new Uint8Array(eight), ' BODY=8BITMIME')).data.map((r) => r.code)).toEqual(
      [250],
    )
    await c2.quit()
    const after = await bodies(dora, 'INBOX')
    // only the 8-bit message arrived, byte for byte after our two header lines
    expect(after).toHaveLength(before + 1)
    expect(
      after
        .at(-1)!
        .subarray(after.at(-1)!.length - eight.length)
        .equals(eight),
    ).toBe(true)
  }, 60_000)

  it('a 250 means durable: the node killed (SIGKILL) right after it still has the message', async () => {
    const c = await LmtpClient.connect(lmtpPort)
    await c.command('LHLO test')
    const r = await c.send(
      'x@example.org',
      ['eve@example.org', 'dora+Lists@example.org'],
      'Subject: durable\r\nMessage-ID: <d@example.org>\r\n\r\nkill right after\r\n',
    )
    expect(r.data.map((x) => x.code)).toEqual([250, 250])
    await node.kill()
    c.destroy()
    await node.start()
    expect((await bodies(eve, 'INBOX')).filter((b) => b.toString().includes('kill right after'))).toHaveLength(1)
    expect((await bodies(dora, 'Lists')).filter((b) => b.toString().includes('kill right after'))).toHaveLength(1)
  }, 60_000)
})
