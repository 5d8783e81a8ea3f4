// The storage contracts (@mailweave/core/conformance) against a real PostgreSQL server that
// this file starts (initdb in a temporary directory) and stops. Each test gets its own schema.
import { blobStoreConformance, metaStoreConformance, updateStoreConformance } from '@mailweave/core/conformance'
import { usePostgresServer } from '@mailweave/testkit'
import type { UpdateStore } from '@mailweave/core'
import { PgBlobStore, PgDatabase, PgMetaStore, PgStorage, PgUpdateStore } from '../src/index.ts'

const server = usePostgresServer()

let schemas = 0
/** A fresh schema; `open` connects another pool to it (a reopen), `cleanup` closes every pool. */
async function fixture<S>(make: (db: PgDatabase) => S) {
  const schema = `t${++schemas}`
  const dbs: PgDatabase[] = []
  const open = async () => {
    const db = await PgDatabase.connect({ url: server().url(), schema, maxConnections: 4 })
    dbs.push(db)
    return make(db)
  }
  return {
    store: await open(),
    reopen: open,
    cleanup: async () => {
      for (const db of dbs) await db.close()
    },
  }
}

updateStoreConformance('PgUpdateStore', () => fixture((db) => new PgUpdateStore(db)))
blobStoreConformance('PgBlobStore', () => fixture((db) => new PgBlobStore(db)))
metaStoreConformance('PgMetaStore', () => fixture((db) => new PgMetaStore(db)))

/**
 * The update store of a region of several processes: every document name of the suite is
 * mapped to a mailbox document of an account this process holds, so every write goes
 * through the lease fence (and passes it).
 */
class HeldAccountStore implements UpdateStore {
  constructor(private readonly storage: PgStorage) {}
  private static map = (name: string) => `mbox/conformance/x${Buffer.from(name).toString('hex')}`
  private static unmap = (doc: string) => Buffer.from(doc.slice('mbox/conformance/x'.length), 'hex').toString()
  append = (name: string, u: Uint8Array) => this.storage.updates.append(HeldAccountStore.map(name), u)
  compact = (name: string, s: Uint8Array) => this.storage.updates.compact(HeldAccountStore.map(name), s)
  load = (name: string) => this.storage.updates.load(HeldAccountStore.map(name))
  list = async () => (await this.storage.updates.list()).map(HeldAccountStore.unmap)
  close = () => this.storage.close()
  fenced = () => this.storage.stats().fencedWrites
}

updateStoreConformance('PgUpdateStore fenced by an account lease (several processes per region)', async () => {
  const schema = `t${++schemas}`
  const open = async () => {
    const storage = await PgStorage.open({
      url: server().url(),
      schema,
      maxConnections: 4,
      process: 'p',
      addresses: { http: 'http://p.test:1' },
    })
    if ((await storage.ownership!.acquire(['conformance'])).length !== 1) throw new Error('could not acquire the test account')
    return new HeldAccountStore(storage)
  }
  const stores: HeldAccountStore[] = []
  const tracked = async () => {
    const s = await open()
    stores.push(s)
    return s
  }
  return {
    store: await tracked(),
    reopen: tracked,
    cleanup: async () => {
      for (const s of stores) {
        await s.close()
        if (s.fenced() !== 0) throw new Error(`${s.fenced()} writes fenced under a held lease`)
      }
    },
  }
})
