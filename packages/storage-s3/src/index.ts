export { S3BlobStore } from './S3BlobStore.ts'
export type { S3BlobStoreOptions } from './S3BlobStore.ts'
export { parseS3Url } from './parseS3Url.ts'
