declare module 's3rver' {
  import type { Server } from 'node:http'
  /** The fake S3 server (jamhall/s3rver): Koa, objects as files under `directory`. */
  export default class S3rver {
    constructor(options: {
      address?: string
      port?: number
      silent?: boolean
      directory?: string
      resetOnClose?: boolean
      allowMismatchedSignatures?: boolean
      vhostBuckets?: boolean
      configureBuckets?: { name: string }[]
    })
    run(): Promise<{ address: string; family: string; port: number }>
    close(): Promise<void>
    httpServer?: Server
  }
}
