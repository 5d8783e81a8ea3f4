// PgStorage's region lock against a real PostgreSQL server started by this file.
import { describe, expect, it } from 'vitest'
import pg from 'pg'
import { StorageError } from '@mailweave/core'
import { usePostgresServer, waitFor } from '@mailweave/testkit'
import { PgStorage } from '../src/index.ts'

const server = usePostgresServer()

describe('PgStorage', () => {
  it('refuses a second storage on the same schema, and opens once the first is closed', async () => {
    const url = server().url()
    const first = await PgStorage.open({ url, schema: 'lock_a' })
    const err = await PgStorage.open({ url, schema: 'lock_a' }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(StorageError)
    expect(String(err)).toMatch(/another mailweave node already runs on this database/)
    const elsewhere = await PgStorage.open({ url, schema: 'lock_b' }) // another region's schema is free
    await elsewhere.close()
    await first.updates.append('d', Uint8Array.of(1))
    await first.close()
    const second = await PgStorage.open({ url, schema: 'lock_a' })
    expect(await second.updates.load('d')).toEqual([Uint8Array.of(1)])
    await second.close()
  })

  it('a storage whose lock connection dies while another process takes the lock refuses every later write', async () => {
    const url = server().url()
    const logs: string[] = []
    const old = await PgStorage.open({ url, schema: 'fence', log: (m) => logs.push(m) })
    await old.updates.append('d', Uint8Array.of(1))
    // the old owner's lock connection is cut (a network partition, a killed backend), and
    // another process is already queued for the lock, so it gets the region first
    const admin = new pg.Client({ connectionString: url })
    await admin.connect()
    const held = await admin.query<{ pid: number }>(
      `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = hashtext('mailweave region fence')::oid AND granted`,
    )
    const waiter = new pg.Client({ connectionString: url })
    await waiter.connect()
    const got = waiter.query(`SELECT pg_advisory_lock(hashtext('mailweave region fence'))`)
    await waitFor(
      async () => (await admin.query(`SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`)).rows.length === 1,
      20_000,
      'the new owner queued for the lock',
    )
    await admin.query('SELECT pg_terminate_backend($1)', [held.rows[0]!.pid])
    await admin.end()
    await got
    await waitFor(() => logs.some((m) => /refuses every write/.test(m)), 20_000, 'the old storage fenced')
    await expect(old.updates.append('d', Uint8Array.of(2))).rejects.toThrow(/took the region lock/)
    await expect(old.blobs.put('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', new Uint8Array(0))).rejects.toThrow(
      /took the region lock/,
    )
    await waiter.end() // the new owner (a PgStorage this time) takes the region
    const next = await PgStorage.open({ url, schema: 'fence' })
    await next.updates.append('d', Uint8Array.of(3))
    expect(await next.updates.load('d')).toEqual([Uint8Array.of(1), Uint8Array.of(3)])
    await old.close()
    await next.close()
  })
})
