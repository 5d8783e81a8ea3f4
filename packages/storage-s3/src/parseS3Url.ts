import { StorageError } from '@mailweave/core'
import type { S3BlobStoreOptions } from './S3BlobStore.ts'

const PARAMS = new Set(['endpoint', 'region', 'page-size', 'timeout', 'attempts'])

/**
 * Reads `s3://bucket[/prefix][?endpoint=http://host:port&region=…&timeout=<ms>&attempts=<n>]`
 * into {@link S3BlobStoreOptions}. Credentials do not belong in the URL (they come from the
 * SDK's chain: `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, profiles, roles): a URL carrying
 * any is refused without repeating them. Unknown parameters are refused by name.
 */
export function parseS3Url(url: string): S3BlobStoreOptions {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    throw new StorageError(
      'IO',
      `not an S3 URL (s3://bucket/prefix?endpoint=…&region=…): ${JSON.stringify(url.replace(/\/\/[^/@]*@/, '//***@'))}`,
    )
  }
  if (u.protocol !== 's3:')
    throw new StorageError('IO', `not an S3 URL (s3://bucket/prefix?endpoint=…&region=…): it starts with ${u.protocol}`)
  if (u.username !== '' || u.password !== '')
    throw new StorageError(
      'IO',
      'an s3:// URL must not carry credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or an AWS profile) instead',
    )
  for (const k of u.searchParams.keys())
    if (!PARAMS.has(k)) throw new StorageError('IO', `unknown S3 URL parameter ${JSON.stringify(k)} (known: ${[...PARAMS].join(', ')})`)
  const num = (k: string): number | undefined => {
    const v = u.searchParams.get(k)
    if (v === null) return undefined
    const n = Number(v)
    if (!Number.isInteger(n) || n < 1)
      throw new StorageError('IO', `S3 URL parameter ${k} must be a positive integer, got ${JSON.stringify(v)}`)
    return n
  }
  const endpoint = u.searchParams.get('endpoint') ?? undefined
  if (endpoint !== undefined && !/^https?:\/\/[^/?#@]+\/?$/.test(endpoint))
    throw new StorageError(
      'IO',
      `S3 endpoint must be http(s)://host[:port], got ${JSON.stringify(endpoint.replace(/\/\/[^/@]*@/, '//***@'))}`,
    )
  const prefix = decodeURIComponent(u.pathname.replace(/^\//, ''))
  return {
    bucket: u.hostname,
    ...(prefix !== '' ? { prefix } : {}),
    ...(endpoint !== undefined ? { endpoint: endpoint.replace(/\/$/, '') } : {}),
    ...(u.searchParams.has('region') ? { region: u.searchParams.get('region')! } : {}),
    ...(num('page-size') !== undefined ? { pageSize: num('page-size') } : {}),
    ...(num('timeout') !== undefined ? { operationTimeoutMs: num('timeout') } : {}),
    ...(num('attempts') !== undefined ? { maxAttempts: num('attempts') } : {}),
  }
}
