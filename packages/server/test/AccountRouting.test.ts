import { mkdtempSync, rmSync } from 'node:fs'
import * as net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ImapFlow } from 'imapflow'
import WebSocket from 'ws'
import { afterEach, describe, expect, it } from 'vitest'
import { LmtpClient, waitFor } from '@mailweave/testkit'
import { adminToken, MailNode, PEERS_ROLE, silentLogger, type NodeConfig } from '../src/index.ts'
import { openFileStorage } from '../src/NodeStorage.ts'
import { secret, startRegionProcess, stopNodesAfterEach } from './helpers/startNode.ts'

stopNodesAfterEach()
import { StaticRegion } from './helpers/staticOwnership.ts'

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

const PASS = { alice: 'pw-alice-1', bob: 'pw-bob-1' } as const
const raw = (id: string) =>
  Buffer.from(`From: t@example.org\r\nTo: bob@example.org\r\nSubject: ${id}\r\nMessage-ID: <${id}@x>\r\n\r\nbody of ${id}\r\n`)

/** A process of region `eu` in its own data directory, with `region`'s ownership. */
async function startProcess(region: StaticRegion, name: string, extra: Partial<NodeConfig> = {}): Promise<MailNode> {
  const node = await startRegionProcess(name, async (dir) => ({ ...(await openFileStorage(dir)), ownership: region.ownership(name) }), {
    lmtp: { host: '127.0.0.1', port: 0 },
    ...extra,
  })
  // the user directory is shared by a region's processes (one database): here each process is told
  for (const [u, p] of Object.entries(PASS)) await node.addUser(u, p)
  return node
}

const portOf = (url: string | undefined) => Number(/:(\d+)$/.exec(url ?? '')?.[1])

function imap(node: MailNode, user: keyof typeof PASS, pass: string = PASS[user]): ImapFlow {
  const c = new ImapFlow({ host: '127.0.0.1', port: portOf(node.imapUrl), secure: false, auth: { user, pass }, logger: false })
  c.on('error', () => undefined)
  cleanups.push(() => c.close())
  return c
}

async function token(node: MailNode, user: keyof typeof PASS): Promise<string> {
  const r = await fetch(`${node.url}/api/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${user}:${PASS[user]}`).toString('base64')}` },
  })
  return ((await r.json()) as { token: string }).token
}

async function status(
  node: MailNode,
): Promise<{ region: { process: string; ownedAccounts: string[]; peersRole: boolean; forwarded: number } }> {
  const r = await fetch(`${node.url}/api/status`, { headers: { authorization: `Bearer ${adminToken(secret)}` } })
  return (await r.json()) as never
}

/** Subjects of the messages of `user`'s INBOX as the process `node` holds them. */
async function subjects(node: MailNode, user: string): Promise<string[]> {
  const h = (await node.openMailbox(user, 'INBOX'))!
  try {
    const out: string[] = []
    for (const m of h.mailbox.view().messages) out.push(/Subject: (\S+)/.exec(Buffer.from((await h.body(m.guid))!).toString())?.[1] ?? '?')
    return out
  } finally {
    h.release()
  }
}

describe('a region of two processes: each account served by its owner, the other forwards', () => {
  it('IMAP at the non-owner: a wrong password is refused there, LOGIN is replayed at the owner, SELECT/APPEND/FETCH/IDLE go through the proxy', async () => {
    const region = new StaticRegion('n1', { bob: 'n2' })
    const n1 = await startProcess(region, 'n1')
    const n2 = await startProcess(region, 'n2')

    // the password is checked where the client connected: a wrong one never reaches the owner
    const wrong = imap(n1, 'bob', 'not-the-password')
    await expect(wrong.connect()).rejects.toThrow()
    expect(region.routed.get('bob') ?? 0).toBe(0)

    const c = imap(n1, 'bob')
    await c.connect()
    expect(c.capabilities.has('UIDPLUS')).toBe(true)
    const box = await c.mailboxOpen('INBOX')
    expect(box.exists).toBe(0)
    const appended = await c.append('INBOX', raw('one'), ['\\Seen'])
    expect(appended && appended.uid).toBeGreaterThan(0)
    // stored by the owner, not by the process the client talks to
    expect(await subjects(n2, 'bob')).toEqual(['one'])
    await expect(n1.openMailbox('bob', 'INBOX')).rejects.toThrow(/served by another process/)
    const fetched: string[] = []
    for await (const m of c.fetch('1:*', { uid: true, source: true, flags: true })) {
      fetched.push(`${m.uid} ${[...(m.flags ?? [])].join(',')} ${/Subject: (\S+)/.exec(m.source!.toString())?.[1]}`)
    }
    expect(fetched).toEqual([`${appended && appended.uid} \\Seen one`])
    // IDLE through the proxy: a message the owner gets from elsewhere is announced
    const exists: number[] = []
    c.on('exists', (e: { count: number }) => exists.push(e.count))
    void c.idle().catch(() => undefined)
    const h = (await n2.openMailbox('bob', 'INBOX'))!
    await h.append(raw('two'))
    h.release()
    await waitFor(() => exists.includes(2), 15_000, 'EXISTS 2 through the proxy')
    await c.logout()
    // commands pipelined behind LOGIN (one with a literal) reach the owner in order
    const sock = net.connect(portOf(n1.imapUrl), '127.0.0.1')
    cleanups.push(() => void sock.destroy())
    let text = ''
    sock.on('data', (d: Buffer) => (text += d.toString('latin1')))
    await waitFor(() => text.includes('\r\n'), 10_000, 'the greeting')
    sock.write(`a LOGIN bob {${PASS.bob.length}+}\r\n${PASS.bob}\r\nb SELECT INBOX\r\nc UID FETCH 1:* (FLAGS)\r\nd LOGOUT\r\n`)
    await waitFor(() => /\r\nd OK/.test(text), 10_000, 'the pipelined commands answered')
    expect(text).toMatch(/\r\na OK \[CAPABILITY [^\]]*UIDPLUS/)
    expect(text).toMatch(/\* 2 EXISTS\r\n[^]*\r\nb OK \[READ-WRITE\]/)
    expect(text.match(/\* \d+ FETCH/g)).toHaveLength(2)
    // alice is served by n1 itself
    const a = imap(n1, 'alice')
    await a.connect()
    await a.mailboxOpen('INBOX')
    await a.append('INBOX', raw('mine'))
    expect(await subjects(n1, 'alice')).toEqual(['mine'])
    await a.logout()
  }, 60_000)

  it('HTTP API requests and /edge upgrades at the non-owner go to the owner; an LMTP delivery there lands at the owner', async () => {
    const region = new StaticRegion('n1', { bob: 'n2' })
    const n1 = await startProcess(region, 'n1')
    const n2 = await startProcess(region, 'n2')
    const t = await token(n1, 'bob')
    const auth = { authorization: `Bearer ${t}` }
    const created = await fetch(`${n1.url}/api/mailboxes`, { method: 'POST', headers: auth, body: JSON.stringify({ name: 'Work' }) })
    expect(created.status).toBe(201)
    const posted = await fetch(`${n1.url}/api/mailboxes/INBOX/messages?flags=%5CFlagged`, {
      method: 'POST',
      headers: auth,
      body: raw('api'),
    })
    expect(posted.status).toBe(201)
    expect(await subjects(n2, 'bob')).toEqual(['api'])
    const listed = (await (await fetch(`${n1.url}/api/mailboxes`, { headers: auth })).json()) as { mailboxes: { name: string }[] }
    expect(listed.mailboxes.map((m) => m.name).sort()).toEqual(['INBOX', 'Work'])
    // Basic credentials are forwarded as they are
    const basic = await fetch(`${n1.url}/api/mailboxes/INBOX`, {
      headers: { authorization: `Basic ${Buffer.from(`bob:${PASS.bob}`).toString('base64')}` },
    })
    expect(((await basic.json()) as { messages: unknown[] }).messages).toHaveLength(1)
    expect((await status(n1)).region.forwarded).toBeGreaterThanOrEqual(4)

    // an edge socket for bob's account doc, opened at n1, is served by n2
    const ws = new WebSocket(`${n1.url.replace('http', 'ws')}/edge/acct/bob?token=${t}`)
    const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)))
    ws.on('error', () => undefined)
    await new Promise((resolve) => ws.once('message', resolve))
    const edges = async (n: MailNode) =>
      (
        (await (await fetch(`${n.url}/api/status`, { headers: { authorization: `Bearer ${adminToken(secret)}` } })).json()) as {
          edgeConnections: number
        }
      ).edgeConnections
    expect(await edges(n2)).toBe(1)
    expect(await edges(n1)).toBe(0)

    // LMTP at n1: bob's copy goes through n2 (its 250 after n2 stored it), alice's stays at n1
    const lmtp = await LmtpClient.connect(portOf(n1.lmtpUrl))
    cleanups.push(() => lmtp.destroy())
    await lmtp.command('LHLO test')
    const sent = await lmtp.send('x@example.org', ['bob@example.org', 'alice@example.org'], raw('mail').toString())
    expect(sent.data.map((r) => r.code)).toEqual([250, 250])
    expect(await subjects(n2, 'bob')).toEqual(['api', 'mail'])
    expect(await subjects(n1, 'alice')).toEqual(['mail'])

    // the owner loses bob: its edge socket is closed (reconnecting is right)
    region.move('bob', 'n1')
    expect(await closed).toBe(1001)
  }, 60_000)

  it('onLost closes the account IMAP sessions with BYE, and a reconnect is routed to the new owner; the mail store refuses the lost account', async () => {
    const region = new StaticRegion('n1', { bob: 'n2' })
    const n1 = await startProcess(region, 'n1')
    const n2 = await startProcess(region, 'n2')
    const c = imap(n2, 'bob')
    await c.connect()
    await c.mailboxOpen('INBOX')
    await c.append('INBOX', raw('before'))
    let closed = false
    c.on('close', () => (closed = true))
    void c.idle().catch(() => undefined)
    expect((await status(n2)).region.ownedAccounts).toEqual(['bob'])

    region.move('bob', 'n1')
    await waitFor(() => closed, 15_000, 'the session at the old owner to end')
    expect((await status(n2)).region.ownedAccounts).toEqual([])
    await expect(n2.openMailbox('bob', 'INBOX')).rejects.toThrow(/served by another process/)

    // the client reconnects where it was: n2 now proxies to n1
    const again = imap(n2, 'bob')
    await again.connect()
    await again.mailboxOpen('INBOX')
    await again.append('INBOX', raw('after'))
    expect(await subjects(n1, 'bob')).toEqual(['after'])
    await again.logout()
  }, 60_000)

  it('/peer upgrades go to the process holding the peers role, and the links move with it', async () => {
    const region = new StaticRegion('n1')
    const apData = mkdtempSync(join(tmpdir(), 'mw-route-ap-'))
    // ap dials eu (the smaller id dials) at n2's address only; n2 forwards to the peers process
    let n2url = ''
    const n1 = await startProcess(region, 'n1', { peers: [{ id: 'ap', url: 'http://127.0.0.1:1' }] })
    const n2 = await startProcess(region, 'n2', { peers: [{ id: 'ap', url: 'http://127.0.0.1:1' }] })
    n2url = n2.url
    const ap = await MailNode.start(
      { nodeId: 'ap', slot: 1, stride: 2, dataDir: apData, host: '127.0.0.1', port: 0, peers: [{ id: 'eu', url: n2url }], secret },
      silentLogger(),
    )
    cleanups.push(async () => {
      await ap.stop()
      rmSync(apData, { recursive: true, force: true })
    })
    await waitFor(() => ap.peerStatus().some((p) => p.id === 'eu' && p.state === 'open'), 20_000, 'ap-eu link through n2')
    expect(n1.peerStatus().map((p) => p.id)).toEqual(['ap'])
    expect(n2.peerStatus()).toEqual([])
    expect((await status(n1)).region.peersRole).toBe(true)
    expect((await status(n2)).region.peersRole).toBe(false)

    region.move(PEERS_ROLE, 'n2')
    await waitFor(() => n1.peerStatus().length === 0, 10_000, 'n1 to stop its links')
    await waitFor(() => n2.peerStatus().some((p) => p.id === 'ap' && p.state === 'open'), 30_000, 'n2 to run the link')
    await waitFor(() => ap.peerStatus().some((p) => p.id === 'eu' && p.state === 'open'), 30_000, 'ap-eu link again, now served by n2')
    expect((await status(n2)).region.peersRole).toBe(true)
  }, 90_000)
})
