import { MemoryBlobStore } from '../src/index.ts'
import { blobStoreConformance } from '../../testkit/src/index.ts'

blobStoreConformance('MemoryBlobStore', async () => ({ store: new MemoryBlobStore(), cleanup: async () => {} }))
