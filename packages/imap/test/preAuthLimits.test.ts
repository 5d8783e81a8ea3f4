import { afterEach, describe, expect, it } from 'vitest'
import { RawClient, startServer, waitFor, type TestServer } from './serverHelpers.ts'

let srv: TestServer | undefined
const clients: RawClient[] = []
afterEach(async () => {
  for (const c of clients.splice(0)) c.close()
  await srv?.close()
  srv = undefined
})

/** `n` bytes of one non-synchronizing literal chain: `{8000+}` literals joined the way a client would send them. */
function literalChain(tag: string, total: number): Buffer {
  const parts: Buffer[] = [Buffer.from(`${tag} LOGIN {8000+}\r\n`)]
  for (let sent = 8000; sent < total; sent += 8000) parts.push(Buffer.alloc(8000, 0x61), Buffer.from(' {8000+}\r\n'))
  parts.push(Buffer.alloc(8000, 0x61))
  return Buffer.concat(parts)
}

describe('unauthenticated IMAP connections', () => {
  it('IMAP pre-auth buffering: before LOGIN a connection holds at most 16 KiB, all of them together at most maxPreAuthBufferedBytes, and nothing once closed', async () => {
    srv = await startServer({ maxPreAuthBufferedBytes: 1024 * 1024 })
    const server = srv.server
    // One client sends a ~1 MB command made of 8000-byte literals (each under the literal
    // limit). Before the limit the server held all of it until the command ended.
    const big = await RawClient.connect(srv.port)
    clients.push(big)
    big.write(literalChain('B1', 1024 * 1024))
    big.write('\r\n')
    expect((await big.until((l) => l.startsWith('B1 '), 20_000)).at(-1)).toMatch(/^B1 BAD \[TOOBIG\]/)
    expect(server.preAuthBuffered.peak).toBeLessThanOrEqual(16 * 1024 + 64 * 1024)
    expect(server.preAuthBuffered.bytes).toBe(0)

    // 200 clients each leave a 14 KB command unfinished (allowed per connection): together
    // they would hold 2.8 MB; past the 1 MiB total the server says BYE and drops their data.
    const unfinished = Buffer.concat([
      Buffer.from('U1 LOGIN {8000+}\r\n'),
      Buffer.alloc(8000, 0x62),
      Buffer.from(' {8000+}\r\n'),
      Buffer.alloc(6000, 0x62),
    ])
    const many = await Promise.all(Array.from({ length: 200 }, () => RawClient.connect(srv!.port)))
    clients.push(...many)
    for (const c of many) c.write(unfinished)
    // every byte sent has reached the server once each connection is either refused or holds its 14 KB
    const refused = (c: RawClient): boolean => c.lines.some((l) => l.startsWith('* BYE') && l.includes('not logged in'))
    await waitFor(
      'every connection refused or holding its command',
      () => {
        const refusedCount = many.filter(refused).length
        return server.preAuthBuffered.bytes >= (200 - refusedCount) * 14_000
      },
      20_000,
    )
    const held = server.preAuthBuffered.bytes
    expect(held).toBeLessThanOrEqual(1024 * 1024)
    expect(server.preAuthBuffered.peak).toBeLessThanOrEqual(1024 * 1024 + 64 * 1024)
    const refusedCount = many.filter(refused).length
    expect(refusedCount).toBeGreaterThan(100)
    expect(refusedCount).toBeLessThan(200)

    // a client that logs in is not held up, and its buffer no longer counts
    const honest = await RawClient.connect(srv.port)
    clients.push(honest)
    await honest.login()
    expect((await honest.command('SELECT INBOX')).at(-1)).toMatch(/OK/)

    // closing the connections releases everything they held
    for (const c of many) c.close()
    await waitFor('pre-auth buffers released', () => server.preAuthBuffered.bytes === 0 && server.connections === 2, 10_000)
  })

  it('IMAP pre-auth buffering: lines and literals before LOGIN are limited to 8 KiB, after LOGIN to the configured sizes', async () => {
    srv = await startServer()
    const c = await RawClient.connect(srv.port)
    clients.push(c)
    expect((await c.command(`LOGIN ${'x'.repeat(9000)} y`)).at(-1)).toMatch(/BAD .*Line longer than 8192/)
    c.write('L1 LOGIN {9000}\r\n')
    expect((await c.until((l) => l.startsWith('L1 '))).at(-1)).toMatch(/^L1 NO \[TOOBIG\]/)
    await c.login()
    expect((await c.command(`SELECT ${'x'.repeat(9000)}`)).at(-1)).toMatch(/NO/)
  })
})
