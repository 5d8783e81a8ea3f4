import { execFile } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ImapFlow } from 'imapflow'
import { ModelClient, waitFor, type ExposureLike } from '@mailweave/testkit'
import { imapflowView, writeMbsyncrc } from '../scripts/lib/imapClients.ts'
import { ProcessCluster } from '@mailweave/testkit-cluster'

const run = promisify(execFile)
const USER = 'erin'
const PASS = 'imap-pass-1'
const raw = (id: string) =>
  `From: e2e@example.org\r\nTo: erin@example.org\r\nSubject: ${id}\r\nMessage-ID: <${id}>\r\n\r\nbody of ${id}\r\n`

async function imaplib(port: number, ...append: string[]): Promise<ExposureLike> {
  const { stdout } = await run('python3', [join(import.meta.dirname, 'fixtures/imaplib_sync.py'), String(port), USER, PASS, ...append])
  return JSON.parse(stdout) as ExposureLike
}

async function mbsync(dir: string, port: number): Promise<string[]> {
  const maildir = join(dir, 'Maildir')
  mkdirSync(maildir, { recursive: true })
  const rc = writeMbsyncrc(dir, maildir, { account: 'region0', port, user: USER, pass: PASS })
  const { stderr } = await run('mbsync', ['-c', rc, '-a'])
  expect(stderr).not.toMatch(/error/i)
  const ids: string[] = []
  for (const sub of ['cur', 'new']) {
    for (const f of readdirSync(join(maildir, 'INBOX', sub)))
      ids.push(/Message-ID: <([^>]+)>/i.exec(readFileSync(join(maildir, 'INBOX', sub, f), 'utf8'))?.[1] ?? '?')
  }
  return ids.sort()
}

describe('real IMAP clients on a three-region cluster through partition and heal', () => {
  let cluster: ProcessCluster
  let flows: ImapFlow[]
  beforeAll(async () => {
    cluster = await ProcessCluster.start({ nodes: ['N0', 'N1', 'N2'], imap: true })
    await cluster.addUser(USER, PASS)
    await cluster.linksAre('open')
    flows = cluster.nodes.map(
      (n) => new ImapFlow({ host: '127.0.0.1', port: n.imapPort, secure: false, auth: { user: USER, pass: PASS }, logger: false }),
    )
    await Promise.all(flows.map((f) => f.connect()))
  }, 90_000)
  afterAll(async () => {
    await Promise.all((flows ?? []).map((f) => f.logout().catch(() => undefined)))
    await cluster?.stop()
  })

  it('imapflow and imaplib clients keep S1..S5, end with every message, and mbsync loses nothing', async () => {
    const globalUids = new Map<number, string>()
    const clients = [0, 1, 2].map((i) => new ModelClient(i === 2 ? 'imaplib@N2' : `imapflow@N${i}`, globalUids))
    const sync = async (i: number, ...append: string[]) => {
      if (i === 2) return clients[2]!.sync(await imaplib(cluster.nodes[2]!.imapPort, ...append))
      for (const id of append) await flows[i]!.append('INBOX', raw(id))
      clients[i]!.sync(await imapflowView(flows[i]!))
    }
    const all: string[] = []
    const add = (...ids: string[]) => (all.push(...ids), ids)
    for (let i = 0; i < 3; i++) await sync(i, ...add(`before-${i}@e2e`))
    await waitFor(async () => (await imapflowView(flows[0]!)).messages.length === 3, 20_000, 'connected appends everywhere')
    const mbsyncDir = cluster.dir
    expect(await mbsync(mbsyncDir, cluster.nodes[0]!.imapPort)).toEqual([...all].sort())

    cluster.cutAll()
    for (let round = 0; round < 3; round++) for (let i = 0; i < 3; i++) await sync(i, ...add(`split-${i}-${round}@e2e`))
    for (let i = 0; i < 3; i++) expect(clients[i]!.cache.size).toBe(3 + 3)
    // mbsync during the partition sees region 0's side
    expect((await mbsync(mbsyncDir, cluster.nodes[0]!.imapPort)).length).toBe(6)

    cluster.healAll()
    await cluster.linksAre('open')
    await waitFor(
      async () => {
        for (let i = 0; i < 3; i++) await sync(i)
        return clients.every((c) => c.cache.size === all.length && all.every((g) => c.guids().has(g)))
      },
      60_000,
      'every client holds every message after the heal',
    )
    const views = clients.map((c) => JSON.stringify([...c.cache]))
    expect(views[1]).toBe(views[0])
    expect(views[2]).toBe(views[0])
    // mbsync after the heal: every message in the Maildir, no error (duplicates-on-seen may add copies)
    const ids = await mbsync(mbsyncDir, cluster.nodes[0]!.imapPort)
    for (const g of all) expect(ids).toContain(g)
    const dups = clients.reduce((n, c) => n + c.duplicates.length, 0)
    console.log(
      `IMAP clients after the heal: ${all.length} messages, ${dups} duplicate-on-seen re-downloads, mbsync holds ${ids.length} files for ${all.length} messages`,
    )
  }, 180_000)

  it("curl's imap:// fetches a message by UID", async () => {
    const v = await imapflowView(flows[1]!)
    const uid = v.messages[0]!.uid
    const { stdout } = await run('curl', [
      '-s',
      '--max-time',
      '20',
      `imap://127.0.0.1:${cluster.nodes[1]!.imapPort}/INBOX;UID=${uid}`,
      '-u',
      `${USER}:${PASS}`,
    ])
    expect(stdout).toContain(`Message-ID: <${v.messages[0]!.guid}>`)
  }, 60_000)
})
