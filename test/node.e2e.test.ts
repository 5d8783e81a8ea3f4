import { randomBytes } from 'node:crypto'
import { appendFileSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { ModelClient, waitFor } from '@mailweave/testkit'
import { adminToken } from '@mailweave/server'
import { NodeApi } from '@mailweave/client'
import { NodeProcess } from '@mailweave/testkit-cluster'

const msg = (tag: string) => `From: e2e@example.org\r\nSubject: ${tag}\r\n\r\nbody ${tag}\r\n`

async function singleNode(dir: string, secret = randomBytes(32).toString('hex')) {
  const secretFile = join(dir, 'secret')
  writeFileSync(secretFile, secret)
  const node = new NodeProcess({ nodeId: 'N0', slot: 0, stride: 3, dataDir: join(dir, 'N0'), port: 0, secretFile })
  await node.start()
  const admin = { authorization: `Bearer ${adminToken(new TextEncoder().encode(secret))}`, 'content-type': 'application/json' }
  return { node, secret, secretFile, admin }
}

describe('a single node process', () => {
  let dir: string
  let ctx: Awaited<ReturnType<typeof singleNode>>
  let alice: NodeApi
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mailweave-node-'))
    ctx = await singleNode(dir)
    for (const [name, password] of [
      ['alice', 'wonderland'],
      ['bob', 'builder1'],
    ]) {
      const r = await fetch(ctx.node.url + '/api/admin/users', {
        method: 'POST',
        headers: ctx.admin,
        body: JSON.stringify({ name, password }),
      })
      expect(r.status).toBe(200)
    }
    alice = new NodeApi(ctx.node.url, { user: 'alice', password: 'wonderland' })
  }, 60_000)
  afterAll(async () => {
    await ctx?.node.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('loses no acknowledged message and reuses no UID across SIGKILL', async () => {
    const client = new ModelClient('killed-node client')
    client.sync(await alice.readMailbox('INBOX'))
    const acked: string[] = []
    let stop = false
    // four writers keep appends in flight while the process dies
    const writers = Array.from({ length: 4 }, async (_, w) => {
      for (let k = 0; !stop && k < 500; k++) {
        try {
          acked.push(await alice.append('INBOX', msg(`stream-${w}-${k}`)))
        } catch {
          return // the node died under this request: not acknowledged
        }
      }
    })
    await waitFor(() => acked.length >= 40, 30_000, '40 acknowledged appends')
    client.sync(await alice.readMailbox('INBOX'))
    await ctx.node.kill()
    stop = true
    await Promise.all(writers)
    expect(existsSync(join(ctx.node.o.dataDir, 'running'))).toBe(true) // how the restart knows the stop was not clean
    await ctx.node.start()
    await waitFor(() => /last stop was not clean/.test(ctx.node.stderr), 5000, 'a log line about the unclean stop')
    const after = await alice.readMailbox('INBOX')
    const guids = new Set(after.messages.map((m) => m.guid))
    for (const g of acked) expect(guids.has(g)).toBe(true)
    client.sync(after) // S1..S5 across the crash: no reuse, no hidden arrival, UIDNEXT monotone
    const g = await alice.append('INBOX', msg('after-restart'))
    const again = await alice.readMailbox('INBOX')
    client.sync(again)
    expect(again.messages.at(-1)!.guid).toBe(g)
  }, 90_000)

  it('drops a corrupt tail record, logs it, and keeps everything before it', async () => {
    const before = await alice.readMailbox('INBOX')
    await ctx.node.stop()
    expect(existsSync(join(ctx.node.o.dataDir, 'running'))).toBe(false)
    const docs = join(ctx.node.o.dataDir, 'docs')
    const file = readdirSync(docs).find((f) => f.startsWith('mbox'))!
    appendFileSync(join(docs, file), Buffer.from([0, 0, 0, 40, 1, 2, 3, 4, 5, 6, 7]))
    await ctx.node.start()
    const after = await alice.readMailbox('INBOX')
    expect(after.messages.map((m) => m.guid)).toEqual(before.messages.map((m) => m.guid))
    await waitFor(() => /torn|corrupt/i.test(ctx.node.stderr), 5000, 'a log line about the dropped tail')
    await alice.append('INBOX', msg('after-corruption'))
    expect((await alice.readMailbox('INBOX')).messages.length).toBe(before.messages.length + 1)
  }, 60_000)

  it('refuses wrong passwords, forged tokens, other accounts and oversized messages with clear errors', async () => {
    // a wrong password is answered after the node's delay; other requests meanwhile are not held up
    const t0 = performance.now()
    let wrongDone = 0
    const wrong = new NodeApi(ctx.node.url, { user: 'alice', password: 'nope' }).call('GET', '/api/mailboxes').then((r) => {
      wrongDone = performance.now()
      return r
    })
    expect((await new NodeApi(ctx.node.url, { user: 'bob', password: 'builder1' }).call('GET', '/api/mailboxes')).status).toBe(200)
    const rightDone = performance.now()
    expect((await wrong).status).toBe(401)
    expect(wrongDone - t0).toBeGreaterThanOrEqual(990)
    expect(rightDone).toBeLessThan(wrongDone)
    const forged = await fetch(ctx.node.url + '/api/mailboxes', { headers: { authorization: 'Bearer v1.alice.9999999999.AAAA' } })
    expect(forged.status).toBe(401)
    const bob = new NodeApi(ctx.node.url, { user: 'bob', password: 'builder1' })
    expect((await bob.call('GET', '/api/inspect/alice/INBOX')).status).toBe(403)
    expect((await bob.readMailbox('INBOX')).messages).toEqual([]) // bob sees only his own INBOX
    const big = new Uint8Array(51 * 1024 * 1024)
    const r = await alice.call('POST', '/api/mailboxes/INBOX/messages', undefined, big)
    expect(r.status).toBe(413)
    expect(r.data.message).toMatch(/exceeds the limit/)
    expect((await fetch(ctx.node.url + '/api/status')).status).toBe(401)
  }, 60_000)

  it('an edge token reaches only its own account, and garbage on the peer endpoint is closed with a named code', async () => {
    const { token } = (await new NodeApi(ctx.node.url, { user: 'bob', password: 'builder1' }).call('POST', '/api/token')).data as {
      token: string
    }
    const wsUrl = ctx.node.url.replace('http', 'ws')
    const refused = await new Promise<number>((res) => {
      const ws = new WebSocket(`${wsUrl}/edge/acct/alice?token=${token}`)
      ws.on('unexpected-response', (_req, resp) => res(resp.statusCode ?? 0))
      ws.on('open', () => res(101))
    })
    expect(refused).toBe(403)
    const own = await new Promise<number>((res) => {
      const ws = new WebSocket(`${wsUrl}/edge/acct/bob?token=${token}`)
      ws.on('open', () => {
        ws.close()
        res(101)
      })
      ws.on('unexpected-response', (_req, resp) => res(resp.statusCode ?? 0))
    })
    expect(own).toBe(101)
    // a node without peers has no /peer endpoint; a malformed edge message is closed with PROTOCOL_ERROR
    const code = await new Promise<number>((res) => {
      const ws = new WebSocket(`${wsUrl}/edge/acct/bob?token=${token}`)
      ws.on('open', () => ws.send(Buffer.from([7, 7, 7, 7])))
      ws.on('close', (c) => res(c))
    })
    expect(code).toBe(4000)
    expect((await fetch(ctx.node.url + '/healthz')).status).toBe(200)
  }, 30_000)
})
