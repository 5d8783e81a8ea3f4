// The storage contracts (@mailweave/core/conformance) against a real PostgreSQL server that
// this file starts (initdb in a temporary directory) and stops. Each test gets its own schema.
import { blobStoreConformance, metaStoreConformance, updateStoreConformance } from '@mailweave/core/conformance'
import { usePostgresServer } from '@mailweave/testkit'
import { PgBlobStore, PgDatabase, PgMetaStore, PgUpdateStore } from '../src/index.ts'

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
