import { MemoryBlobStore, MemoryUpdateStore } from '../src/index.ts'
import { blobStoreConformance, updateStoreConformance } from '../src/conformance/index.ts'

updateStoreConformance('MemoryUpdateStore', async () => ({ store: new MemoryUpdateStore(), cleanup: async () => {} }))

blobStoreConformance('MemoryBlobStore', async () => ({ store: new MemoryBlobStore(), cleanup: async () => {} }))
