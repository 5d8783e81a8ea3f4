import { ImapFlow } from 'imapflow'
import { afterEach, describe, expect, it } from 'vitest'
import { usePostgresServer, waitFor } from '@mailweave/testkit'
import { PgStorage } from '@mailweave/storage-postgres'
import type { MailNode } from '../src/index.ts'
import { startRegionProcess, stopNodesAfterEach } from './helpers/startNode.ts'

stopNodesAfterEach()

const server = usePostgresServer()
const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** A process of region `eu` on the shared database. */
function startProcess(url: string, name: string): Promise<MailNode> {
  return startRegionProcess(name, () => PgStorage.open({ url, process: name, leaseTtlMs: 3000 }))
}

const portOf = (url: string | undefined) => Number(/:(\d+)$/.exec(url ?? '')?.[1])

async function login(node: MailNode): Promise<ImapFlow> {
  const c = new ImapFlow({
    host: '127.0.0.1',
    port: portOf(node.imapUrl),
    secure: false,
    auth: { user: 'alice', pass: 'pw-alice-1' },
    logger: false,
  })
  c.on('error', () => undefined)
  cleanups.push(() => c.close())
  await c.connect()
  return c
}

describe('two processes of one region on one PostgreSQL (account leases)', () => {
  it('LOGIN works at either process, an APPEND at one is read through the other, only one of them owns the account, and when it stops the other takes the account over', async () => {
    const url = await server().createDatabase('route_two')
    const a = await startProcess(url, 'eu-a')
    const b = await startProcess(url, 'eu-b')
    await a.addUser('alice', 'pw-alice-1')
    // the users document is shared through the database
    await waitFor(() => b.hasUser('alice'), 20_000, 'eu-b to see alice')

    const atA = await login(a)
    await atA.mailboxOpen('INBOX')
    const appended = await atA.append('INBOX', Buffer.from('Subject: via-a\r\nMessage-ID: <a@x>\r\n\r\nhello\r\n'))
    expect(appended && appended.uid).toBeGreaterThan(0)

    const atB = await login(b)
    await atB.mailboxOpen('INBOX')
    const seen: string[] = []
    for await (const m of atB.fetch('1:*', { uid: true, source: true }))
      seen.push(`${m.uid} ${/Subject: (\S+)/.exec(m.source!.toString())?.[1]}`)
    expect(seen).toEqual([`${appended && appended.uid} via-a`])

    const owners = [a, b].filter((n) => (n.status().region as { ownedAccounts: string[] }).ownedAccounts.includes('alice'))
    expect(owners).toHaveLength(1)
    await atA.logout()
    await atB.logout()
    // the owner stops (releasing its leases): the other process takes the account and serves it
    const owner = owners[0]!
    const other = owner === a ? b : a
    await owner.stop()
    const again = await login(other)
    await again.mailboxOpen('INBOX')
    await again.append('INBOX', Buffer.from('Subject: after\r\nMessage-ID: <b@x>\r\n\r\nhello\r\n'))
    const after: string[] = []
    for await (const m of again.fetch('1:*', { uid: true, source: true }))
      after.push(/Subject: (\S+)/.exec(m.source!.toString())?.[1] ?? '?')
    expect(after).toEqual(['via-a', 'after'])
    expect((other.status().region as { ownedAccounts: string[] }).ownedAccounts).toContain('alice')
    await again.logout()
  }, 120_000)
})
