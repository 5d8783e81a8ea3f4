/** Why a storage operation failed. */
export type StorageErrorCode = 'DISK_FULL' | 'IO' | 'CORRUPT' | 'HASH_MISMATCH'

/**
 * The one error type storage rejects with. A rejected write never leaves a partial record
 * behind: earlier durable data stays readable.
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

/** Maps a Node fs error (or anything thrown) to a {@link StorageError}; passes StorageErrors through. */
export function toStorageError(err: unknown, what: string): StorageError {
  if (err instanceof StorageError) return err
  const code = (err as { code?: unknown } | null)?.code
  const full = code === 'ENOSPC' || code === 'EDQUOT'
  return new StorageError(full ? 'DISK_FULL' : 'IO', `${what}: ${(err as Error)?.message ?? String(err)}`, { cause: err })
}

/** Optional structured logger shared by the stores. */
export type StorageLog = (msg: string, fields?: object) => void
