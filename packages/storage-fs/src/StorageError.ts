import { StorageError } from '@mailweave/core'

export { StorageError }
export type { StorageErrorCode } from '@mailweave/core'

/** Maps a Node fs error (or anything thrown) to a {@link StorageError}; passes StorageErrors through. */
export function toStorageError(err: unknown, what: string): StorageError {
  if (err instanceof StorageError) return err
  const code = (err as { code?: unknown } | null)?.code
  const full = code === 'ENOSPC' || code === 'EDQUOT'
  return new StorageError(full ? 'DISK_FULL' : 'IO', `${what}: ${(err as Error)?.message ?? String(err)}`, { cause: err })
}

/** Optional structured logger shared by the stores. */
export type StorageLog = (msg: string, fields?: object) => void
