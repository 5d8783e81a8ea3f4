import { afterEach, describe, expect, it } from 'vitest'
import { LmtpClient } from '@mailweave/testkit'
import { LmtpError, LmtpServer, MemoryLmtpBackend, parseRecipient } from '../src/index.ts'

const servers: LmtpServer[] = []
const clients: LmtpClient[] = []
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy()
  for (const s of servers.splice(0)) await s.close()
})

async function setup(maxMessageBytes = 10_000): Promise<{ backend: MemoryLmtpBackend; client: LmtpClient; port: number }> {
  const backend = new MemoryLmtpBackend()
  backend.addUser('alice', ['Lists'])
  backend.addUser('bob')
  const server = new LmtpServer({ backend, serverName: 'mx.test', maxMessageBytes, onError: () => undefined })
  servers.push(server)
  const { port } = await server.listen(0, '127.0.0.1')
  const client = await LmtpClient.connect(port)
  clients.push(client)
  const lhlo = await client.command('LHLO mta.test')
  expect(lhlo.code).toBe(250)
  return { backend, client, port }
}

const text = (b: Uint8Array) => Buffer.from(b).toString('latin1')
const MSG = 'From: carol@example.org\r\nSubject: hello\r\nMessage-ID: <1@example.org>\r\n\r\nHi.\r\n.a line starting with a dot\r\n'
const storedCount = (b: MemoryLmtpBackend) => [...b.mailboxes.values()].flatMap((m) => [...m.values()]).reduce((n, l) => n + l.length, 0)

describe('LmtpServer', () => {
  it('advertises SIZE, 8BITMIME and PIPELINING, and no AUTH or STARTTLS', async () => {
    const { client } = await setup(12_345)
    const lhlo = await client.command('LHLO again.test')
    expect(lhlo.text).toContain('SIZE 12345')
    expect(lhlo.text).toContain('8BITMIME')
    expect(lhlo.text).toContain('PIPELINING')
    expect(lhlo.text).not.toMatch(/AUTH|STARTTLS/)
  })

  it('answers every recipient after DATA, delivers +detail to the mailbox where it exists (else INBOX), and adds Delivered-To and Received', async () => {
    const { backend, client } = await setup()
    const r = await client.send(
      'carol@example.org',
      ['alice+Lists@example.org', 'nobody@example.org', 'bob+nosuchbox@example.org', 'Alice@example.org'],
      MSG,
    )
    expect(r.rcpt.map((x) => x.code)).toEqual([250, 550, 250, 250])
    expect(r.rcpt[1]!.text).toMatch(/^5\.1\.1 /)
    expect(r.data.map((x) => x.code)).toEqual([250, 250, 250])
    expect(r.data[0]!.text).toMatch(/^2\.6\.0 alice\+Lists@example\.org delivered/)
    expect(backend.stored('alice', 'Lists')).toHaveLength(1)
    expect(backend.stored('alice', 'INBOX')).toHaveLength(1)
    expect(backend.stored('bob', 'INBOX')).toHaveLength(1)
    const d = backend.stored('alice', 'Lists')[0]!
    // the original exactly as sent (dot-unstuffed), our trace headers before it
    expect(text(d.original)).toBe(MSG)
    const raw = text(d.raw)
    expect(raw.endsWith(MSG)).toBe(true)
    expect(raw).toMatch(
      /^Delivered-To: alice\+Lists@example\.org\r\nReceived: from mta\.test \(\[127\.0\.0\.1\]\)\r\n\tby mx\.test \(mailweave\) with LMTP id \S+\r\n\tfor <alice\+Lists@example\.org>; \w{3}, \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d \+0000\r\nFrom: carol/,
    )
  })

  it('a failing recipient gets its own 4xx or 5xx after DATA while the others get 250', async () => {
    const { backend, client } = await setup()
    backend.failNext.push(new LmtpError(452, 'mailbox full, try later'), new LmtpError(552, 'over quota'))
    const r = await client.send('carol@example.org', ['alice@example.org', 'bob@example.org', 'alice+Lists@example.org'], MSG)
    expect(r.data.map((x) => x.code)).toEqual([452, 552, 250])
    expect(r.data[0]!.text).toContain('alice@example.org: mailbox full')
    expect(storedCount(backend)).toBe(1)
    expect(backend.stored('alice', 'Lists')).toHaveLength(1)
  })

  it('an unexpected backend error is a temporary failure (451), never a bounce', async () => {
    const { backend, client } = await setup()
    backend.deliver = async () => {
      throw new Error('disk on fire')
    }
    const r = await client.send('carol@example.org', ['alice@example.org'], MSG)
    expect(r.data.map((x) => x.code)).toEqual([451])
    expect(r.data[0]!.text).toMatch(/^4\.3\.0 /)
  })

  it('refuses bare LF, bare CR and NUL for every recipient and stores nothing; the connection goes on', async () => {
    const { backend, client } = await setup()
    for (const bad of ['Subject: x\n\nbare LF\r\n', 'Subject: x\r\n\r\nbare\rCR\r\n', 'Subject: x\r\n\r\nnul \0 byte\r\n']) {
      const r = await client.send('carol@example.org', ['alice@example.org', 'bob@example.org'], bad)
      expect(
        r.data.map((x) => x.code),
        JSON.stringify(bad),
      ).toEqual([554, 554])
      expect(r.data[0]!.text).toMatch(/bare LF|bare CR|NUL/)
    }
    expect(storedCount(backend)).toBe(0)
    expect((await client.send('carol@example.org', ['alice@example.org'], MSG)).data.map((x) => x.code)).toEqual([250])
  })

  it('stores 8-bit data byte for byte', async () => {
    const { backend, client } = await setup()
    const eight = Buffer.concat([
      Buffer.from('Subject: =?utf-8?q?caf=C3=A9?=\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n'),
      Buffer.from('café ü € \xff\r\n', 'utf8'),
      Buffer.from([0xff, 0x80, 0x0d, 0x0a]),
    ])
    const r = await client.send('carol@example.org', ['bob@example.org'], new Uint8Array(eight), ' BODY=8BITMIME')
    expect(r.data.map((x) => x.code)).toEqual([250])
    expect(Buffer.from(backend.stored('bob')[0]!.original).equals(eight)).toBe(true)
  })

  it('refuses an oversized message (SIZE= at MAIL, and past the limit in DATA) and stores nothing', async () => {
    const { backend, client } = await setup(1000)
    const big = `Subject: big\r\n\r\n${'x'.repeat(78)}\r\n`.repeat(20)
    const declared = await client.command(`MAIL FROM:<carol@example.org> SIZE=${big.length}`)
    expect(declared.code).toBe(552)
    const r = await client.send('carol@example.org', ['alice@example.org', 'bob@example.org'], big)
    expect(r.data.map((x) => x.code)).toEqual([552, 552])
    expect(r.data[0]!.text).toMatch(/^5\.3\.4 /)
    expect(storedCount(backend)).toBe(0)
    expect((await client.send('carol@example.org', ['alice@example.org'], MSG)).data.map((x) => x.code)).toEqual([250])
  })

  it('a client that goes away before the final dot stores nothing', async () => {
    const { backend, client, port } = await setup()
    await client.command('MAIL FROM:<carol@example.org>')
    await client.command('RCPT TO:<alice@example.org>')
    expect((await client.command('DATA')).code).toBe(354)
    client.write('Subject: cut\r\n\r\nno terminator follows\r\n')
    client.destroy()
    // the server is still well, and the cut message never appears
    const next = await LmtpClient.connect(port)
    clients.push(next)
    await next.command('LHLO mta.test')
    expect((await next.send('carol@example.org', ['bob@example.org'], MSG)).data.map((x) => x.code)).toEqual([250])
    expect(backend.stored('alice')).toHaveLength(0)
    expect(backend.stored('bob')).toHaveLength(1)
  })

  it('refuses mail before LHLO and DATA without a recipient', async () => {
    const backend = new MemoryLmtpBackend()
    const server = new LmtpServer({ backend, serverName: 'mx.test', maxMessageBytes: 1000, onError: () => undefined })
    servers.push(server)
    const client = await LmtpClient.connect((await server.listen()).port)
    clients.push(client)
    expect((await client.command('MAIL FROM:<a@b>')).code).toBe(503)
    expect((await client.command('HELO x')).code).toBe(500)
    await client.command('LHLO x')
    await client.command('MAIL FROM:<a@b>')
    expect((await client.command('RCPT TO:<nobody@b>')).code).toBe(550)
    expect((await client.command('DATA')).code).toBe(503)
  })

  it('parses recipients: user lowercased, detail kept, quotes and brackets removed', () => {
    expect(parseRecipient('<Alice+Work@Example.org>')).toEqual({ address: 'Alice+Work@Example.org', user: 'alice', detail: 'Work' })
    expect(parseRecipient('bob@x')).toEqual({ address: 'bob@x', user: 'bob', detail: undefined })
    expect(parseRecipient('bob+@x')!.detail).toBeUndefined()
    expect(parseRecipient('"john.doe+a b"@x')).toEqual({ address: '"john.doe+a b"@x', user: 'john.doe', detail: 'a b' })
    expect(parseRecipient('+only@x')).toBeUndefined()
  })
})
