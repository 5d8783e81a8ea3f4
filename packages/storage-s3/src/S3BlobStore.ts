import { createHash } from 'node:crypto'
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3'
import { isBlobKey, StorageError, type BlobStore } from '@mailweave/core'

/** Options of {@link S3BlobStore.open}. */
export interface S3BlobStoreOptions {
  /** The bucket (it must exist: `open` checks it). */
  bucket: string
  /** Key prefix, e.g. `region-eu/` (a missing trailing `/` is added); default: the bucket's root. */
  prefix?: string
  /** Another S3 service than AWS (MinIO, Ceph, a test server): `http(s)://host:port`; path-style addressing is used then. */
  endpoint?: string
  /** The region; default: the SDK's chain (`AWS_REGION`, `~/.aws/config`), else `us-east-1` when an endpoint is given. */
  region?: string
  /** Explicit credentials; default: the SDK's chain (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, profiles, instance roles). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }
  /** Attempts per request, retries with the SDK's jittered exponential backoff (default 3). */
  maxAttempts?: number
  /** Bound of opening a connection, in ms (default 5,000). */
  connectTimeoutMs?: number
  /** Bound of one whole operation with its retries, in ms (default 60,000): then it fails with `IO`. */
  operationTimeoutMs?: number
  /** Keys per ListObjectsV2 page of {@link S3BlobStore.keys} (default and S3's maximum: 1,000). */
  pageSize?: number
}

const sha256 = (bytes: Uint8Array): Buffer => createHash('sha256').update(bytes).digest()

/** The error's name and HTTP status, whatever the SDK threw. */
function describe(err: unknown): { name: string; status: number | undefined; message: string } {
  const e = err as { name?: unknown; message?: unknown; $metadata?: { httpStatusCode?: number } } | null
  return {
    name: typeof e?.name === 'string' ? e.name : 'Error',
    status: e?.$metadata?.httpStatusCode,
    message: typeof e?.message === 'string' && e.message !== '' ? e.message : String(err),
  }
}

/**
 * A content-addressed {@link BlobStore} in an S3 bucket (AWS SDK v3), one object per body
 * under `<prefix><sha-256 hex>`. `put` refuses bytes that do not hash to their key
 * (`HASH_MISMATCH`, nothing sent), sends the SHA-256 along so the service verifies the upload,
 * and resolves only once PutObject answered 200: the object is durable as far as the service
 * promises. A put of an existing key writes the same bytes again (harmless, and it repairs a
 * damaged object). `get` re-hashes what it read: bytes that do not match their key reject with
 * `CORRUPT` (as PgBlobStore does), never come back as other bytes. A missing key is `undefined`
 * / `false`, never an error; every other failure (service down, timeout, access denied) rejects
 * with an `IO` StorageError naming the operation, after at most `maxAttempts` tries within
 * `operationTimeoutMs`. Credentials are never part of an error or a description.
 */
export class S3BlobStore implements BlobStore {
  private constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly prefix: string,
    private readonly operationTimeoutMs: number,
    private readonly pageSize: number,
    /** `s3://bucket/prefix` and the endpoint, for logs and status. */
    readonly description: string,
  ) {}

  /** Makes the client and checks that the bucket answers (HeadBucket): a missing bucket, bad credentials or an unreachable service reject here with `IO`. */
  static async open(options: S3BlobStoreOptions): Promise<S3BlobStore> {
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(options.bucket))
      throw new StorageError('IO', `invalid S3 bucket name ${JSON.stringify(options.bucket)}: 3-63 lowercase letters, digits, '.' and '-'`)
    const prefix = options.prefix === undefined || options.prefix === '' ? '' : options.prefix.replace(/\/*$/, '/')
    if (prefix.startsWith('/'))
      throw new StorageError('IO', `invalid S3 key prefix ${JSON.stringify(options.prefix)}: it must not start with '/'`)
    const pageSize = options.pageSize ?? 1000
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000)
      throw new StorageError('IO', `S3 page size must be 1..1000, got ${pageSize}`)
    const region =
      options.region ??
      (options.endpoint !== undefined ? (process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1') : undefined)
    const client = new S3Client({
      region,
      endpoint: options.endpoint,
      forcePathStyle: options.endpoint !== undefined,
      credentials: options.credentials,
      maxAttempts: options.maxAttempts ?? 3,
      requestHandler: { connectionTimeout: options.connectTimeoutMs ?? 5000, requestTimeout: 30_000 },
    })
    const where = `s3://${options.bucket}/${prefix}${options.endpoint !== undefined ? ` at ${options.endpoint}` : ''}`
    const store = new S3BlobStore(client, options.bucket, prefix, options.operationTimeoutMs ?? 60_000, pageSize, where)
    try {
      await store.run(`cannot open the S3 blob store ${where}`, (abortSignal) =>
        client.send(new HeadBucketCommand({ Bucket: options.bucket }), { abortSignal }),
      )
    } catch (e) {
      client.destroy()
      const { status } = describe((e as StorageError).cause)
      if (status === 404) throw new StorageError('IO', `cannot open the S3 blob store ${where}: the bucket does not exist`, { cause: e })
      if (status === 403)
        throw new StorageError('IO', `cannot open the S3 blob store ${where}: access denied (check the credentials)`, { cause: e })
      throw e
    }
    return store
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    const digest = sha256(bytes)
    if (!isBlobKey(key) || digest.toString('hex') !== key) throw new StorageError('HASH_MISMATCH', `blob bytes do not hash to ${key}`)
    const out = await this.run(`cannot store blob ${key} in S3`, (abortSignal) =>
      this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.prefix + key,
          Body: bytes,
          ContentLength: bytes.byteLength,
          ContentType: 'message/rfc822',
          ChecksumSHA256: digest.toString('base64'),
        }),
        { abortSignal },
      ),
    )
    // durable-before-ack: only a 200 from the service counts as stored
    if (out.$metadata.httpStatusCode !== 200)
      throw new StorageError('IO', `cannot store blob ${key} in S3: PutObject answered ${out.$metadata.httpStatusCode ?? 'no status'}`)
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    if (!isBlobKey(key)) return undefined
    const what = `cannot read blob ${key} from S3`
    const bytes = await this.run(what, async (abortSignal) => {
      try {
        const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }), { abortSignal })
        if (out.Body === undefined) throw new StorageError('IO', `${what}: GetObject answered without a body`)
        return await out.Body.transformToByteArray()
      } catch (e) {
        if (describe(e).name === 'NoSuchKey') return undefined
        throw e
      }
    })
    if (bytes === undefined) return undefined
    if (sha256(bytes).toString('hex') !== key)
      throw new StorageError('CORRUPT', `blob ${key} in S3 does not hash to its key (${bytes.byteLength} bytes read)`)
    return bytes
  }

  async has(key: string): Promise<boolean> {
    if (!isBlobKey(key)) return false
    return this.run(`cannot look up blob ${key} in S3`, async (abortSignal) => {
      try {
        await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }), { abortSignal })
        return true
      } catch (e) {
        // HEAD answers have no body, so a missing key is a bare 404 (the bucket was checked at open)
        if (describe(e).status === 404) return false
        throw e
      }
    })
  }

  async delete(key: string): Promise<void> {
    if (!isBlobKey(key)) return
    // S3 answers 204 for a key that is not there: deleting twice is fine
    await this.run(`cannot delete blob ${key} from S3`, (abortSignal) =>
      this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }), { abortSignal }),
    )
  }

  /** Every key under the prefix, by ListObjectsV2 pages of `pageSize` (never all at once); other objects under the prefix are skipped. */
  async *keys(): AsyncIterable<string> {
    let token: string | undefined
    do {
      const page = await this.run('cannot list blobs in S3', (abortSignal) =>
        this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: this.prefix,
            Delimiter: '/',
            MaxKeys: this.pageSize,
            ContinuationToken: token,
          }),
          { abortSignal },
        ),
      )
      for (const o of page.Contents ?? []) {
        const name = o.Key?.slice(this.prefix.length)
        if (name !== undefined && isBlobKey(name)) yield name
      }
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined
    } while (token !== undefined)
  }

  /** Closes the client's connections. */
  async close(): Promise<void> {
    this.client.destroy()
  }

  /** Runs one operation (with the SDK's retries) under the operation deadline; maps every failure to a StorageError. */
  private async run<T>(what: string, op: (abortSignal: AbortSignal) => Promise<T>): Promise<T> {
    const abortSignal = AbortSignal.timeout(this.operationTimeoutMs)
    try {
      return await op(abortSignal)
    } catch (e) {
      if (e instanceof StorageError) throw e
      const { name, status, message } = describe(e)
      const why = abortSignal.aborted
        ? `no answer within ${this.operationTimeoutMs} ms`
        : `${name}${status !== undefined ? ` (HTTP ${status})` : ''}: ${message}`
      throw new StorageError('IO', `${what}: ${why}`, { cause: e })
    }
  }
}
