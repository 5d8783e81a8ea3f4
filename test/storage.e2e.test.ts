import { randomBytes } from 'node:crypto'
import {
  mkdtempSync,
  readFileSync,
  truncateSync,
  openSync,
  readdirSync,
  readSync,
  rmSync,
  statSync,
  writeSync,
  closeSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { adminToken } from '@mailweave/server'
import { ModelClient, freePort, waitFor } from '@mailweave/testkit'
import { NodeApi } from '@mailweave/client'
import { NodeProcess } from '@mailweave/testkit-cluster'

const dirs: string[] = []
const nodes: NodeProcess[] = []
afterEach(async () => {
  for (const n of nodes.splice(0)) await n.kill()
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mailweave-storage-'))
  dirs.push(dir)
  writeFileSync(join(dir, 'secret'), randomBytes(32).toString('hex'))
  return dir
}

async function nodeOn(dir: string, dataDir: string, nodeId = 'N0', slot = 0): Promise<NodeProcess> {
  const node = new NodeProcess({ nodeId, slot, stride: 3, dataDir, port: await freePort(), secretFile: join(dir, 'secret'), peers: [] })
  nodes.push(node)
  return node
}

/**
 * Two peered node processes `a` (slot 0) and `b` (slot 1) of stride 4 on their own data
 * directories; `alice` is added at `addAt` and known at the other before this resolves.
 */
async function peeredPair(addAt: 'a' | 'b') {
  const dir = tempDir()
  const secret = readFileSync(join(dir, 'secret'), 'utf8')
  const [portA, portB] = [await freePort(), await freePort()]
  const common = { stride: 4, secretFile: join(dir, 'secret') }
  const a = new NodeProcess({
    ...common,
    nodeId: 'a',
    slot: 0,
    dataDir: join(dir, 'a'),
    port: portA,
    peers: [{ id: 'b', url: `http://127.0.0.1:${portB}` }],
  })
  const b = new NodeProcess({
    ...common,
    nodeId: 'b',
    slot: 1,
    dataDir: join(dir, 'b'),
    port: portB,
    peers: [{ id: 'a', url: `http://127.0.0.1:${portA}` }],
  })
  nodes.push(a, b)
  await Promise.all([a.start(), b.start()])
  const admin = { authorization: `Bearer ${adminToken(new TextEncoder().encode(secret))}`, 'content-type': 'application/json' }
  const [added, other] = addAt === 'a' ? [a, b] : [b, a]
  expect(
    (
      await fetch(added.url + '/api/admin/users', {
        method: 'POST',
        headers: admin,
        body: JSON.stringify({ name: 'alice', password: 'wonderland' }),
      })
    ).status,
  ).toBe(200)
  const atA = new NodeApi(a.url, { user: 'alice', password: 'wonderland' })
  const atB = new NodeApi(b.url, { user: 'alice', password: 'wonderland' })
  const atOther = other === a ? atA : atB
  await waitFor(async () => (await atOther.call('GET', '/api/mailboxes/INBOX')).status === 200, 30_000, `alice known at ${other.o.nodeId}`)
  return { dir, a, b, atA, atB }
}

describe('storage and process boundaries', () => {
  it('two processes on one data directory: the second refuses to start, and a SIGKILLed holder does not block a restart', async () => {
    const dir = tempDir()
    const data = join(dir, 'data')
    const first = await (await nodeOn(dir, data)).start()
    const second = await nodeOn(dir, data, 'N1', 1)
    const err = await second.start().catch((e: unknown) => e)
    expect(String(err)).toMatch(/exited with 1 during start/)
    expect(second.stderr).toContain(`is in use by process ${first.child!.pid}`)
    await first.kill()
    await first.start() // the lock of the killed process is stale: taken over at once
    expect(first.stderr).toMatch(/stale lock/)
  }, 60_000)

  it('mid-file log corruption: the node refuses to start naming the file and offset; --rejoin brings back every acknowledged message from a peer under a new slot, with no UID reused', async () => {
    const { b, atA, atB } = await peeredPair('a')
    const client = new ModelClient('client of b')
    const acked: string[] = []
    for (let i = 0; i < 57; i++) {
      acked.push(await atB.append('INBOX', `From: x@example.org\r\nSubject: m${i}\r\n\r\nbody ${i}\r\n`))
      if (i % 10 === 0) client.sync(await atB.readMailbox('INBOX'))
    }
    client.sync(await atB.readMailbox('INBOX'))
    await waitFor(async () => (await atA.readMailbox('INBOX')).messages.length === 57, 30_000, 'every message replicated to a')
    await b.stop()

    // one flipped byte in the middle of b's mailbox log
    const docs = join(b.o.dataDir, 'docs')
    const log = join(
      docs,
      readdirSync(docs).find((f) => f.startsWith('mbox'))!,
    )
    const mid = Math.floor(statSync(log).size / 2)
    const fd = openSync(log, 'r+')
    const byte = Buffer.alloc(1)
    readSync(fd, byte, 0, 1, mid)
    writeSync(fd, Buffer.from([byte[0]! ^ 0x20]), 0, 1, mid)
    closeSync(fd)

    const refused = await b.start().catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(Error)
    expect(b.stderr).toMatch(/refusing to start/)
    expect(b.stderr).toContain(log)
    expect(b.stderr).toMatch(/the record at byte \d+ is damaged and \d+ valid records follow/)
    expect(b.stderr).toContain('--rejoin')

    // the old slot is refused for a rejoin; a new one works
    b.o.args = ['--rejoin']
    await expect(b.start()).rejects.toThrow(/slot 1 was replica b's/)
    b.o.slot = 2
    const t0 = performance.now()
    await b.start()
    await waitFor(
      async () => {
        const r = await atB.call('GET', '/api/mailboxes/INBOX')
        return r.status === 200 && (r.data as { messages: unknown[] }).messages.length === 57
      },
      60_000,
      'every acknowledged message back at b',
    )
    const recoveryMs = performance.now() - t0
    const after = await atB.readMailbox('INBOX')
    expect(after.messages.map((m) => m.guid).sort()).toEqual([...acked].sort())
    client.sync(after) // S1..S5: no UID reused, none hidden, UIDNEXT monotone
    const g = await atB.append('INBOX', 'From: x@example.org\r\nSubject: after\r\n\r\nafter rejoin\r\n')
    const again = await atB.readMailbox('INBOX')
    client.sync(again)
    const uid = again.messages.find((m) => m.guid === g)!.uid
    expect(uid % 4).toBe(2) // allocated from the new slot
    expect(after.messages.some((m) => m.uid === uid)).toBe(false)
    for (const m of again.messages)
      expect(await atB.call('GET', `/api/mailboxes/INBOX/messages/${m.guid}/raw`).then((r) => r.status)).toBe(200)
    console.log(`rejoin: 57 acknowledged messages back from the peer in ${recoveryMs.toFixed(0)} ms (process start included)`)

    // later starts run without --rejoin, under the new slot only
    await b.stop()
    b.o.args = []
    b.o.slot = 1
    await expect(b.start()).rejects.toThrow(/belongs to node b with slot 2/)
    b.o.slot = 2
    await b.start()
    client.sync(await atB.readMailbox('INBOX'))
  }, 180_000)

  it('a damaged blob pack (100 B cut off its tail, a blob failing its hash): the bodies are fetched again from a peer', async () => {
    const { a, b, atA, atB } = await peeredPair('b')
    const bodies = new Map<string, string>()
    for (let i = 0; i < 20; i++) {
      const raw = `From: x@example.org\r\nSubject: m${i}\r\n\r\n${`body ${i} `.repeat(20)}\r\n`
      bodies.set(await atA.append('INBOX', raw), raw)
    }
    // every body reached b
    await waitFor(
      async () => {
        for (const g of bodies.keys()) if ((await atB.call('GET', `/api/mailboxes/INBOX/messages/${g}/raw`)).status !== 200) return false
        return true
      },
      30_000,
      'every body at b',
    )
    await a.kill() // an unclean stop too: the restart checks this node's messages for missing bodies
    const pack = join(a.o.dataDir, 'blobs', 'packs', readdirSync(join(a.o.dataDir, 'blobs', 'packs')).sort()[0]!)
    const size = statSync(pack).size
    truncateSync(pack, size - 100) // the last body loses its tail
    const fd = openSync(pack, 'r+')
    writeSync(fd, Buffer.from('X'), 0, 1, Math.floor(size / 2)) // a body in the middle fails its hash
    closeSync(fd)
    await a.start()
    // no acknowledged message is given up (expunged) for a body this node lost and a peer has
    await waitFor(
      async () => (await atA.readMailbox('INBOX')).messages.length === 20 && !/expunged messages of this node/.test(a.stderr),
      10_000,
      'all 20 messages listed',
    ).catch(() => undefined)
    expect(a.stderr).not.toMatch(/expunged messages of this node/)
    expect((await atA.readMailbox('INBOX')).messages.map((m) => m.guid).sort()).toEqual([...bodies.keys()].sort())
    for (const [g, raw] of bodies) {
      const r = await atA.fetch('GET', `/api/mailboxes/INBOX/messages/${g}/raw`)
      expect(r.status).toBe(200)
      expect(await r.text()).toBe(raw)
    }
    // fetched again means stored again: a stops serving from b
    await b.stop()
    for (const g of bodies.keys()) expect((await atA.fetch('GET', `/api/mailboxes/INBOX/messages/${g}/raw`)).status).toBe(200)
  }, 120_000)
})
