import { MemoryBlobStore, MemoryMetaStore, MemoryUpdateStore } from '../src/index.ts'
import { blobStoreConformance, metaStoreConformance, updateStoreConformance } from '../src/conformance/index.ts'

updateStoreConformance('MemoryUpdateStore', async () => ({ store: new MemoryUpdateStore(), cleanup: async () => {} }))

blobStoreConformance('MemoryBlobStore', async () => ({ store: new MemoryBlobStore(), cleanup: async () => {} }))

metaStoreConformance('MemoryMetaStore', async () => ({ store: new MemoryMetaStore(), cleanup: async () => {} }))
