import { afterEach, describe, expect, it, vi } from 'vitest'
import { RawClient, message, startServer, type TestServer } from './serverHelpers.ts'

let srv: TestServer | undefined
afterEach(async () => {
  await srv?.close()
  srv = undefined
})

describe('FETCH read-ahead', () => {
  it('with CHANGEDSINCE reads only the bodies of the messages it answers', async () => {
    srv = await startServer()
    const c = await RawClient.connect(srv.port)
    await c.login()
    for (let i = 0; i < 20; i++) await c.append(message(`m${i}`))
    await c.command('SELECT INBOX')
    const modseqs = (await c.command('FETCH 1:* (MODSEQ)')).flatMap((l) => /MODSEQ \((\d+)\)/.exec(l)?.[1] ?? [])
    const highest = modseqs.reduce((m, x) => (BigInt(x) > m ? BigInt(x) : m), 0n)
    await c.command('STORE 7 +FLAGS (\\Flagged)')
    const reads = vi.spyOn(srv.backend.blobs, 'get')
    const r = await c.command(`FETCH 1:* (BODY.PEEK[]) (CHANGEDSINCE ${highest})`)
    expect(r.at(-1)).toMatch(/ OK /)
    expect(r.filter((l) => /^\* \d+ FETCH /.test(l)).map((l) => l.split(' ')[1])).toEqual(['7'])
    expect(reads).toHaveBeenCalledTimes(1)
    expect(srv.errors).toEqual([])
  })
})
