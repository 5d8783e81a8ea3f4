import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type S3rver from 's3rver'
import { afterAll, beforeAll } from 'vitest'

/** Options of {@link S3Server.start}. */
export interface S3ServerOptions {
  /** Buckets created before the server accepts requests (default: `mailweave`). */
  buckets?: string[]
  /** Port to listen on (default 0: any free one); a restart reuses the port it had. */
  port?: number
}

/**
 * An in-process S3 server (s3rver) on 127.0.0.1, objects kept as files in a temporary
 * directory that {@link stop} removes. It checks request signatures against the access key
 * `S3RVER` / secret `S3RVER` ({@link credentials}). For API conformance tests of S3 clients:
 * it speaks the S3 REST protocol, not S3's durability or consistency guarantees.
 */
export class S3Server {
  /** The credentials the server accepts. */
  static readonly credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const

  private server: S3rver | undefined
  private port_ = 0

  private constructor(
    /** Where the objects live (removed by {@link stop}). */
    readonly dir: string,
    private readonly buckets: string[],
  ) {}

  /** Starts a server on 127.0.0.1 and creates the buckets. */
  static async start(options: S3ServerOptions = {}): Promise<S3Server> {
    const dir = await mkdtemp(join(tmpdir(), 'mailweave-s3-'))
    const s = new S3Server(dir, options.buckets ?? ['mailweave'])
    try {
      await s.listen(options.port ?? 0)
    } catch (e) {
      await rm(dir, { recursive: true, force: true })
      throw e
    }
    return s
  }

  /** `http://127.0.0.1:<port>`, the endpoint to give an S3 client (path-style addressing). */
  get endpoint(): string {
    return `http://127.0.0.1:${this.port_}`
  }

  /** The port it listens on (kept across {@link halt} and {@link resume}). */
  get port(): number {
    return this.port_
  }

  /** Whether it accepts requests. */
  get running(): boolean {
    return this.server !== undefined
  }

  /** Stops answering at once (open connections are cut), keeping the objects: "the S3 service is down". */
  async halt(): Promise<void> {
    const server = this.server
    if (server === undefined) return
    this.server = undefined
    const closed = server.close()
    server.httpServer?.closeAllConnections()
    await closed
  }

  /** Listens again on the same port with the same objects. */
  async resume(): Promise<void> {
    if (this.server === undefined) await this.listen(this.port_)
  }

  /** Stops the server and removes its objects. */
  async stop(): Promise<void> {
    await this.halt()
    await rm(this.dir, { recursive: true, force: true })
  }

  private async listen(port: number): Promise<void> {
    // loaded on first use: importing it (Koa, winston) takes about half a second, which every
    // test file importing testkit would pay otherwise
    const { default: S3rverServer } = await import('s3rver')
    const server = new S3rverServer({
      address: '127.0.0.1',
      port,
      silent: true,
      directory: this.dir,
      vhostBuckets: false,
      configureBuckets: this.buckets.map((name) => ({ name })),
    })
    const addr = await server.run()
    this.server = server
    this.port_ = addr.port
  }
}

/** Starts an {@link S3Server} before the file's tests and stops it after; call at a test file's top level. */
export function useS3Server(options: S3ServerOptions = {}): () => S3Server {
  let server: S3Server | undefined
  beforeAll(async () => {
    server = await S3Server.start(options)
  })
  afterAll(async () => {
    await server?.stop()
  })
  return () => {
    if (server === undefined) throw new Error('the S3 server is not running (useS3Server must be called at the top level of a test file)')
    return server
  }
}
