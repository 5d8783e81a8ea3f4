import { afterEach, describe, expect, it } from 'vitest'
import { PASS, RawClient, startServer, type TestServer } from './serverHelpers.ts'

let srv: TestServer | undefined
afterEach(async () => {
  await srv?.close()
  srv = undefined
})

describe('failed authentication', () => {
  // a long delay, so the other session's login has ample time even on a loaded machine
  it('is answered only after the delay, without holding up other sessions', async () => {
    srv = await startServer({ authFailureDelayMs: 3000, maxAuthFailures: 3 })
    const guesser = await RawClient.connect(srv.port)
    const t0 = performance.now()
    let firstAnswered = 0
    const first = guesser.command('LOGIN alice guess-1', 10_000).then((r) => {
      firstAnswered = performance.now()
      return r
    })
    // another user logs in and works while the guesser waits for its NO
    const honest = await RawClient.connect(srv.port)
    await honest.login()
    expect((await honest.command('NOOP')).at(-1)).toMatch(/ OK /)
    const honestDone = performance.now()
    expect((await first).at(-1)).toMatch(/ NO \[AUTHENTICATIONFAILED\]/)
    expect(firstAnswered - t0).toBeGreaterThanOrEqual(2990)
    expect(honestDone).toBeLessThan(firstAnswered)
    expect(srv.errors).toEqual([])
  })

  it('the third failure on a connection closes it; the account is not locked', async () => {
    srv = await startServer({ authFailureDelayMs: 0, maxAuthFailures: 3 })
    const guesser = await RawClient.connect(srv.port)
    expect((await guesser.command('LOGIN alice guess-1')).at(-1)).toMatch(/ NO \[AUTHENTICATIONFAILED\]/)
    expect((await guesser.command('AUTHENTICATE PLAIN ' + Buffer.from(`\0alice\0guess-2`).toString('base64'))).at(-1)).toMatch(
      / NO \[AUTHENTICATIONFAILED\]/,
    )
    const third = await guesser.command('LOGIN alice guess-3')
    expect(third.at(-1)).toMatch(/ NO \[AUTHENTICATIONFAILED\]/)
    await guesser.until((l) => l.startsWith('* BYE') && l.includes('Too many authentication failures'))
    await guesser.closedByServer()
    // the right password still works on a new connection
    const again = await RawClient.connect(srv.port)
    await again.login('alice', PASS)
    expect(srv.errors).toEqual([])
  })

  it('checks no password pipelined after the failure that closes the connection', async () => {
    srv = await startServer({ authFailureDelayMs: 0, maxAuthFailures: 3 })
    const checked: string[] = []
    const authenticate = srv.backend.authenticate.bind(srv.backend)
    srv.backend.authenticate = (user, password) => {
      checked.push(password)
      return authenticate(user, password)
    }
    const guesser = await RawClient.connect(srv.port)
    guesser.write(['1', '2', '3', '4', '5'].map((n) => `G${n} LOGIN alice guess-${n}\r\n`).join(''))
    await guesser.until((l) => l.startsWith('* BYE') && l.includes('Too many authentication failures'))
    await guesser.closedByServer()
    expect(checked).toEqual(['guess-1', 'guess-2', 'guess-3'])
    expect(guesser.lines.filter((l) => /^G\d /.test(l)).map((l) => l.split(' ')[0])).toEqual(['G1', 'G2', 'G3'])
  })
})
