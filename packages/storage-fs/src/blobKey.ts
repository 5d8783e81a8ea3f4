import { createHash } from 'node:crypto'
import { isBlobKey } from '@mailweave/core'
import { StorageError } from './StorageError.ts'

/** The blob-key shape rule is core's (shared with browsers and the wire codec). */
export { isBlobKey }

/** Lowercase hex SHA-256 of `bytes`. */
export const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')

/** Throws `HASH_MISMATCH` unless `key` is the lowercase hex SHA-256 of `bytes`. */
export function checkBlobKey(key: string, bytes: Uint8Array): void {
  if (!isBlobKey(key) || sha256Hex(bytes) !== key) throw new StorageError('HASH_MISMATCH', `blob bytes do not hash to ${key}`)
}
