import { InvalidArgumentError } from 'commander'
import { StorageError } from '@mailweave/core'
import { parseS3Url, S3BlobStore } from '@mailweave/storage-s3'

/**
 * Opens `--blobs s3://bucket/prefix?endpoint=…&region=…` as the node's body store, checking
 * that the bucket answers. A malformed URL is a usage error; credentials come from the AWS
 * SDK's chain (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, profiles, roles) and never appear
 * in a message.
 */
export async function openS3Blobs(url: string): Promise<S3BlobStore> {
  if (!url.startsWith('s3://'))
    throw new InvalidArgumentError(`--blobs must be an s3://bucket/prefix URL, got ${JSON.stringify(url.slice(0, 8))}…`)
  let options
  try {
    options = parseS3Url(url)
  } catch (e) {
    throw e instanceof StorageError ? new InvalidArgumentError(`--blobs: ${e.message}`) : e
  }
  // The SDK warns once on Node < 22 (about SDK releases after January 2027, not this pinned
  // one) with a multi-line warning that would break the node's JSON-lines stderr.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'
  return S3BlobStore.open(options)
}
