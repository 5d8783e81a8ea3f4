import { readFileSync } from 'node:fs'
import { NodeApi } from '@mailweave/client'
import { adminToken } from '@mailweave/server'

/** Reads a cluster secret file (any bytes; trailing newline ignored). */
export function readSecret(file: string): Uint8Array {
  const raw = readFileSync(file)
  const text = raw.toString('utf8').trim()
  return new Uint8Array(Buffer.from(text.length > 0 ? text : raw))
}

/** The HTTP API client of `url` authenticated with the admin token of the cluster secret in `secretFile`. */
export const adminApi = (url: string, secretFile: string): NodeApi => new NodeApi(url, { token: adminToken(readSecret(secretFile)) })
