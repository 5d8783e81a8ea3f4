import { describe, expect, it } from 'vitest'
import * as net from 'node:net'
import WebSocket from 'ws'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import { ACCOUNT_LOG, edgeClientId, MAILBOX_LOG } from '@mailweave/core'
import { waitFor } from '@mailweave/testkit'
import type { MailNode } from '../src/index.ts'
import { startNode, stopNodesAfterEach } from './helpers/startNode.ts'
import { writeRawItem } from '../../core/test/helpers/rawItems.ts'

stopNodesAfterEach()

async function start(maxMessageBytes?: number, imap = false): Promise<{ node: MailNode; token: string }> {
  const node = await startNode({
    nodeId: 'n',
    slot: 0,
    stride: 1,
    peers: [],
    maxMessageBytes,
    ...(imap ? { imap: { host: '127.0.0.1', port: 0 } } : {}),
  })
  await node.addUser('ann', 'pw-ann-1')
  const issued = await fetch(`${node.url}/api/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from('ann:pw-ann-1').toString('base64')}` },
  })
  return { node, token: ((await issued.json()) as { token: string }).token }
}

/** A y-websocket sync message carrying `update`. */
function updateMessage(update: Uint8Array): Uint8Array {
  const enc = encoding.createEncoder()
  encoding.writeVarUint(enc, 0) // sync
  encoding.writeVarUint(enc, 2) // update
  encoding.writeVarUint8Array(enc, update)
  return encoding.toUint8Array(enc)
}

/** Sends one update to `/edge/<doc>` and resolves with the close code (or 0 if still open after it was applied). */
function sendUpdate(node: MailNode, token: string, docName: string, update: Uint8Array): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${node.url.replace('http', 'ws')}/edge/${docName}?token=${token}`)
    ws.on('error', reject)
    ws.on('close', (code) => resolve(code))
    ws.once('message', () => ws.send(updateMessage(update)))
  })
}

describe('EdgeServer', () => {
  it('EdgeServerOptions.maxMessageBytes is never used: a 40 MiB update from an edge is refused with 1009 and nothing is stored', async () => {
    const { node, token } = await start()
    const doc = new Y.Doc()
    doc.clientID = edgeClientId()
    doc.getArray(MAILBOX_LOG).push([['m', 'a'.repeat(32), 'e', 'b'.repeat(64), 5, 0, 1, 0, [], { subject: 'x'.repeat(40 * 1024 * 1024) }]])
    const code = await sendUpdate(node, token, 'mbox/ann/INBOX', Y.encodeStateAsUpdate(doc))
    expect(code).toBe(1009)
    const h = (await node.openMailbox('ann', 'INBOX'))!
    expect(h.mailbox.view().messages).toEqual([])
    expect(h.mailbox.strandedCount).toBe(0)
    h.release()
    // a configured limit applies too, and an update within it is accepted
    const small = await start(64 * 1024)
    const ok = new Y.Doc()
    ok.clientID = edgeClientId()
    ok.getArray(MAILBOX_LOG).push([['x', 'a'.repeat(32), 'e']])
    const big = new Y.Doc()
    big.clientID = edgeClientId()
    big.getArray(MAILBOX_LOG).push([['m', 'c'.repeat(32), 'e', 'b'.repeat(64), 5, 0, 1, 0, [], { subject: 'x'.repeat(100 * 1024) }]])
    expect(await sendUpdate(small.node, small.token, 'mbox/ann/INBOX', Y.encodeStateAsUpdate(big))).toBe(1009)
    const ws = new WebSocket(`${small.node.url.replace('http', 'ws')}/edge/mbox/ann/INBOX?token=${small.token}`)
    ws.once('message', () => ws.send(updateMessage(Y.encodeStateAsUpdate(ok))))
    const h2 = (await small.node.openMailbox('ann', 'INBOX'))!
    await waitFor(
      () =>
        h2.mailbox.doc
          .getArray(MAILBOX_LOG)
          .toArray()
          .some((f) => JSON.stringify(f) === JSON.stringify(['x', 'a'.repeat(32), 'e'])),
      10_000,
      'the small update applied',
    )
    h2.release()
    ws.close()
  }, 60_000)

  it('other Yjs content types bypass the edge check, and client-id squatting: both close with UPDATE_REJECTED and change nothing', async () => {
    const { node, token } = await start()
    const h = (await node.openMailbox('ann', 'INBOX'))!
    await h.append(new TextEncoder().encode('Subject: hi\r\n\r\nbody\r\n')) // the node wrote under its client id
    const doc = h.mailbox.doc
    const before = Y.encodeStateVector(doc)
    const json = new Y.Doc()
    json.clientID = edgeClientId()
    writeRawItem(json, MAILBOX_LOG, new Y.ContentJSON([['r', 'X', 4294967295]]))
    expect(await sendUpdate(node, token, 'mbox/ann/INBOX', Y.encodeStateAsUpdate(json))).toBe(4003)
    const squat = new Y.Doc()
    Y.applyUpdate(squat, Y.encodeStateAsUpdate(doc))
    writeRawItem(squat, MAILBOX_LOG, new Y.ContentAny([['x', 'e'.repeat(32), 'e']]), { client: doc.clientID })
    expect(await sendUpdate(node, token, 'mbox/ann/INBOX', Y.encodeStateAsUpdate(squat, before))).toBe(4003)
    expect(Y.encodeStateVector(doc)).toEqual(before)
    expect(h.mailbox.view().messages).toHaveLength(1)
    h.release()
  }, 30_000)

  it('account documents are not validated: an entry with a numeric name or an id like ../../x is refused, and IMAP LIST answers OK', async () => {
    const { node, token } = await start(undefined, true)
    for (const fact of [
      ['mb', 'a'.repeat(24), 42, 7, 1, 'e'],
      ['mb', '../../x', 'Evil', 7, 1, 'e'],
    ]) {
      const d = new Y.Doc()
      d.clientID = edgeClientId()
      d.getArray(ACCOUNT_LOG).push([fact])
      expect(await sendUpdate(node, token, 'acct/ann', Y.encodeStateAsUpdate(d))).toBe(4003)
    }
    // a valid entry from an edge is accepted and listed
    const ok = new Y.Doc()
    ok.clientID = edgeClientId()
    ok.getArray(ACCOUNT_LOG).push([['mb', 'b'.repeat(24), 'FromEdge', 7, 1, 'e']])
    const ws = new WebSocket(`${node.url.replace('http', 'ws')}/edge/acct/ann?token=${token}`)
    ws.once('message', () => ws.send(updateMessage(Y.encodeStateAsUpdate(ok))))
    const socket = net.connect(Number(new URL(node.imapUrl!).port), '127.0.0.1')
    let text = ''
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')))
    await waitFor(
      async () => {
        text = ''
        socket.write('a LOGIN ann pw-ann-1\r\nb LIST "" "*"\r\n')
        await waitFor(() => /\r\nb (OK|NO|BAD)[^\r\n]*\r\n$/.test(text), 10_000, 'the LIST response')
        return text.includes('FromEdge')
      },
      10_000,
      'the valid entry listed',
    )
    expect(text).toMatch(/\r\nb OK/)
    expect(text).not.toMatch(/Evil|SERVERBUG/)
    socket.destroy()
    ws.close()
  }, 30_000)
})
