// A region with its bodies in S3 (`mailweave serve --store postgres://… --blobs s3://…`): a real
// node process on a private PostgreSQL server, bodies in an in-process S3 server (s3rver), both
// started by this file. IMAP APPENDs put the body in the bucket (not in PostgreSQL), the node is
// killed and started again, and FETCH returns the bytes; while S3 is down APPEND answers NO and
// the node keeps serving.
import { createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ImapFlow } from 'imapflow'
import { PgBlobStore, PgDatabase } from '@mailweave/storage-postgres'
import { S3BlobStore } from '@mailweave/storage-s3'
import { PostgresServer, S3Server } from '@mailweave/testkit'
import { ProcessCluster } from '@mailweave/testkit-cluster'

const USER = 'sam'
const PASS = 's3-pass-1'
const raw = (id: string) =>
  `From: s3@example.org\r\nTo: sam@example.org\r\nSubject: ${id}\r\nMessage-ID: <${id}>\r\n\r\nbody of ${id}, kept in a bucket\r\n`
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex')

const collect = async (it: AsyncIterable<string>): Promise<string[]> => {
  const out: string[] = []
  for await (const k of it) out.push(k)
  return out
}

describe('a region on PostgreSQL with its bodies in S3', () => {
  let pg: PostgresServer
  let s3: S3Server
  let cluster: ProcessCluster
  beforeAll(async () => {
    ;[pg, s3] = await Promise.all([PostgresServer.start(), S3Server.start()])
    cluster = await ProcessCluster.start({
      nodes: ['eu'],
      imap: true,
      proxies: false,
      node: () => ({
        args: ['--store', pg.url(), '--blobs', `s3://mailweave/region-eu?endpoint=${s3.endpoint}&region=us-east-1&attempts=2&timeout=5000`],
        env: { AWS_ACCESS_KEY_ID: S3Server.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: S3Server.credentials.secretAccessKey },
      }),
    })
    await cluster.addUser(USER, PASS)
  }, 180_000)
  afterAll(async () => {
    await cluster?.stop()
    await pg?.stop()
    await s3?.stop()
  })

  const connect = async () => {
    const f = new ImapFlow({
      host: '127.0.0.1',
      port: cluster.nodes[0]!.imapPort,
      secure: false,
      auth: { user: USER, pass: PASS },
      logger: false,
    })
    f.on('error', () => {})
    await f.connect()
    return f
  }

  it('APPEND puts the body in the bucket, not in PostgreSQL; after kill -9 and a restart FETCH returns it', async () => {
    const ids = ['a1@s3', 'a2@s3', 'a3@s3']
    const uids = new Map<string, number>()
    const f = await connect()
    for (const id of ids) {
      const r = await f.append('INBOX', raw(id))
      if (!r || typeof r.uid !== 'number') throw new Error('APPEND without APPENDUID')
      uids.set(id, r.uid)
    }
    await f.logout()

    const bucket = await S3BlobStore.open({
      bucket: 'mailweave',
      prefix: 'region-eu',
      endpoint: s3.endpoint,
      credentials: S3Server.credentials,
    })
    const db = await PgDatabase.connect({ url: pg.url() })
    try {
      expect((await collect(bucket.keys())).sort()).toEqual(ids.map((id) => sha256(raw(id))).sort())
      expect(await collect(new PgBlobStore(db).keys())).toEqual([])
    } finally {
      await bucket.close()
      await db.close()
    }

    await cluster.nodes[0]!.kill()
    await cluster.nodes[0]!.start()
    const g = await connect()
    try {
      await g.mailboxOpen('INBOX')
      for (const id of ids) {
        const m = await g.fetchOne(String(uids.get(id)), { source: true }, { uid: true })
        expect(m && m.source?.toString('utf8')).toBe(raw(id))
      }
    } finally {
      await g.logout()
    }
  }, 180_000)

  it('while S3 is down APPEND answers NO and the node keeps serving; once it is back APPEND and FETCH work', async () => {
    const f = await connect()
    try {
      await s3.halt()
      const refused = await f.append('INBOX', raw('down@s3')).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(refused, 'APPEND while S3 is down').toBeInstanceOf(Error)
      // the node still answers, and nothing was shown for the refused message
      const status = await f.status('INBOX', { messages: true })
      expect(status && status.messages).toBe(3)
      await s3.resume()
      const r = await f.append('INBOX', raw('back@s3'))
      if (!r || typeof r.uid !== 'number') throw new Error('APPEND without APPENDUID')
      await f.mailboxOpen('INBOX')
      const m = await f.fetchOne(String(r.uid), { source: true }, { uid: true })
      expect(m && m.source?.toString('utf8')).toBe(raw('back@s3'))
    } finally {
      await s3.resume()
      await f.logout().catch(() => {})
    }
  }, 120_000)
})
