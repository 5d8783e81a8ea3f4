/**
 * Why a storage operation failed. `FENCED`: a write to an account's documents refused
 * because this process no longer holds the account's lease (a region of several processes).
 */
export type StorageErrorCode = 'DISK_FULL' | 'IO' | 'CORRUPT' | 'HASH_MISMATCH' | 'LOCKED' | 'FENCED'

/**
 * The one error type every storage adapter ({@link UpdateStore}, {@link BlobStore}, whatever
 * the medium) rejects with, so a node maps storage failures in one place. A rejected write
 * never leaves a partial record behind: earlier durable data stays readable.
 */
export class StorageError extends Error {
  override readonly name = 'StorageError'
  constructor(
    readonly code: StorageErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}
