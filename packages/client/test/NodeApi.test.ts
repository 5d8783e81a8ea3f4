import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { adminToken, MailNode, silentLogger } from '@mailweave/server'
import { freePort } from '@mailweave/testkit'
import { ApiError, NodeApi } from '../src/index.ts'

const secret = new Uint8Array(32).fill(3)
let node: MailNode
let dir: string

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mw-client-'))
  node = await MailNode.start(
    { nodeId: 'eu', slot: 0, stride: 1, dataDir: dir, host: '127.0.0.1', port: 0, peers: [], secret, maxMessageBytes: 1024 },
    silentLogger(),
  )
})
afterAll(async () => {
  await node.stop()
  rmSync(dir, { recursive: true, force: true })
})

const failure = (p: Promise<unknown>) =>
  p.then(
    () => expect.fail('resolved'),
    (e: unknown) => e as ApiError,
  )

describe('NodeApi', () => {
  it('does what a user does: admin creates the user, the user gets a token, appends, reads, flags, expunges, fetches bodies', async () => {
    const admin = new NodeApi(node.url + '/', { token: adminToken(secret) })
    expect(admin.url).toBe(node.url)
    await admin.setPassword('ann', 'pw-of-ann')
    expect((await admin.status<{ node: { nodeId: string } }>()).node.nodeId).toBe('eu')
    const api = new NodeApi(node.url, { token: await new NodeApi(node.url, { user: 'ann', password: 'pw-of-ann' }).token() })
    expect((await api.mailboxes()).map((m) => m.name)).toEqual(['INBOX'])
    expect((await api.createMailbox('Archive')).name).toBe('Archive')
    const raw = 'Subject: hello\r\n\r\nbody\r\n'
    const guid = await api.append('Archive', raw, { flags: ['\\Seen'], internalDate: new Date(1_700_000_000_000) })
    const listing = await api.readMailbox('Archive')
    expect(listing.messages).toEqual([{ uid: 1, guid, flags: ['\\Seen'] }])
    expect((await api.message('Archive', guid))?.internalDate).toBe('2023-11-14T22:13:20.000Z')
    expect(await api.message('Archive', 'f'.repeat(32))).toBeUndefined()
    expect(new TextDecoder().decode(await api.raw('Archive', guid))).toBe(raw)
    expect(await api.raw('Archive', 'f'.repeat(32))).toBeUndefined()
    await api.setFlags('Archive', guid, { add: ['\\Flagged'], remove: ['\\Seen'] })
    expect((await api.readMailbox('Archive')).messages[0]!.flags).toEqual(['\\Flagged'])
    await api.expunge('Archive', [guid])
    expect((await api.readMailbox('Archive')).messages).toEqual([])
    const body = new TextEncoder().encode('a body')
    await api.putBlob(createHash('sha256').update(body).digest('hex'), body)
    expect((await api.inspect('ann', 'Archive')).mailbox.name).toBe('Archive')
    expect(await new NodeApi(node.url).metrics()).toContain('mailweave_')
  })

  it('names the cause: a wrong password, a refused request, a node-side error, an unreachable node', async () => {
    await new NodeApi(node.url, { token: adminToken(secret) }).setPassword('bea', 'pw-of-bea')
    const wrong = await failure(new NodeApi(node.url, { user: 'bea', password: 'nope' }).token())
    expect(wrong).toBeInstanceOf(ApiError)
    expect(wrong).toMatchObject({ code: 'UNAUTHORIZED', status: 401 })
    const bea = new NodeApi(node.url, { user: 'bea', password: 'pw-of-bea' })
    expect(await failure(bea.inspect('ann', 'INBOX'))).toMatchObject({ code: 'UNAUTHORIZED', status: 403 })
    const tooLarge = await failure(bea.append('INBOX', 'x'.repeat(2048)))
    expect(tooLarge).toMatchObject({ code: 'HTTP', status: 413 })
    expect(tooLarge.message).toMatch(/^POST \/api\/mailboxes\/INBOX\/messages\?flags=: 413 .*limit/)
    const badHash = await failure(bea.putBlob('0'.repeat(64), new TextEncoder().encode('bytes')))
    expect(badHash).toMatchObject({ code: 'HTTP', status: 400, nodeCode: 'BAD_REQUEST' })
    expect(badHash.message).toMatch(/hashes to/)
    expect((await bea.call('GET', '/api/mailboxes/Nope')).status).toBe(404)
    const port = await freePort()
    const offline = await failure(new NodeApi(`http://127.0.0.1:${port}`, { user: 'bea', password: 'x' }).token())
    expect(offline).toMatchObject({ code: 'OFFLINE' })
    expect(offline.message).toBe(`cannot reach http://127.0.0.1:${port} (ECONNREFUSED)`)
  })
})
