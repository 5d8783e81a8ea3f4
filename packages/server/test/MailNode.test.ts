import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { MemoryBlobStore } from '@mailweave/core'
import { MailNode, silentLogger, type SeparateBlobStore } from '../src/index.ts'
import { WebSocket } from 'ws'
import { waitFor } from '@mailweave/testkit'
import { secret, startNode, stopNodesAfterEach } from './helpers/startNode.ts'

stopNodesAfterEach()

const start = (nodeId: string, slot: number, peers: { id: string; url: string }[]) => startNode({ nodeId, slot, stride: 2, peers })

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
    const edgeUrl = (t: string) =>
      `${a.url.replace('http', 'ws')}/edge/${encodeURIComponent('acct/john.doe')}?token=${encodeURIComponent(t)}`
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

  it('keeps bodies in NodeConfig.blobs, not in the file storage, across a restart, and closes that store on stop', async () => {
    class Bucket extends MemoryBlobStore implements SeparateBlobStore {
      readonly description = 'a test bucket'
      closed = 0
      async close(): Promise<void> {
        this.closed++
      }
    }
    const bucket = new Bucket()
    const dataDir = mkdtempSync(join(tmpdir(), 'mw-blobs-'))
    const base = { nodeId: 'a', slot: 0, stride: 1, peers: [], dataDir, host: '127.0.0.1', port: 0, secret }
    try {
      let node = await MailNode.start({ ...base, blobs: bucket }, silentLogger())
      await node.addUser('bo', 'secret-pw')
      const body = new TextEncoder().encode('Subject: kept apart\r\n\r\nbody\r\n')
      const hash = createHash('sha256').update(body).digest('hex')
      const h = (await node.openMailbox('bo', 'INBOX'))!
      await h.append(body)
      h.release()
      expect(bucket.size).toBe(1)
      await node.stop()
      expect(bucket.closed).toBe(1)
      // the file storage alone never got the body
      node = await MailNode.start(base, silentLogger())
      expect(await node.storedBody(hash)).toBeUndefined()
      await node.stop()
      node = await MailNode.start({ ...base, blobs: bucket }, silentLogger())
      expect(await node.storedBody(hash)).toEqual(body)
      await node.stop()
    } finally {
      rmSync(dataDir, { recursive: true, force: true })
    }
  })
})
