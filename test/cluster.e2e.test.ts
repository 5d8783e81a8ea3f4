import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ModelClient, waitFor } from '@mailweave/testkit'
import type { NodeApi } from '@mailweave/client'
import { NodeProcess, ProcessCluster, metricValue } from '@mailweave/testkit-cluster'

const msg = (tag: string) =>
  `From: e2e@example.org\r\nTo: alice@example.org\r\nSubject: ${tag}\r\nMessage-ID: <${tag}@e2e>\r\n\r\nbody of ${tag}\r\n`

describe('three node processes, partition and heal, clients through the HTTP API', () => {
  let cluster: ProcessCluster
  let api: NodeApi[]
  beforeAll(async () => {
    cluster = await ProcessCluster.start({ nodes: ['N0', 'N1', 'N2'] })
    api = await cluster.addUser('alice', 'wonderland')
    await cluster.linksAre('open')
  }, 60_000)
  afterAll(async () => {
    await cluster?.stop()
  })

  it('keeps S1..S5 for every client, loses nothing, duplicates only on seen, and needs no fixups while connected', async () => {
    const globalUids = new Map<number, string>()
    const clients = api.map((_, i) => new ModelClient(`client@N${i}`, globalUids))
    const sync = async (i: number) => clients[i]!.sync(await api[i]!.readMailbox('INBOX'))
    const appended: string[] = []

    // connected: every region appends and exposes concurrently
    await Promise.all(
      api.map(async (a, i) => {
        for (let k = 0; k < 5; k++) {
          appended.push(await a.append('INBOX', msg(`connected-${i}-${k}`)))
          await sync(i)
        }
      }),
    )
    await waitFor(
      async () =>
        (await api[0]!.readMailbox('INBOX')).messages.length === 15 && (await api[2]!.readMailbox('INBOX')).messages.length === 15,
      20_000,
      'connected appends replicated',
    )
    for (let i = 0; i < 3; i++) await sync(i)
    for (let i = 0; i < 3; i++) {
      const m = await cluster.metrics(i)
      expect(
        metricValue(m, 'mailweave_fixups_total', '{kind="silent"}') + metricValue(m, 'mailweave_fixups_total', '{kind="duplicate"}'),
      ).toBe(0)
    }
    expect(clients.every((c) => c.duplicates.length === 0)).toBe(true)

    // partition: every region appends, its client sees only its side
    cluster.cutAll()
    await Promise.all(
      api.map(async (a, i) => {
        for (let k = 0; k < 5; k++) {
          appended.push(await a.append('INBOX', msg(`partitioned-${i}-${k}`)))
          await sync(i)
        }
      }),
    )
    for (let i = 0; i < 3; i++) expect(clients[i]!.cache.size).toBe(20)

    // heal: every node converges to one view with every message
    cluster.healAll()
    await cluster.linksAre('open')
    await waitFor(
      async () => {
        const views = await Promise.all(api.map((a) => a.readMailbox('INBOX')))
        views.forEach((v, i) => clients[i]!.sync(v))
        const repr = views.map((v) => JSON.stringify(v.messages.map((m) => [m.uid, m.guid])))
        return views.every((v) => v.messages.length === appended.length) && repr.every((r) => r === repr[0])
      },
      30_000,
      'views converge after the heal',
    )
    for (const c of clients) for (const g of appended) expect([...c.cache.values()]).toContain(g)
    // every re-download is a duplicate-on-seen: the old uid is stranded and some node had shown it
    for (let i = 0; i < 3; i++) {
      for (const [guid, oldUid] of clients[i]!.duplicates) {
        const info = (await api[i]!.call('GET', `/api/mailboxes/INBOX/messages/${guid}`)).data as {
          bindings: { uid: number; valid: boolean; seenBy: string[] }[]
        }
        const old = info.bindings.find((b) => b.uid === oldUid)!
        expect(old.valid).toBe(false)
        expect(old.seenBy.length).toBeGreaterThan(0)
      }
    }
    const dups = clients.reduce((n, c) => n + c.duplicates.length, 0)
    console.log(`after the heal: ${dups} duplicate-on-seen re-downloads across 3 clients, ${appended.length} messages, none lost`)
    expect(dups).toBeGreaterThan(0) // the partition really interleaved uids below watermarks
  }, 120_000)
})

describe('replication details between node processes', () => {
  let cluster: ProcessCluster
  let api: NodeApi[]
  beforeAll(async () => {
    cluster = await ProcessCluster.start({ nodes: ['N0', 'N1', 'N2'], verifyTimeoutMs: 1000 })
    api = await cluster.addUser('carol', 'password1')
    await cluster.linksAre('open')
  }, 60_000)
  afterAll(async () => {
    await cluster?.stop()
  })

  it('bodies follow the metadata: a message appended at one region is readable at the others', async () => {
    const guid = await api[0]!.append('INBOX', msg('body-travels'))
    await waitFor(async () => (await api[2]!.call('GET', `/api/mailboxes/INBOX/messages/${guid}/raw`)).status === 200, 20_000, 'body at N2')
    const r = await api[2]!.call('GET', `/api/mailboxes/INBOX/messages/${guid}/raw`)
    expect(String(r.data)).toContain('body of body-travels')
  }, 30_000)

  it('with 50 ms injected on every link, concurrent appends and exposures at all regions need no fixups; a cut link does, and heals', async () => {
    for (const p of cluster.proxies.values()) p.setDelay(50)
    const fixups = async () => {
      let n = 0
      for (let i = 0; i < 3; i++) {
        const m = await cluster.metrics(i)
        n += metricValue(m, 'mailweave_fixups_total', '{kind="silent"}') + metricValue(m, 'mailweave_fixups_total', '{kind="duplicate"}')
      }
      return n
    }
    const before = await fixups()
    const clients = api.map((_, i) => new ModelClient(`lat@N${i}`))
    await Promise.all(
      api.map(async (a, i) => {
        for (let k = 0; k < 8; k++) {
          await a.append('INBOX', msg(`latency-${i}-${k}`))
          clients[i]!.sync(await a.readMailbox('INBOX'))
        }
      }),
    )
    expect(await fixups()).toBe(before)
    // one link cut: N0 and N1 cannot talk directly; relaying via N2 still joins them,
    // so cut N2's links too for a real split of N0 from N1
    cluster.proxy(0, 1).cut()
    cluster.proxy(0, 2).cut()
    cluster.proxy(1, 2).cut()
    await Promise.all(
      [0, 1].map(async (i) => {
        for (let k = 0; k < 4; k++) {
          await api[i]!.append('INBOX', msg(`split-${i}-${k}`))
          clients[i]!.sync(await api[i]!.readMailbox('INBOX'))
        }
      }),
    )
    for (const p of cluster.proxies.values()) {
      p.setDelay(0)
      p.restore()
    }
    await cluster.linksAre('open')
    await waitFor(
      async () => {
        const vs = await Promise.all(api.map((a) => a.readMailbox('INBOX')))
        vs.forEach((v, i) => clients[i]!.sync(v))
        return vs.every((v) => JSON.stringify(v.messages.map((m) => m.guid)) === JSON.stringify(vs[0]!.messages.map((m) => m.guid)))
      },
      30_000,
      'convergence after the split',
    )
    expect(await fixups()).toBeGreaterThan(before)
  }, 90_000)

  it('a stock y-websocket WebsocketProvider syncs an edge replica whose appends a node then binds', async () => {
    const { WebsocketProvider } = await import('y-websocket')
    const Y = await import('yjs')
    const WS = (await import('ws')).default
    const { edgeClientId, openMailbox } = await import('@mailweave/core')
    const { token } = (await api[1]!.call('POST', '/api/token')).data as { token: string }
    const doc = new Y.Doc()
    doc.clientID = edgeClientId() // nodes refuse edge writes under a node client id
    const provider = new WebsocketProvider(cluster.nodes[1]!.url.replace('http', 'ws') + '/edge', 'mbox/carol/INBOX', doc, {
      WebSocketPolyfill: WS as unknown as typeof WebSocket,
      disableBc: true,
      params: { token },
    })
    try {
      await waitFor(() => provider.synced, 10_000, 'edge provider synced')
      const edge = openMailbox(doc, { replica: 'browser-test', stride: 3 })
      const fromNode = await api[1]!.append('INBOX', msg('for-the-edge'))
      await api[1]!.readMailbox('INBOX')
      await waitFor(() => edge.view().messages.some((m) => m.guid === fromNode), 10_000, 'the mailbox reached the edge replica')
      const guid = edge.append(new TextEncoder().encode(msg('from-the-edge')), { flags: ['\\Draft'] })
      // the node binds an edge append as it arrives, before any client reads the mailbox
      await waitFor(() => (edge.message(guid)?.bindings.length ?? 0) > 0, 10_000, 'N1 bound the edge append by itself')
      await waitFor(
        async () => (await api[1]!.readMailbox('INBOX')).messages.some((m) => m.guid === guid),
        10_000,
        'edge message visible at N1',
      )
      const bound = (await api[1]!.readMailbox('INBOX')).messages.find((m) => m.guid === guid)!
      expect(bound.flags).toContain('\\Draft')
      await waitFor(() => edge.message(guid)?.uid === bound.uid, 10_000, 'the binding reached the edge replica')
      edge.destroy()
    } finally {
      provider.destroy()
      doc.destroy()
    }
  }, 30_000)
})

describe('peer authentication', () => {
  it('a node with the wrong secret is refused with AUTH_FAILED and the others keep serving', async () => {
    const { freePort } = await import('@mailweave/testkit')
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs')
    const { join } = await import('node:path')
    const { tmpdir } = await import('node:os')
    const dir = mkdtempSync(join(tmpdir(), 'mailweave-auth-'))
    writeFileSync(join(dir, 'a'), 'a'.repeat(64))
    writeFileSync(join(dir, 'b'), 'b'.repeat(64))
    const [p0, p1] = [await freePort(), await freePort()]
    const n0 = new NodeProcess({
      nodeId: 'N0',
      slot: 0,
      stride: 2,
      dataDir: join(dir, 'N0'),
      port: p0,
      secretFile: join(dir, 'a'),
      peers: [{ id: 'N1', url: `http://127.0.0.1:${p1}` }],
    })
    const n1 = new NodeProcess({
      nodeId: 'N1',
      slot: 1,
      stride: 2,
      dataDir: join(dir, 'N1'),
      port: p1,
      secretFile: join(dir, 'b'),
      peers: [{ id: 'N0', url: `http://127.0.0.1:${p0}` }],
    })
    try {
      await Promise.all([n0.start(), n1.start()])
      const { adminToken } = await import('@mailweave/server')
      const status = async () =>
        (await (
          await fetch(`${n0.url}/api/status`, {
            headers: { authorization: `Bearer ${adminToken(new TextEncoder().encode('a'.repeat(64)))}` },
          })
        ).json()) as { peers: { state: string; lastCloseCode?: number }[] }
      await waitFor(async () => (await status()).peers[0]?.lastCloseCode === 4001, 20_000, 'AUTH_FAILED close code recorded')
      expect((await status()).peers[0]!.state).not.toBe('open')
      expect((await fetch(`${n1.url}/healthz`)).status).toBe(200)
    } finally {
      await Promise.all([n0.stop(), n1.stop()])
      rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)
})
