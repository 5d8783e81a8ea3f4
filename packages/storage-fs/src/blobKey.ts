import { createHash } from 'node:crypto'
import { StorageError } from './StorageError.ts'

const KEY = /^[0-9a-f]{64}$/

/** True when `key` has the shape of a blob key: 64 lowercase hex digits. */
export const isBlobKey = (key: string): boolean => KEY.test(key)

/** Lowercase hex SHA-256 of `bytes`. */
export const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')

/** Throws `HASH_MISMATCH` unless `key` is the lowercase hex SHA-256 of `bytes`. */
export function checkBlobKey(key: string, bytes: Uint8Array): void {
  if (!isBlobKey(key) || sha256Hex(bytes) !== key) throw new StorageError('HASH_MISMATCH', `blob bytes do not hash to ${key}`)
}
