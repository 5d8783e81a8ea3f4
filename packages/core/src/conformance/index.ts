// `@mailweave/core/conformance`: the storage adapter contracts as vitest suites. Every
// UpdateStore and BlobStore implementation (memory, files, PostgreSQL, IndexedDB) runs them.
// A separate entry point because it imports vitest, which the engine itself never does.
export { updateStoreConformance, testBytes } from './updateStoreConformance.ts'
export type { StoreFixture } from './updateStoreConformance.ts'
export { blobStoreConformance, sha256Hex } from './blobStoreConformance.ts'
export { metaStoreConformance } from './metaStoreConformance.ts'
