// Writes fenced by account leases, in one test process on a real PostgreSQL server: a
// former owner's writes after a takeover never commit, group commits judge each write,
// the #peers lease covers accounts not held, sys/users is unfenced.
import { afterEach, describe, expect, it } from 'vitest'
import pg from 'pg'
import { StorageError } from '@mailweave/core'
import { usePostgresServer, waitFor } from '@mailweave/testkit'
import { PgStorage } from '../src/index.ts'

const server = usePostgresServer()

let schemas = 0
const opened: PgStorage[] = []
afterEach(async () => {
  for (const s of opened.splice(0).reverse()) await s.close().catch(() => {})
})

async function region() {
  const schema = `fence${++schemas}`
  const admin = new pg.Client({ connectionString: server().url(), options: `-c search_path=${schema}` })
  const open = async (name: string) => {
    const s = await PgStorage.open({
      url: server().url(),
      schema,
      maxConnections: 4,
      process: name,
      addresses: { http: `http://${name}.test:1` },
    })
    opened.push(s)
    return s
  }
  const first = await open('a') // creates the schema
  await admin.connect()
  opened.push({ close: () => admin.end() } as unknown as PgStorage)
  return { open, first, admin, schema }
}

const b = (...v: number[]) => Uint8Array.from(v)
const fencedError = { name: 'StorageError', code: 'FENCED' }

describe('lease fencing in PgUpdateStore', () => {
  it("rejects a former owner's appends and compactions after a takeover, writes none of them, and counts them", async () => {
    const { open, first: a, admin } = await region()
    expect(await a.ownership!.acquire(['alice'])).toEqual(['alice'])
    await a.updates.append('acct/alice', b(1))
    // a is paused past its lease (it still trusts it locally), and b takes alice over
    await admin.query(`UPDATE mw_leases SET expires = clock_timestamp() - interval '1 second' WHERE account = 'alice'`)
    const bStore = await open('b')
    expect(await bStore.ownership!.acquire(['alice'])).toEqual(['alice'])
    await bStore.updates.append('acct/alice', b(2))

    await expect(a.updates.append('acct/alice', b(3))).rejects.toMatchObject(fencedError)
    await expect(a.updates.append('mbox/alice/INBOX', b(4))).rejects.toThrow(/fenced: the lease alice epoch 1 of process a was lost/)
    await expect(a.updates.compact('acct/alice', b(5))).rejects.toMatchObject(fencedError)
    expect(a.stats().fencedWrites).toBe(3)
    expect(await bStore.updates.load('acct/alice')).toEqual([b(1), b(2)])
    expect(await bStore.updates.load('mbox/alice/INBOX')).toEqual([])
    expect(await bStore.updates.list()).not.toContain('mbox/alice/INBOX')
    await bStore.updates.compact('acct/alice', b(6))
    expect(await a.updates.load('acct/alice')).toEqual([b(6)])
    expect(bStore.stats().fencedWrites).toBe(0)
  })

  it('judges each write of a group commit: the fenced ones reject, the others commit', async () => {
    const { open, first: a, admin } = await region()
    expect((await a.ownership!.acquire(['alice', 'bob'])).sort()).toEqual(['alice', 'bob'])
    await admin.query(`UPDATE mw_leases SET expires = '-infinity' WHERE account = 'alice'`)
    const other = await open('b')
    await other.ownership!.acquire(['alice'])
    // no await in between: one group
    const results = await Promise.allSettled([
      a.updates.append('acct/bob', b(1)),
      a.updates.append('acct/alice', b(2)),
      a.updates.append('sys/users', b(3)),
      a.updates.append('mbox/bob/INBOX', b(4)),
      a.updates.append('mbox/alice/INBOX', b(5)),
      a.updates.append('acct/bob', b(6)),
    ])
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled'])
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(StorageError)
    expect(await a.updates.load('acct/bob')).toEqual([b(1), b(6)])
    expect(await a.updates.load('mbox/bob/INBOX')).toEqual([b(4)])
    expect(await a.updates.load('sys/users')).toEqual([b(3)])
    expect(await a.updates.load('acct/alice')).toEqual([])
    expect(await a.updates.list()).not.toContain('mbox/alice/INBOX')
    expect(a.stats().fencedWrites).toBe(2)
  })

  it('writes to accounts not held go under the #peers lease when held, are refused otherwise; sys/users is never fenced', async () => {
    const { open, first: a } = await region()
    await expect(a.updates.append('acct/carol', b(1))).rejects.toThrow(/holds neither the lease of carol nor the region's peer lease/)
    expect(a.stats().fencedWrites).toBe(1)
    await a.updates.append('sys/users', b(2))
    expect(await a.ownership!.acquire(['#peers'])).toEqual(['#peers'])
    await a.updates.append('acct/carol', b(3)) // a peer-received update, written by the peers process
    const bStore = await open('b')
    await expect(bStore.updates.append('acct/carol', b(4))).rejects.toMatchObject(fencedError)
    expect(await bStore.ownership!.acquire(['carol'])).toEqual(['carol'])
    await bStore.updates.append('acct/carol', b(5))
    await a.updates.append('acct/carol', b(6)) // both commit: documents are CRDTs, only allocation is the owner's
    expect(await bStore.updates.load('acct/carol')).toEqual([b(3), b(5), b(6)])
  })

  it('a takeover waits for a write holding the lease row FOR SHARE, and sees what it committed', async () => {
    const { open, first: a, admin, schema } = await region()
    await a.ownership!.acquire(['dave'])
    await admin.query(`UPDATE mw_leases SET expires = clock_timestamp() - interval '1 second' WHERE account = 'dave'`)
    // the fenced write's transaction, held open between its fence and its commit
    const writer = new pg.Client({ connectionString: server().url(), options: `-c search_path=${schema}` })
    await writer.connect()
    try {
      await writer.query('BEGIN')
      await writer.query(`SELECT 1 FROM mw_leases WHERE account = 'dave' AND owner = 'a' AND epoch = 1 FOR SHARE`)
      const bStore = await open('b')
      const takeover = bStore.ownership!.acquire(['dave'])
      await waitFor(
        async () =>
          (await admin.query(`SELECT 1 FROM pg_locks WHERE NOT granted AND locktype IN ('transactionid', 'tuple')`)).rows.length > 0,
        20_000,
        'the takeover waiting for the row lock',
      )
      await writer.query(`INSERT INTO mw_updates (doc, data) VALUES ('acct/dave', '\\x07')`)
      await writer.query('COMMIT')
      expect(await takeover).toEqual(['dave'])
      expect(await bStore.updates.load('acct/dave')).toEqual([b(7)])
    } finally {
      await writer.end()
    }
  })
})
