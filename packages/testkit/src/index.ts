export { updateStoreConformance, testBytes, toHex } from './conformance/updateStoreConformance.ts'
export type { UpdateStoreUnderTest, StoreFixture } from './conformance/updateStoreConformance.ts'
export { blobStoreConformance, sha256Hex } from './conformance/blobStoreConformance.ts'
