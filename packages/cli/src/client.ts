import { readFileSync } from 'node:fs'
import { InvalidArgumentError } from 'commander'
import { ApiError, NodeApi } from '@mailweave/client'
import { adminToken } from '@mailweave/server'

/** Reads a cluster secret file (any bytes; trailing newline ignored); a missing file is named. */
export function readSecret(file: string): Uint8Array {
  let raw: Buffer
  try {
    raw = readFileSync(file)
  } catch (e) {
    throw new Error(
      `cannot read the secret file ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`,
    )
  }
  const text = raw.toString('utf8').trim()
  return new Uint8Array(Buffer.from(text.length > 0 ? text : raw))
}

/** The HTTP API client of `url` authenticated with the admin token of the cluster secret in `secretFile`. */
export const adminApi = (url: string, secretFile: string): NodeApi => new NodeApi(url, { token: adminToken(readSecret(secretFile)) })

/** Commander parser of `--url`: an http(s) URL, or a usage error saying what was expected. */
export function httpUrl(v: string): string {
  let ok = false
  try {
    ok = ['http:', 'https:'].includes(new URL(v).protocol)
  } catch {
    /* not a URL */
  }
  if (!ok) throw new InvalidArgumentError(`--url ${JSON.stringify(v)} is not a URL (expected e.g. http://127.0.0.1:7100)`)
  return v
}

const NETWORK_CAUSES: Record<string, string> = {
  ECONNREFUSED: 'connection refused, nothing listens there (not running yet, or a wrong address?)',
  ENOTFOUND: 'no such host',
  EAI_AGAIN: 'the host name could not be resolved',
  ECONNRESET: 'the connection was reset',
  ETIMEDOUT: 'the connection timed out',
  EHOSTUNREACH: 'the host is unreachable',
  ENETUNREACH: 'the network is unreachable',
}

/**
 * Turns an API client error into the cause a person can act on: an unreachable node with
 * its network error, a refused admin token (a wrong `--secret-file`, worded the same on
 * every admin command) or a refused login. Other errors pass unchanged.
 */
export function explain(e: unknown, url: string, as: 'admin' | 'user', what = 'the node'): unknown {
  if (!(e instanceof ApiError)) return e
  if (e.code === 'OFFLINE') {
    const code = /\(([A-Z_]+)\)$/.exec(e.message)?.[1]
    return new Error(`cannot reach ${what} at ${url}: ${code !== undefined ? `${NETWORK_CAUSES[code] ?? code} (${code})` : e.message}`)
  }
  if (e.code === 'UNAUTHORIZED' && e.status === 401) {
    return new Error(
      as === 'admin'
        ? `the node at ${url} refused the admin token (401): --secret-file does not hold this cluster's secret`
        : `the node at ${url} refused the login (401): wrong user name or password`,
    )
  }
  return e
}
