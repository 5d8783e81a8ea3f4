import * as net from 'node:net'
import type { Duplex } from 'node:stream'

/** Where a user's sessions are served (see {@link ImapBackend.route}). */
export type ImapRoute =
  | { readonly kind: 'local' }
  /** Another IMAP server of the same deployment holds the account: the session is proxied to it. */
  | { readonly kind: 'forward'; readonly host: string; readonly port: number }
  /** Nowhere now: the login is refused with `NO [UNAVAILABLE]` and the client tries again later. */
  | { readonly kind: 'unavailable'; readonly reason: string }

/** A connection to the server holding an account, logged in as the user. */
export interface UpstreamSession {
  readonly socket: net.Socket
  /** The capabilities the upstream's tagged OK named (what the client expects after login), if it did. */
  readonly capabilities: string[] | undefined
  /** The text of the upstream's tagged OK. */
  readonly text: string
  /** Bytes the upstream sent after its tagged OK (to pass on to the client first). */
  readonly rest: Buffer
}

/** Why {@link loginUpstream} failed: `refused` when the upstream answered the login with NO/BAD. */
export class UpstreamError extends Error {
  override readonly name = 'UpstreamError'
  constructor(
    readonly kind: 'unreachable' | 'refused',
    message: string,
  ) {
    super(message)
  }
}

const TAG = 'mwproxy1'
const MAX_LINE = 64 * 1024

/**
 * Dials the IMAP server at `target`, reads its greeting and logs in as `user` with
 * AUTHENTICATE PLAIN (SASL-IR, one round trip); resolves once its tagged OK arrived, with
 * everything the upstream said on the way hidden from the client. Rejects with an
 * {@link UpstreamError} (and leaves no socket open) when the server cannot be reached or
 * greeted within `timeoutMs`, or refuses the login.
 */
export function loginUpstream(
  target: { host: string; port: number },
  user: string,
  password: string,
  timeoutMs = 10_000,
): Promise<UpstreamSession> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: target.host, port: target.port })
    socket.setNoDelay(true)
    let buf = Buffer.alloc(0)
    let greeted = false
    let done = false
    const fail = (kind: UpstreamError['kind'], message: string) => {
      if (done) return
      done = true
      clearTimeout(timer)
      socket.destroy()
      reject(new UpstreamError(kind, message))
    }
    const timer = setTimeout(() => fail('unreachable', `no answer from ${target.host}:${target.port} within ${timeoutMs} ms`), timeoutMs)
    timer.unref()
    socket.on('error', (e) => fail('unreachable', `${target.host}:${target.port}: ${e.message}`))
    socket.on('close', () => fail('unreachable', `${target.host}:${target.port} closed the connection during login`))
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk])
      for (;;) {
        const lf = buf.indexOf(0x0a)
        if (lf < 0) {
          if (buf.length > MAX_LINE) fail('unreachable', `${target.host}:${target.port} sent a line longer than ${MAX_LINE} bytes`)
          return
        }
        const line = buf.toString('utf8', 0, lf).replace(/\r$/, '')
        buf = buf.subarray(lf + 1)
        if (!greeted) {
          if (!/^\* OK\b/i.test(line))
            return fail('unreachable', `${target.host}:${target.port} greeted with ${JSON.stringify(line.slice(0, 200))}`)
          greeted = true
          const sasl = Buffer.from(`\0${user}\0${password}`, 'utf8').toString('base64')
          socket.write(`${TAG} AUTHENTICATE PLAIN ${sasl}\r\n`)
          continue
        }
        // untagged lines answer the login, not anything the client asked: hidden
        if (line.startsWith('* ')) continue
        if (line.startsWith('+')) return fail('refused', 'the upstream asked for more than SASL-IR PLAIN')
        const m = /^(\S+) (OK|NO|BAD)\b ?(.*)$/i.exec(line)
        if (m === null || m[1] !== TAG)
          return fail('unreachable', `unexpected line from the upstream: ${JSON.stringify(line.slice(0, 200))}`)
        if (m[2]!.toUpperCase() !== 'OK') return fail('refused', m[3] ?? '')
        done = true
        clearTimeout(timer)
        socket.off('data', onData)
        socket.removeAllListeners('close')
        socket.removeAllListeners('error')
        const caps = /^\[CAPABILITY ([^\]]*)\] ?(.*)$/i.exec(m[3] ?? '')
        resolve({
          socket,
          capabilities: caps === null ? undefined : caps[1]!.split(' ').filter((c) => c !== ''),
          text: caps === null ? (m[3] ?? '') : caps[2]!,
          rest: buf,
        })
        return
      }
    }
    socket.on('data', onData)
  })
}

/** A client connection spliced onto an upstream session. */
export interface ProxiedConnection {
  /** Closes both sides at once (server shutdown). */
  destroy(): void
}

/**
 * Pipes `client` and `upstream` both ways: `toUpstream` (what the client sent that the local
 * session had read but not run) goes first, then `upstream.rest`. When either side ends the
 * other is ended (an upstream `* BYE` reaches the client before its connection closes) and
 * destroyed 2 s later at the latest; `onClosed` runs once both are closed.
 */
export function spliceToUpstream(client: Duplex, up: UpstreamSession, toUpstream: Buffer, onClosed: () => void): ProxiedConnection {
  const upstream = up.socket
  let open = 2
  const closed = () => {
    if (--open === 0) onClosed()
  }
  const endOther = (other: Duplex) => () => {
    other.end()
    setTimeout(() => other.destroy(), 2000).unref()
  }
  client.on('error', () => client.destroy())
  upstream.on('error', () => upstream.destroy())
  client.once('close', closed)
  upstream.once('close', closed)
  client.once('close', endOther(upstream))
  upstream.once('close', endOther(client))
  if (up.rest.length > 0) client.write(up.rest)
  if (toUpstream.length > 0) upstream.write(toUpstream)
  client.pipe(upstream)
  upstream.pipe(client)
  client.resume()
  return {
    destroy: () => {
      client.destroy()
      upstream.destroy()
    },
  }
}
