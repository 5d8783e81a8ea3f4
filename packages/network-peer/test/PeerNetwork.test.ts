import { createHash } from 'node:crypto'
import http from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { waitFor } from '../../testkit/src/waitFor.ts'
import { MemoryPeerHost, PeerNetwork } from '../src/index.ts'
import { Cluster, FAST, SECRET, append, isOpen, items, sameDocs, statusOf, url, waitMeshOpen } from './peerCluster.ts'
import type { PeerNetworkOptions } from '../src/index.ts'
import type { TestNode } from './peerCluster.ts'

const cluster = new Cluster()
afterEach(() => cluster.stop())

const docNames = (n: number): string[] => Array.from({ length: n }, (_, i) => `doc-${i}`)
const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')

/** Both sides' saved resume points equal the other's counter: nothing left to catch up. */
const resumeCurrent = (a: TestNode, b: TestNode): boolean =>
  a.host.resumeOf(b.id)?.seq === b.host.changeCursor().seq && b.host.resumeOf(a.id)?.seq === a.host.changeCursor().seq

/**
 * Nodes a and b linked through a proxy in front of b (so the test can cut or stall the
 * link); `before` runs once both exist and neither has started, e.g. to edit documents
 * that only the catch-up listing can carry.
 */
async function pairBehindProxy(options: Partial<PeerNetworkOptions> = {}, before?: (a: TestNode, b: TestNode) => void) {
  const a = await cluster.server('a', 1)
  const b = await cluster.server('b', 2)
  const proxy = await cluster.proxy(b)
  before?.(a, b)
  cluster.start(a, [{ id: 'b', url: url(proxy.port) }], options)
  cluster.start(b, [{ id: 'a', url: url(a.port) }], options)
  return { a, b, proxy }
}

describe('PeerNetwork', () => {
  for (const relay of [true, false]) {
    it(`three nodes converge on concurrent edits of several documents (relay ${relay})`, async () => {
      const nodes = await cluster.mesh(['a', 'b', 'c'], { relay })
      const names = docNames(4)
      const origins = { peer: 0, local: 0 }
      nodes[1]!.host.onUpdate((_doc, _update, origin) => origins[nodes[1]!.net!.isPeerOrigin(origin) ? 'peer' : 'local']++)
      // Edits before the links exist (catch-up) and while they come up (live).
      for (const node of nodes) for (const name of names) append(node, name, `${node.id}:early:${name}`)
      await waitMeshOpen(nodes)
      for (let round = 0; round < 5; round++) {
        for (const node of nodes) for (const name of names) append(node, name, `${node.id}:${round}:${name}`)
      }
      await waitFor(() => sameDocs(nodes, names), 5000, 'convergence')
      for (const name of names) expect(items(nodes[0]!, name)).toHaveLength(3 * 6)
      expect(origins.local).toBe(names.length * 6)
      expect(origins.peer).toBeGreaterThanOrEqual(names.length * 2)
      // One socket per pair: the smaller id dials, so a accepts none, c accepts two.
      expect(nodes.map((n) => n.upgrades)).toEqual([0, 1, 2])
      for (const node of nodes) for (const status of node.net!.status()) expect(status.reconnects).toBe(0)
    })
  }

  it('catch-up after a partition lists only the documents changed (2 of 50)', async () => {
    const names = docNames(50)
    const { a, b, proxy } = await pairBehindProxy({}, (early) => {
      for (const name of names) append(early, name, `a:${name}`)
    })
    await waitFor(() => sameDocs([a, b], names), 5000, 'initial sync')
    expect(statusOf(a, 'b').docsListedOut).toBe(50)
    await waitFor(() => resumeCurrent(a, b), 5000, 'resume points current')

    const before = { a: statusOf(a, 'b'), b: statusOf(b, 'a') }
    proxy.cut('refuse')
    await waitFor(() => !isOpen(a, 'b') && !isOpen(b, 'a'), 5000, 'link down')
    append(a, 'doc-3', 'a:offline')
    append(b, 'doc-7', 'b:offline')
    proxy.restore()
    await waitFor(
      () => sameDocs([a, b], ['doc-3', 'doc-7']) && items(a, 'doc-7').length === 2 && items(b, 'doc-3').length === 2,
      5000,
      'catch-up',
    )

    const after = { a: statusOf(a, 'b'), b: statusOf(b, 'a') }
    expect(after.a.reconnects).toBe(1)
    expect(after.a.docsListedOut - before.a.docsListedOut).toBe(1)
    expect(after.b.docsListedOut - before.b.docsListedOut).toBe(1)
    expect(after.a.docsListedIn - before.a.docsListedIn).toBe(1)
    expect(sameDocs([a, b], names)).toBe(true)
  })

  it('falls back to listing every document when the counter epoch changed', async () => {
    const names = docNames(20)
    const { a, b, proxy } = await pairBehindProxy({}, (_, early) => {
      for (const name of names) append(early, name, `b:${name}`)
    })
    await waitFor(() => sameDocs([a, b], names) && resumeCurrent(a, b), 5000, 'initial sync')
    proxy.cut('refuse')
    await waitFor(() => !isOpen(a, 'b') && !isOpen(b, 'a'), 5000, 'link down')
    const before = statusOf(b, 'a').docsListedOut
    b.host.newEpoch() // as after a restore from backup: a's saved cursor for b means nothing now
    proxy.restore()
    await waitFor(() => isOpen(a, 'b') && statusOf(b, 'a').docsListedOut - before >= 20, 5000, 'full listing')
    expect(statusOf(b, 'a').docsListedOut - before).toBe(20)
  })

  it('reconnects after the accepting peer restarts, and both sides catch up', async () => {
    const a = await cluster.server('a', 1)
    let b = await cluster.server('b', 2)
    const bHost = b.host
    const port = b.port
    cluster.start(a, [{ id: 'b', url: url(port) }])
    cluster.start(b, [{ id: 'a', url: url(a.port) }])
    append(a, 'inbox', 'a:1')
    await waitFor(() => items(b, 'inbox').length === 1, 5000, 'first sync')

    await cluster.stopNode(b)
    await waitFor(() => !isOpen(a, 'b'), 5000, 'a sees b down')
    append(a, 'inbox', 'a:while-b-down')
    append(b, 'inbox', 'b:while-down')

    b = await cluster.server('b', 2, { port, host: bHost })
    cluster.start(b, [{ id: 'a', url: url(a.port) }])
    await waitFor(() => sameDocs([a, b], ['inbox']) && items(a, 'inbox').length === 3, 5000, 'caught up after restart')
    expect(statusOf(a, 'b').reconnects).toBeGreaterThanOrEqual(1)
    expect(statusOf(a, 'b').state).toBe('open')
  })

  it('closes a silent link on ping timeout and re-establishes it', async () => {
    const { a, b, proxy } = await pairBehindProxy({ pingIntervalMs: 50, pingTimeoutMs: 300 })
    await waitFor(() => isOpen(a, 'b') && statusOf(a, 'b').lagMs !== undefined, 5000, 'open with a measured lag')
    proxy.setDelay(5000) // the socket stays up, nothing gets through
    await waitFor(() => !isOpen(a, 'b'), 3000, 'dead link detected')
    expect(statusOf(a, 'b').lastError).toBe('ping timeout')
    expect(a.host.logs.filter((l) => l.msg === 'peer link timed out')).toHaveLength(1)
    proxy.setDelay(0)
    append(b, 'inbox', 'after the stall')
    await waitFor(() => items(a, 'inbox').length === 1, 5000, 'reconnected and caught up')
    expect(statusOf(a, 'b').reconnects).toBe(1)
  })

  it('accepts peers on an http.Server through the listen option', async () => {
    const server = http.createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
    const port = (server.address() as { port: number }).port
    const a = await cluster.server('a', 1)
    const zHost = new MemoryPeerHost({ nodeId: 'z', slot: 9 })
    // z dials nobody (a has the smaller id), so it need not start; it accepts from construction on.
    const z = new PeerNetwork({ host: zHost, secret: SECRET, peers: [], listen: { server, path: '/peer' }, ...FAST })
    cluster.start(a, [{ id: 'z', url: url(port) }])
    try {
      append(a, 'inbox', 'hello z')
      await waitFor(() => zHost.hasDoc('inbox') && zHost.doc('inbox').getArray('log').length === 1, 5000, 'z got the update')
      expect(z.status().map((s) => [s.id, s.state])).toEqual([['a', 'open']])
    } finally {
      await z.close()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  })

  it('verify answers within the timeout, integrates the replies, and reports stalled or blackholed peers', async () => {
    const a = await cluster.server('a', 1)
    const b = await cluster.server('b', 2)
    const c = await cluster.server('c', 3)
    const toC = await cluster.proxy(c)
    cluster.start(a, [
      { id: 'b', url: url(b.port) },
      { id: 'c', url: url(toC.port) },
    ])
    cluster.start(b, [
      { id: 'a', url: url(a.port) },
      { id: 'c', url: url(c.port) },
    ])
    cluster.start(c, [
      { id: 'a', url: url(a.port) },
      { id: 'b', url: url(b.port) },
    ])
    await waitMeshOpen([a, b, c])

    // The barrier: a's reservation is integrated at every peer that answered.
    append(a, 'mbox', 'R[a]=10')
    const all = await a.net!.verify('mbox') // default timeout: 150 ms
    expect(all.answered.sort()).toEqual(['b', 'c'])
    expect(all.timedOut).toEqual([])
    expect(items(b, 'mbox')).toEqual(['R[a]=10'])
    expect(items(c, 'mbox')).toEqual(['R[a]=10'])

    // A link that dies under the request: the peer did not answer.
    toC.cut('blackhole')
    const cut = await a.net!.verify('mbox')
    expect(cut).toMatchObject({ answered: ['b'], timedOut: ['c'] })

    // Reconnects into the blackhole never authenticate: c is not asked at all.
    await waitFor(() => !isOpen(a, 'c'), 5000, 'c down at a')
    const down = await a.net!.verify('mbox', 100)
    expect(down).toEqual({ answered: ['b'], timedOut: [], unreachable: ['c'] })

    toC.restore()
    await waitFor(() => isOpen(a, 'c'), 5000, 'c back')
    // A stalled link (bytes held, socket up): the request times out at the deadline.
    toC.setDelay(1000)
    const started = performance.now()
    const stalled = await a.net!.verify('mbox', 120)
    const elapsed = performance.now() - started
    expect(stalled).toEqual({ answered: ['b'], timedOut: ['c'], unreachable: [] })
    expect(elapsed).toBeGreaterThanOrEqual(115)
    expect(elapsed).toBeLessThan(1000)
  })

  it('fetches a blob from the peer that has it, rejecting a corrupted reply, and retries later', async () => {
    const [a, b, c] = await cluster.mesh(['a', 'b', 'c'])
    await waitMeshOpen([a!, b!, c!])
    const blob = new TextEncoder().encode('From: x@example.org\r\nSubject: hi\r\n\r\nbody\r\n')
    const hash = sha256(blob)
    await b!.host.blobs.put(hash, new TextEncoder().encode('not the message')) // a corrupt store at b
    await c!.host.blobs.put(hash, blob)

    // a asks b first (peer order): b's bytes fail verification, c's are stored.
    expect(await a!.net!.want(hash)).toBe(true)
    expect(await a!.host.blobs.get(hash)).toEqual(blob)
    expect(a!.net!.rejectedBlobs).toBe(1)
    expect(a!.host.logs.some((l) => l.msg.includes('failed verification') && l.fields?.['peer'] === 'b')).toBe(true)
    expect(a!.net!.missingBlobs).toBe(0)

    // Nobody has it yet: it stays missing until a peer gets it.
    const later = new TextEncoder().encode('arrives later')
    const laterHash = sha256(later)
    const fetched = a!.net!.want(laterHash)
    await waitFor(() => a!.net!.missingBlobs === 1, 1000, 'wanted')
    await c!.host.blobs.put(laterHash, later)
    expect(await fetched).toBe(true)
    expect(a!.net!.missingBlobs).toBe(0)
    expect(await a!.host.blobs.get(laterHash)).toEqual(later)

    // A caller that gives up stops the fetch.
    expect(await a!.net!.want('f'.repeat(64), 50)).toBe(false)
    expect(a!.net!.missingBlobs).toBe(0)
  })

  it('close() leaves no timers, sockets or open documents behind', async () => {
    const resources = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout' || r === 'TCPSocketWrap').length
    const baseline = resources()
    const nodes = await cluster.mesh(['a', 'b', 'c'])
    await waitMeshOpen(nodes)
    append(nodes[0]!, 'inbox', 'x')
    await waitFor(() => sameDocs(nodes, ['inbox']), 5000, 'sync')
    await nodes[0]!.net!.verify('inbox')
    const pending = nodes[0]!.net!.want('0'.repeat(64))
    await cluster.stop()
    expect(await pending).toBe(false)
    for (const node of nodes) expect(node.host.openCount).toBe(0)
    await waitFor(() => resources() <= baseline, 2000, 'resources released')
  })
})
