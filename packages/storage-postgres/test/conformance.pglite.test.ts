// The storage contracts (@mailweave/core/conformance) once more, on PGlite: PostgreSQL compiled
// to WebAssembly, in this process, in memory. An extra run for speed (no server to start);
// the real server (conformance.test.ts) stays the one for durability, fencing and crashes.
// Not run here: the lease-fenced update store (PgStorage needs connections of its own for
// the region lock and LISTEN, which one in-process PGlite session cannot give).
import { blobStoreConformance, metaStoreConformance, updateStoreConformance } from '@mailweave/core/conformance'
import { afterAll, beforeAll } from 'vitest'
import { PgBlobStore, PgDatabase, PgMetaStore, PgUpdateStore, type PgQueryRunner } from '../src/index.ts'
import { PGlite, pgliteRunner } from './pgliteRunner.ts'

// one PGlite for the file (starting one takes seconds), a schema per test, as on the server;
// the tests of a file run one after another, so the one session's search_path is the test's
let lite: PGlite
let runner: PgQueryRunner
beforeAll(async () => {
  lite = await PGlite.create()
  // the PgDatabases share the one session: closing one must not close PGlite under the next
  runner = { ...pgliteRunner(lite), end: async () => {} }
})
afterAll(async () => {
  await lite?.close()
})

let schemas = 0
/** A fresh schema; `open` puts another PgDatabase on it (a reopen). */
async function fixture<S>(make: (db: PgDatabase) => S) {
  const schema = `t${++schemas}`
  const open = async () => make(await PgDatabase.over(runner, { schema, description: `PGlite (in memory, schema ${schema})` }))
  return { store: await open(), reopen: open, cleanup: async () => {} }
}

updateStoreConformance('PgUpdateStore on PGlite', () => fixture((db) => new PgUpdateStore(db)))
blobStoreConformance('PgBlobStore on PGlite', () => fixture((db) => new PgBlobStore(db)))
metaStoreConformance('PgMetaStore on PGlite', () => fixture((db) => new PgMetaStore(db)))
