// S3BlobStore against an in-process S3 server (s3rver on 127.0.0.1, port 0) that this file
// starts: the shared BlobStore conformance suite (a fresh key prefix per test, so one bucket
// serves them all), then what only S3 has: prefixes, paginated listing, foreign objects under
// the prefix, a damaged object, a missing bucket, bad credentials, the service going down.
import { createServer, type Socket } from 'node:net'
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { describe, expect, it } from 'vitest'
import { StorageError } from '@mailweave/core'
import { blobStoreConformance, sha256Hex, testBytes } from '@mailweave/core/conformance'
import { S3Server, useS3Server } from '@mailweave/testkit'
import { parseS3Url, S3BlobStore, type S3BlobStoreOptions } from '../src/index.ts'

const server = useS3Server({ buckets: ['mailweave', 'other'] })

let prefixes = 0
const options = (extra: Partial<S3BlobStoreOptions> = {}): S3BlobStoreOptions => ({
  bucket: 'mailweave',
  prefix: `t${++prefixes}`,
  endpoint: server().endpoint,
  region: 'us-east-1',
  credentials: S3Server.credentials,
  ...extra,
})

/** A raw client on the same server, to put what the store itself never would. */
const rawClient = () =>
  new S3Client({ endpoint: server().endpoint, region: 'us-east-1', forcePathStyle: true, credentials: S3Server.credentials })

const collect = async (it: AsyncIterable<string>): Promise<string[]> => {
  const out: string[] = []
  for await (const k of it) out.push(k)
  return out.sort()
}

const rejection = async (p: Promise<unknown>): Promise<StorageError> => {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  )
  expect(e).toBeInstanceOf(StorageError)
  return e as StorageError
}

blobStoreConformance('S3BlobStore', async () => {
  const opts = options()
  const stores: S3BlobStore[] = []
  const open = async () => {
    const s = await S3BlobStore.open(opts)
    stores.push(s)
    return s
  }
  return {
    store: await open(),
    reopen: open,
    cleanup: async () => {
      for (const s of stores) await s.close()
    },
  }
})

describe('S3BlobStore on S3', () => {
  it('keeps each prefix to itself and lists past a page in several ListObjectsV2 calls', async () => {
    const a = await S3BlobStore.open(options({ pageSize: 7 }))
    const b = await S3BlobStore.open(options({ pageSize: 7 }))
    try {
      const blobs = Array.from({ length: 25 }, (_, i) => testBytes(10 + i, i + 1))
      const keys = blobs.map(sha256Hex)
      await Promise.all(blobs.map((x, i) => a.put(keys[i]!, x)))
      await b.put(keys[0]!, blobs[0]!)
      expect(await collect(a.keys())).toEqual([...keys].sort())
      expect(await collect(b.keys())).toEqual([keys[0]])
      await b.delete(keys[0]!)
      expect(await a.has(keys[0]!)).toBe(true)
      expect(await b.has(keys[0]!)).toBe(false)
    } finally {
      await a.close()
      await b.close()
    }
  })

  it('skips objects under the prefix that are not blob keys', async () => {
    const opts = options()
    const store = await S3BlobStore.open(opts)
    const raw = rawClient()
    try {
      const blob = testBytes(50, 7)
      await store.put(sha256Hex(blob), blob)
      await raw.send(new PutObjectCommand({ Bucket: 'mailweave', Key: `${opts.prefix}/README`, Body: 'not a blob' }))
      await raw.send(new PutObjectCommand({ Bucket: 'mailweave', Key: `${opts.prefix}/sub/${sha256Hex(blob)}`, Body: blob }))
      expect(await collect(store.keys())).toEqual([sha256Hex(blob)])
    } finally {
      raw.destroy()
      await store.close()
    }
  })

  it('refuses bytes that do not hash to the key and sends nothing', async () => {
    const store = await S3BlobStore.open(options())
    try {
      const blob = testBytes(100, 3)
      const e = await rejection(store.put(sha256Hex(testBytes(100, 4)), blob))
      expect(e.code).toBe('HASH_MISMATCH')
      expect((await rejection(store.put('not-a-key', blob))).code).toBe('HASH_MISMATCH')
      expect(await collect(store.keys())).toEqual([])
      // keys that are not blob keys are absent, not errors
      expect(await store.get('../x')).toBeUndefined()
      expect(await store.has('NOTHEX')).toBe(false)
    } finally {
      await store.close()
    }
  })

  it('reports an object whose bytes do not match its key as CORRUPT, and a put repairs it', async () => {
    const opts = options()
    const store = await S3BlobStore.open(opts)
    const raw = rawClient()
    try {
      const blob = testBytes(300, 9)
      const key = sha256Hex(blob)
      const damaged = blob.slice()
      damaged[17] = damaged[17]! ^ 0x01
      await raw.send(new PutObjectCommand({ Bucket: 'mailweave', Key: `${opts.prefix}/${key}`, Body: damaged }))
      const e = await rejection(store.get(key))
      expect(e.code).toBe('CORRUPT')
      expect(e.message).toContain(key)
      await store.put(key, blob)
      expect(Buffer.from((await store.get(key)) ?? []).equals(Buffer.from(blob))).toBe(true)
    } finally {
      raw.destroy()
      await store.close()
    }
  })

  // (wrong credentials are not tested: s3rver does not verify SigV4 signatures)
  it('refuses to open on a missing bucket or a bad bucket name, with a clear IO error', async () => {
    const missing = await rejection(S3BlobStore.open(options({ bucket: 'no-such-bucket' })))
    expect(missing.code).toBe('IO')
    expect(missing.message).toMatch(/no-such-bucket.*does not exist/)
    expect((await rejection(S3BlobStore.open(options({ bucket: 'Bad_Bucket' })))).message).toMatch(/invalid S3 bucket name/)
  })

  it('fails with an IO StorageError, without crashing, while the service is down, and works again once it is back', async () => {
    const own = await S3Server.start()
    const store = await S3BlobStore.open({
      bucket: 'mailweave',
      endpoint: own.endpoint,
      region: 'us-east-1',
      credentials: S3Server.credentials,
      maxAttempts: 2,
      operationTimeoutMs: 10_000,
    })
    try {
      const blob = testBytes(1000, 21)
      const key = sha256Hex(blob)
      await store.put(key, blob)
      await own.halt()
      const ops = [
        () => store.put(sha256Hex(testBytes(9, 1)), testBytes(9, 1)),
        () => store.get(key),
        () => store.has(key),
        () => store.delete(key),
        () => collect(store.keys()),
      ]
      for (const op of ops) {
        const e = await rejection(op())
        expect(e.code).toBe('IO')
        expect(e.message).toMatch(/S3/)
      }
      await own.resume()
      expect(Buffer.from((await store.get(key)) ?? []).equals(Buffer.from(blob))).toBe(true)
      const down = await rejection(
        S3BlobStore.open({
          bucket: 'mailweave',
          endpoint: 'http://127.0.0.1:1',
          region: 'us-east-1',
          credentials: S3Server.credentials,
          maxAttempts: 1,
        }),
      )
      expect(down.code).toBe('IO')
    } finally {
      await store.close()
      await own.stop()
    }
  })

  it('bounds an operation the service never answers by the operation timeout', async () => {
    // a listener that accepts and never answers: the deadline, not the SDK's retries, ends it
    const sockets: Socket[] = []
    const silent = createServer((s) => void sockets.push(s))
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r))
    const port = (silent.address() as { port: number }).port
    try {
      const t0 = Date.now()
      const e = await rejection(
        S3BlobStore.open({
          bucket: 'mailweave',
          endpoint: `http://127.0.0.1:${port}`,
          region: 'us-east-1',
          credentials: S3Server.credentials,
          operationTimeoutMs: 500,
        }),
      )
      expect(e.message).toMatch(/no answer within 500 ms/)
      expect(Date.now() - t0).toBeLessThan(20_000)
    } finally {
      for (const s of sockets) s.destroy()
      await new Promise((r) => silent.close(r))
    }
  })
})

describe('parseS3Url', () => {
  it('reads bucket, prefix, endpoint, region and bounds', () => {
    expect(
      parseS3Url('s3://mail-eu/region/eu?endpoint=http://127.0.0.1:9000&region=eu-west-1&timeout=5000&attempts=2&page-size=100'),
    ).toEqual({
      bucket: 'mail-eu',
      prefix: 'region/eu',
      endpoint: 'http://127.0.0.1:9000',
      region: 'eu-west-1',
      operationTimeoutMs: 5000,
      maxAttempts: 2,
      pageSize: 100,
    })
    expect(parseS3Url('s3://mail')).toEqual({ bucket: 'mail' })
  })

  it('refuses credentials in the URL without repeating them, unknown parameters and other schemes', () => {
    const bad = (url: string): string => {
      try {
        parseS3Url(url)
      } catch (e) {
        expect(e).toBeInstanceOf(StorageError)
        return (e as Error).message
      }
      throw new Error(`${url} was accepted`)
    }
    const m = bad('s3://AKIAX:supersecret@mail/x')
    expect(m).toMatch(/AWS_ACCESS_KEY_ID/)
    expect(m).not.toContain('supersecret')
    expect(bad('s3://mail?secret=1')).toMatch(/unknown S3 URL parameter "secret"/)
    expect(bad('http://mail/x')).toMatch(/not an S3 URL/)
    expect(bad('s3://mail?timeout=-3')).toMatch(/positive integer/)
    expect(bad('s3://mail?endpoint=ftp://x')).toMatch(/http\(s\)/)
  })
})
