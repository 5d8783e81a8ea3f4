import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { waitFor } from '@mailweave/testkit'
import { MailNode, silentLogger } from '../src/index.ts'

const secret = new Uint8Array(32).fill(7)
const nodes: MailNode[] = []
const dirs: string[] = []
afterEach(async () => {
  for (const n of nodes.splice(0)) await n.stop()
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

async function start(nodeId: string, slot: number, peers: { id: string; url: string }[]): Promise<MailNode> {
  const dataDir = mkdtempSync(join(tmpdir(), `mw-${nodeId}-`))
  dirs.push(dataDir)
  const node = await MailNode.start({ nodeId, slot, stride: 2, dataDir, host: '127.0.0.1', port: 0, peers, secret }, silentLogger())
  nodes.push(node)
  return node
}

describe('MailNode', () => {
  it('fetches the body of a message learnt from a peer, and ignores a message fact whose hash is not SHA-256 hex', async () => {
    // b has the greater id, so it never dials: the URL it has for a is not used
    const b = await start('b', 1, [{ id: 'a', url: 'http://127.0.0.1:9' }])
    const a = await start('a', 0, [{ id: 'b', url: b.url }])
    await waitFor(() => b.peerStatus()[0]!.state === 'open', 5000, 'a and b linked')
    await a.addUser('ann', 'secret-pw')
    const body = new TextEncoder().encode('Subject: hi\r\n\r\nbody\r\n')
    const hash = createHash('sha256').update(body).digest('hex')
    const h = (await a.openMailbox('ann', 'INBOX'))!
    // what any writer of the document (an edge replica, through a) may put there: a bad hash first
    const fact = (guid: string, key: string) => ['m', guid, 'edge', key, body.length, 0, 1, 0, [], {}]
    h.mailbox.doc.getArray('mailweave.log').push([fact('g1', 'not a hash')])
    await h.append(body)
    h.release()
    await waitFor(async () => (await b.storedBody(hash)) !== undefined, 5000, 'b fetched the body from a')
    expect(await b.storedBody(hash)).toEqual(body)
    expect(await b.storedBody('not a hash')).toBeUndefined()
  })

  it('token for a user name with a dot works at the API and /edge', async () => {
    const a = await start('a', 0, [])
    await a.addUser('john.doe', 'secret-pw')
    const basic = `Basic ${Buffer.from('john.doe:secret-pw').toString('base64')}`
    const issued = await fetch(`${a.url}/api/token`, { method: 'POST', headers: { authorization: basic } })
    expect(issued.status).toBe(200)
    const { token } = (await issued.json()) as { token: string }
    const list = await fetch(`${a.url}/api/mailboxes`, { headers: { authorization: `Bearer ${token}` } })
    expect(list.status).toBe(200)
    // a forged token for another dotted name is still refused
    const forged = token.replace('john.doe', 'john.dot')
    expect((await fetch(`${a.url}/api/mailboxes`, { headers: { authorization: `Bearer ${forged}` } })).status).toBe(401)
    const edgeUrl = (t: string) => `${a.url.replace('http', 'ws')}/edge/${encodeURIComponent('acct/john.doe')}?token=${encodeURIComponent(t)}`
    const outcome = (t: string) =>
      new Promise<string>((resolve) => {
        const ws = new WebSocket(edgeUrl(t))
        ws.once('open', () => (ws.close(), resolve('open')))
        ws.once('unexpected-response', (_req, res) => (ws.terminate(), resolve(String(res.statusCode))))
        ws.once('error', (e) => resolve(`error ${String(e)}`))
      })
    expect(await outcome(token)).toBe('open')
    expect(await outcome(forged)).toBe('401')
  })
})
