import net from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { waitFor } from '../../testkit/src/waitFor.ts'
import { CloseCode, encodeFrame } from '../src/index.ts'
import { Cluster, RawPeer, append, isOpen, items, statusOf, url, waitMeshOpen } from './peerCluster.ts'

const cluster = new Cluster()
afterEach(() => cluster.stop())

/** Nodes a and b, linked and in sync on document 'inbox'. */
const pair = async (): Promise<[ReturnType<Cluster['get']>, ReturnType<Cluster['get']>]> => {
  const [a, b] = await cluster.mesh(['a', 'b'])
  await waitMeshOpen([a!, b!])
  return [a!, b!]
}

/** The link a-b still carries updates. */
const stillServing = async (a: ReturnType<Cluster['get']>, b: ReturnType<Cluster['get']>, tag: string): Promise<void> => {
  append(a, 'inbox', tag)
  await waitFor(() => items(b, 'inbox').includes(tag), 5000, `b received ${tag}`)
}

const loggedCode = (node: ReturnType<Cluster['get']>, code: number): number =>
  node.host.logs.filter((line) => line.msg === 'peer link failed' && line.fields?.['code'] === code).length

describe('PeerNetwork at its boundary', () => {
  it('refuses a peer with the wrong secret (AUTH_FAILED) and logs it', async () => {
    const a = await cluster.server('a', 1)
    const b = await cluster.server('b', 2)
    cluster.start(a, [{ id: 'b', url: url(b.port) }], { secret: new TextEncoder().encode('not the cluster secret at all') })
    cluster.start(b, [{ id: 'a', url: url(a.port) }])
    append(a, 'inbox', 'secret stuff')
    await waitFor(() => statusOf(a, 'b').lastCloseCode === CloseCode.AUTH_FAILED, 5000, 'a refused')
    expect(loggedCode(b, CloseCode.AUTH_FAILED)).toBeGreaterThanOrEqual(1)
    expect(statusOf(b, 'a').state).not.toBe('open')
    expect(b.host.hasDoc('inbox')).toBe(false)
    // A raw client with the wrong secret gets the same code.
    const raw = await RawPeer.connect(cluster, b.port, {
      nodeId: 'x',
      slot: 7,
      secret: new TextEncoder().encode('wrong secret, 16+ bytes'),
    })
    expect((await raw.closed).code).toBe(CloseCode.AUTH_FAILED)
    expect(raw.authenticated).toBe(false)
  })

  it('closes garbage and pre-auth frames with PROTOCOL_ERROR and keeps serving other peers', async () => {
    const [a, b] = await pair()
    const garbage = await RawPeer.connect(cluster, b.port)
    garbage.sendBytes(new Uint8Array([0xde, 0xad, 0xbe, 0xef, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))
    expect((await garbage.closed).code).toBe(CloseCode.PROTOCOL_ERROR)

    const text = await RawPeer.connect(cluster, b.port)
    text.ws.send('hello')
    expect((await text.closed).code).toBe(CloseCode.PROTOCOL_ERROR)

    // A well-formed document frame before authentication is refused, and never applied.
    const doc = new Y.Doc()
    doc.getArray('log').push(['injected'])
    const early = await RawPeer.connect(cluster, b.port)
    early.send({ type: 'docSync', docName: 'inbox', message: { kind: 'update', update: Y.encodeStateAsUpdate(doc) } })
    expect((await early.closed).code).toBe(CloseCode.PROTOCOL_ERROR)
    expect(items(b, 'inbox')).not.toContain('injected')

    const version = await RawPeer.connect(cluster, b.port)
    version.sendBytes(new Uint8Array([9, 10, 0]))
    expect((await version.closed).code).toBe(CloseCode.VERSION_MISMATCH)

    expect(loggedCode(b, CloseCode.PROTOCOL_ERROR)).toBe(3)
    expect(isOpen(a, 'b') && isOpen(b, 'a')).toBe(true)
    await stillServing(a, b, 'after garbage')
  })

  it('closes a socket that never authenticates (AUTH_FAILED after the handshake timeout)', async () => {
    const b = await cluster.server('b', 2)
    cluster.start(b, [], { handshakeTimeoutMs: 150 })
    const silent = await RawPeer.connect(cluster, b.port)
    const started = performance.now()
    expect((await silent.closed).code).toBe(CloseCode.AUTH_FAILED)
    expect(performance.now() - started).toBeGreaterThanOrEqual(100)
    expect(loggedCode(b, CloseCode.AUTH_FAILED)).toBe(1)
    expect(b.host.logs).toHaveLength(1)
  })

  it('rejects an undecodable update from an authenticated peer without touching the document', async () => {
    const [a, b] = await pair()
    await stillServing(a, b, 'before')
    const before = Y.encodeStateAsUpdate(b.host.doc('inbox'))
    const raw = await RawPeer.connect(cluster, b.port, { nodeId: 'm', slot: 5 })
    await waitFor(() => raw.authenticated, 5000, 'raw peer authenticated')
    raw.send({ type: 'docSync', docName: 'inbox', message: { kind: 'update', update: new Uint8Array([1, 200, 3, 4, 5, 6, 7]) } })
    expect((await raw.closed).code).toBe(CloseCode.UPDATE_REJECTED)
    expect(Y.encodeStateAsUpdate(b.host.doc('inbox'))).toEqual(before)
    await stillServing(a, b, 'after bad update')
  })

  it('closes an oversize frame with TOO_LARGE', async () => {
    const a = await cluster.server('a', 1)
    const b = await cluster.server('b', 2)
    cluster.start(a, [{ id: 'b', url: url(b.port) }])
    cluster.start(b, [{ id: 'a', url: url(a.port) }], { maxFrameBytes: 4096 })
    await waitMeshOpen([a, b])
    const raw = await RawPeer.connect(cluster, b.port, { nodeId: 'm', slot: 5 })
    await waitFor(() => raw.authenticated, 5000, 'raw peer authenticated')
    raw.sendBytes(encodeFrame({ type: 'blobData', hash: '0'.repeat(64), bytes: new Uint8Array(5000) }))
    expect((await raw.closed).code).toBe(CloseCode.TOO_LARGE)
    expect(isOpen(b, 'a')).toBe(true)
  })

  it('refuses a second node id claiming a connected slot (SLOT_CONFLICT)', async () => {
    const [a, b] = await pair()
    const raw = await RawPeer.connect(cluster, b.port, { nodeId: 'impostor', slot: 1 })
    expect((await raw.closed).code).toBe(CloseCode.SLOT_CONFLICT)
    expect(b.host.logs.some((line) => line.level === 'error' && line.msg.startsWith('slot conflict'))).toBe(true)
    expect(isOpen(a, 'b')).toBe(true)
  })

  it('keeps one socket per pair: a newer socket of the same dialler replaces the old one (DUPLICATE_CONNECTION)', async () => {
    const [a, b] = await pair()
    // Another process claiming to be a (as after a restart whose old socket still looks alive).
    const raw = await RawPeer.connect(cluster, b.port, { nodeId: 'a', slot: 1 })
    await waitFor(() => statusOf(a, 'b').lastCloseCode === CloseCode.DUPLICATE_CONNECTION, 5000, 'old socket replaced')
    // The real a redials and in turn replaces the impostor's socket.
    expect((await raw.closed).code).toBe(CloseCode.DUPLICATE_CONNECTION)
    await waitFor(() => isOpen(a, 'b') && isOpen(b, 'a'), 5000, 'a back')
    await stillServing(a, b, 'after duplicate')
  })

  it('/peer pre-auth limits: an unauthenticated socket may send only preAuthMaxBytes and only maxPendingHandshakes may wait; an authenticated link still carries large frames', async () => {
    const a = await cluster.server('a', 1)
    const b2 = await cluster.server('b2', 2)
    cluster.start(b2, [], { handshakeTimeoutMs: 60_000, pingTimeoutMs: 60_000, maxPendingHandshakes: 2 })
    // A stranger announces one 8 MiB frame and streams its payload: before the limit the
    // node read the whole frame into memory (up to the 64 MiB frame limit) until the handshake timeout.
    const sock = net.connect(b2.port, '127.0.0.1')
    cluster.sockets.push(sock)
    let closed = false
    sock.on('close', () => (closed = true)).on('error', () => {})
    let response = ''
    sock.on('data', (d: Buffer) => (response += d.toString('latin1')))
    sock.write(
      `GET /peer HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${Buffer.alloc(16, 1).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    )
    await waitFor(() => response.startsWith('HTTP/1.1 101'), 5000, 'upgraded')
    const header = Buffer.alloc(14)
    header[0] = 0x82 // FIN, binary
    header[1] = 0x80 | 127 // masked, 64-bit length
    header.writeBigUInt64BE(8n * 1024n * 1024n, 2)
    sock.write(header)
    const chunk = Buffer.alloc(16 * 1024)
    for (let sent = 0; sent < 1024 * 1024 && !closed; sent += chunk.length)
      await new Promise<void>((resolve) => sock.write(chunk, () => resolve()))
    await waitFor(() => closed, 10_000, 'the stranger dropped')
    const dropped = b2.host.logs.find((line) => line.msg === 'peer socket sent too much before authenticating')
    expect(dropped?.fields?.['limit']).toBe(64 * 1024)
    // Two strangers wait for their handshake; a third is turned away until one goes.
    const waiting = [await RawPeer.connect(cluster, b2.port), await RawPeer.connect(cluster, b2.port)]
    await expect(RawPeer.connect(cluster, b2.port)).rejects.toThrow(/503/)
    for (const raw of waiting) raw.ws.terminate()
    // The real peer authenticates and then sends a 1 MiB update (above the pre-auth limit).
    cluster.start(a, [{ id: 'b2', url: url(b2.port) }])
    const big = 'x'.repeat(1024 * 1024)
    append(a, 'inbox', big)
    await waitFor(() => items(b2, 'inbox').includes(big), 10_000, 'b2 received the 1 MiB update')
  })
})
