import net from 'node:net'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { FaultProxy } from '../src/FaultProxy.ts'
import { waitFor } from '../src/waitFor.ts'

/** Polls `condition` (every 2 ms, deadline 5 s) through testkit's own waitFor. */
const until = (condition: () => boolean, what: string): Promise<void> => waitFor(condition, 5000, what, 2)

interface EchoServer {
  server: net.Server
  port: number
  sockets: Set<net.Socket>
  connectionsSeen: number
  bytesSeen: number
}

const startEcho = async (): Promise<EchoServer> => {
  const echo: EchoServer = { server: net.createServer(), port: 0, sockets: new Set(), connectionsSeen: 0, bytesSeen: 0 }
  echo.server.on('connection', (socket) => {
    echo.connectionsSeen++
    echo.sockets.add(socket)
    socket.on('error', () => {})
    socket.on('close', () => echo.sockets.delete(socket))
    socket.on('data', (chunk: Buffer) => {
      echo.bytesSeen += chunk.length
      socket.write(chunk)
    })
    socket.on('end', () => socket.end())
  })
  await new Promise<void>((resolve) => echo.server.listen(0, '127.0.0.1', resolve))
  const address = echo.server.address()
  if (address === null || typeof address === 'string') throw new Error('echo server has no port')
  echo.port = address.port
  return echo
}

/** A client socket that records what it receives and how it ended. */
class Client {
  readonly socket: net.Socket
  private chunks: Buffer[] = []
  receivedBytes = 0
  closed = false
  connected = false
  readonly arrivals: Array<{ at: number; bytes: number }> = []

  get received(): Buffer {
    return Buffer.concat(this.chunks)
  }

  clear(): void {
    this.chunks = []
    this.receivedBytes = 0
  }

  constructor(port: number) {
    this.socket = net.connect({ host: '127.0.0.1', port })
    this.socket.on('connect', () => (this.connected = true))
    this.socket.on('error', () => {})
    this.socket.on('close', () => (this.closed = true))
    this.socket.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk)
      this.receivedBytes += chunk.length
      this.arrivals.push({ at: performance.now(), bytes: this.receivedBytes })
    })
  }
}

describe('FaultProxy', () => {
  let echo: EchoServer
  let proxy: FaultProxy
  const clients: Client[] = []
  const client = (): Client => {
    const c = new Client(proxy.port)
    clients.push(c)
    return c
  }

  beforeEach(async () => {
    echo = await startEcho()
    proxy = await FaultProxy.start({ targetPort: echo.port })
  })

  afterEach(async () => {
    for (const c of clients.splice(0)) c.socket.destroy()
    await proxy.close()
    for (const socket of echo.sockets) socket.destroy()
    await new Promise<void>((resolve) => echo.server.close(() => resolve()))
  })

  it('passes bytes through both ways, counts them and the connection', async () => {
    const c = client()
    c.socket.write('hello')
    await until(() => c.received.toString() === 'hello', 'echo')
    expect(proxy.connections).toBe(1)
    expect(proxy.stats).toMatchObject({ bytesToTarget: 5, bytesFromTarget: 5, accepted: 1, refused: 0 })

    // A large payload exercises backpressure and arrives intact.
    const big = Buffer.alloc(4 * 1024 * 1024)
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff
    c.clear()
    c.socket.write(big)
    await until(() => c.receivedBytes === big.length, 'big echo')
    expect(c.received.equals(big)).toBe(true)
    expect(proxy.stats.bytesToTarget).toBe(5 + big.length)

    c.socket.end()
    await until(() => c.closed && proxy.connections === 0, 'orderly close through the proxy')
  })

  it('cut closes live connections and refuses new ones without reaching the target; restore heals', async () => {
    const live = client()
    live.socket.write('x')
    await until(() => live.receivedBytes === 1, 'first echo')
    expect(echo.connectionsSeen).toBe(1)

    proxy.cut()
    expect(proxy.isCut).toBe(true)
    await until(() => live.closed, 'live connection closed by the cut')
    expect(proxy.connections).toBe(0)

    const refused = client()
    refused.socket.write('lost')
    await until(() => refused.closed, 'new connection closed while cut')
    expect(refused.receivedBytes).toBe(0)
    expect(echo.connectionsSeen).toBe(1)
    expect(proxy.stats.refused).toBe(1)

    proxy.restore()
    const healed = client()
    healed.socket.write('again')
    await until(() => healed.received.toString() === 'again', 'echo after restore')
    expect(echo.connectionsSeen).toBe(2)
  })

  it('blackhole mode holds new connections open but forwards nothing; restore resets them', async () => {
    proxy.cut('blackhole')
    const held = client()
    await until(() => held.connected && proxy.blackholed === 1, 'blackholed connection')
    held.socket.write('into the void')
    const before = proxy.stats
    proxy.restore()
    await until(() => held.closed, 'blackholed connection reset on restore')
    expect(held.receivedBytes).toBe(0)
    expect(echo.connectionsSeen).toBe(0)
    expect(echo.bytesSeen).toBe(0)
    expect(before).toMatchObject({ bytesToTarget: 0, bytesFromTarget: 0, refused: 1 })
  })

  it('delays each direction by at least the set delay', async () => {
    const c = client()
    c.socket.write('warm')
    await until(() => c.receivedBytes === 4, 'warm-up echo')
    const delayMs = 60
    proxy.setDelay(delayMs)
    const sentAt = performance.now()
    c.socket.write('slow')
    await until(() => c.receivedBytes === 8, 'delayed echo')
    const lastArrival = c.arrivals.at(-1)
    expect(lastArrival).toBeDefined()
    // Two hops through the proxy (out and back); only the lower bound is meaningful.
    expect(lastArrival!.at - sentAt).toBeGreaterThanOrEqual(2 * delayMs)
    expect(() => proxy.setDelay(-1)).toThrow(RangeError)
  })

  it('preserves order under delay, also when the delay drops mid-stream', async () => {
    const c = client()
    await until(() => c.connected, 'connect')
    const sent: Buffer[] = []
    const delays = [25, 0, 10, 0, 40, 0]
    for (let i = 0; i < 240; i++) {
      if (i % 40 === 0) proxy.setDelay(delays[i / 40]!)
      const chunk = Buffer.from(`<${i}>`)
      sent.push(chunk)
      c.socket.write(chunk)
      // Spread writes over event-loop turns so the proxy sees many separate chunks.
      await new Promise((resolve) => setImmediate(resolve))
    }
    const expected = Buffer.concat(sent)
    await until(() => c.receivedBytes >= expected.length, 'all chunks echoed')
    expect(c.received.toString()).toBe(expected.toString())
  })
})

describe('FaultProxy with several targets', () => {
  it('starts each connection at the next target, skips one that refuses, and a cut reaches none', async () => {
    const echoes = [await startEcho(), await startEcho(), await startEcho()]
    const proxy = await FaultProxy.start({ targetPort: echoes[0]!.port, alternatePorts: [echoes[1]!.port, echoes[2]!.port] })
    const clients: Client[] = []
    const roundTrip = async (text: string): Promise<Client> => {
      const c = new Client(proxy.port)
      clients.push(c)
      c.socket.write(text)
      await until(() => c.received.toString() === text, `echo of ${text}`)
      return c
    }
    try {
      for (const t of ['a', 'b', 'c']) await roundTrip(t)
      expect(echoes.map((e) => e.connectionsSeen)).toEqual([1, 1, 1])

      // the second target goes away: its turn falls to the third, bytes sent meanwhile arrive whole
      for (const s of echoes[1]!.sockets) s.destroy()
      await new Promise<void>((resolve) => echoes[1]!.server.close(() => resolve()))
      for (const t of ['d', 'e', 'f']) await roundTrip(t)
      expect(echoes.map((e) => e.connectionsSeen)).toEqual([2, 1, 3])

      proxy.cut()
      const refused = new Client(proxy.port)
      clients.push(refused)
      refused.socket.write('lost')
      await until(() => refused.closed, 'a new connection closed while cut')
      expect(echoes.map((e) => e.connectionsSeen)).toEqual([2, 1, 3])
    } finally {
      for (const c of clients) c.socket.destroy()
      await proxy.close()
      for (const e of echoes) {
        for (const s of e.sockets) s.destroy()
        await new Promise<void>((resolve) => e.server.close(() => resolve()))
      }
    }
  })
})
