import 'fake-indexeddb/auto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import WebSocket from 'ws'
import { MailNode, silentLogger } from '@mailweave/server'
import { waitFor } from '@mailweave/testkit'
import { EdgeError, IdbDocStore, openAccount, requestToken, type Account, type OpenAccountOptions } from '../src/index.ts'

const enc = new TextEncoder()
const dirs: string[] = []
let node: MailNode
let token: string
let ns = 0

async function startNode(nodeId: string, slot: number): Promise<MailNode> {
  const dir = mkdtempSync(join(tmpdir(), 'mailweave-browser-'))
  dirs.push(dir)
  const n = await MailNode.start(
    { nodeId, slot, stride: 3, dataDir: dir, host: '127.0.0.1', port: 0, peers: [], secret: new Uint8Array(32).fill(9) },
    silentLogger(),
  )
  await n.addUser('alice', 'wonderland')
  return n
}

const open = (extra: Partial<OpenAccountOptions> & { prefix: string }): Promise<Account> =>
  openAccount({
    nodeUrl: node.url,
    token,
    user: 'alice',
    replica: `tab-${ns++}`,
    WebSocket,
    ...extra,
    idb: { prefix: extra.prefix, persistence: { debounceMs: 5 } },
  })

async function api(path: string, init: RequestInit = {}): Promise<any> {
  const res = await fetch(node.url + path, { ...init, headers: { authorization: `Bearer ${token}`, ...init.headers } })
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`)
  return res.headers.get('content-type')?.includes('json') === true ? res.json() : new Uint8Array(await res.arrayBuffer())
}

const message = (subject: string) =>
  enc.encode(
    `From: alice@example.org\r\nTo: bob@example.org\r\nSubject: ${subject}\r\nDate: Sun, 29 Nov 2026 00:00:00 +0000\r\n\r\nHello from ${subject}.\r\n`,
  )

beforeAll(async () => {
  node = await startNode('eu', 0)
  token = await requestToken(node.url, 'alice', 'wonderland')
})

afterAll(async () => {
  await node.stop()
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

describe('openAccount (edge replica against a real node)', () => {
  it('refuses a wrong password with UNAUTHORIZED', async () => {
    const e = await requestToken(node.url, 'alice', 'nope-nope').catch((x: unknown) => x)
    expect(e).toBeInstanceOf(EdgeError)
    expect((e as EdgeError).code).toBe('UNAUTHORIZED')
  })

  it('keeps offline appends and flags across a reload, then the node binds them and gets the bodies', async () => {
    const prefix = `offline-${ns}:`
    const a1 = await open({ prefix, online: false })
    const author = a1.replica
    expect(a1.status().connection).toBe('offline')
    const inbox = await a1.mailbox('INBOX')
    const guids: string[] = []
    for (const s of ['one', 'two', 'three']) guids.push(await inbox.append(message(s), { flags: ['\\Draft'] }))
    await inbox.setFlags(guids[1]!, { add: ['\\Flagged'] })
    await waitFor(() => a1.status().pendingUploads === 3, 2000, 'three queued uploads')
    expect(inbox.pending().map((m) => m.guid)).toEqual(guids)
    await a1.close()

    // "reload": a new account object over the same IndexedDB, still offline
    const a2 = await open({ prefix, online: false })
    const again = await a2.mailbox('INBOX')
    expect(again.pending().map((m) => m.guid)).toEqual(guids)
    expect(again.message(guids[1]!)?.flags).toContain('\\Flagged')
    expect(a2.status().pendingUploads).toBe(3)
    expect(await again.body(guids[0]!)).toEqual(message('one'))

    a2.setOnline(true)
    await waitFor(() => a2.status().pendingUploads === 0 && a2.status().connection === 'connected', 5000, 'uploads drained')
    await waitFor(
      async () => (await api('/api/mailboxes/INBOX')).messages.filter((m: any) => guids.includes(m.guid)).length === 3,
      5000,
      'the node binds all three',
    )
    const view = await api('/api/mailboxes/INBOX')
    const mine = view.messages.filter((m: any) => guids.includes(m.guid))
    expect(mine.every((m: any) => m.uid > 0 && m.uid % 3 === 0)).toBe(true)
    expect(mine.find((m: any) => m.guid === guids[1]).flags).toContain('\\Flagged')
    for (const [i, g] of guids.entries())
      expect(await api(`/api/mailboxes/INBOX/messages/${g}/raw`)).toEqual(message(['one', 'two', 'three'][i]!))
    // the bindings flow back to the edge replica, with their history
    await waitFor(() => again.pending().length === 0 && guids.every((g) => again.message(g)?.uid !== undefined), 5000, 'UIDs at the edge')
    const info = again.message(guids[0]!)!
    expect(info.origin).toBe(author)
    expect(info.bindings[0]!.allocator).toBe('eu')
    await a2.close()
  })

  it('shows another tab’s changes live and fetches bodies lazily, verified and cached', async () => {
    const writer = await open({ prefix: `w-${ns}:` })
    const reader = await open({ prefix: `r-${ns}:` })
    const wIn = await writer.mailbox('INBOX')
    const rIn = await reader.mailbox('INBOX')
    let changes = 0
    rIn.onChange(() => changes++)
    const guid = await wIn.append(message('live'))
    await waitFor(() => rIn.message(guid) !== undefined, 5000, 'the reader learns the message')
    // autoBind: the writer asked its node to bind the append; nobody else read the mailbox
    await waitFor(() => rIn.message(guid)?.uid !== undefined && wIn.message(guid)?.uid !== undefined, 5000, 'a UID at both tabs')
    expect(changes).toBeGreaterThan(0)
    await waitFor(() => writer.status().pendingUploads === 0, 5000, 'upload')
    expect(await rIn.body(guid)).toEqual(message('live'))
    reader.setOnline(false)
    expect(await rIn.body(guid)).toEqual(message('live')) // from the IndexedDB cache now
    await writer.close()
    await reader.close()
  })

  it('refuses a body the node corrupted', async () => {
    const writer = await open({ prefix: `cw-${ns}:` })
    const guid = await (await writer.mailbox('INBOX')).append(message('tamper'))
    await waitFor(() => writer.status().pendingUploads === 0, 5000, 'upload')
    const lying: typeof fetch = async (input, init) => {
      const res = await fetch(input, init)
      if (!String(input).endsWith('/raw')) return res
      const b = new Uint8Array(await res.arrayBuffer())
      b[b.length - 3] = b[b.length - 3]! ^ 1
      return new Response(b, { status: 200 })
    }
    const reader = await open({ prefix: `cr-${ns}:`, fetch: lying })
    const inbox = await reader.mailbox('INBOX')
    await waitFor(() => inbox.message(guid) !== undefined, 5000, 'metadata')
    const e = await inbox.body(guid).catch((x: unknown) => x)
    expect((e as EdgeError).code).toBe('CORRUPT_BODY')
    await writer.close()
    await reader.close()
  })

  it('reports a replica the node rejects, and recovers with resetLocalCopy', async () => {
    const prefix = `bad-${ns}:`
    // a local copy holding a node-only fact (a binding) that this node never wrote
    const store = new IdbDocStore(`${prefix}alice@${new URL(node.url).host}/docs`)
    const bad = new Y.Doc()
    const p = await store.attach(bad, 'mbox/alice/INBOX')
    bad.getArray('mailweave.log').push([['b', 7, 'f'.repeat(32), 'elsewhere']])
    await p.close()
    const a = await open({ prefix })
    await a.mailbox('INBOX')
    await waitFor(() => a.status().connection === 'rejected', 5000, 'the rejection')
    expect(a.status().regions[0]!.error).toMatch(/refused/)
    await a.resetLocalCopy()
    await waitFor(() => a.status().connection === 'connected', 5000, 'connected after the reset')
    await a.close()
  })

  it('switches to another node into that region’s own local replica', async () => {
    const other = await startNode('us', 1)
    try {
      const a = await open({ prefix: `sw-${ns}:` })
      const inbox = await a.mailbox('INBOX')
      await inbox.append(message('at eu'))
      const switched: number[] = []
      a.onSwitch(() => switched.push(1))
      await a.switchNode(other.url)
      expect(inbox.closed).toBe(true)
      expect(switched).toHaveLength(1)
      expect(a.status().nodeUrl).toBe(other.url)
      expect(a.status().regions.map((r) => r.nodeUrl)).toEqual([other.url, node.url])
      const usInbox = await a.mailbox('INBOX')
      await waitFor(() => a.status().connection === 'connected' && usInbox.synced, 5000, 'synced with us')
      const g = await usInbox.append(message('at us'))
      await waitFor(
        async () => {
          const res = await fetch(`${other.url}/api/mailboxes/INBOX`, { headers: { authorization: `Bearer ${token}` } })
          return ((await res.json()) as any).messages.some((m: any) => m.guid === g)
        },
        5000,
        'us binds it',
      )
      await a.close()
    } finally {
      await other.stop()
    }
  })
})
