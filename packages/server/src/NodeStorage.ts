import { join } from 'node:path'
import { StorageError, type BlobStore, type MetaStore, type UpdateStore } from '@mailweave/core'
import type { AccountOwnership } from './AccountOwnership.ts'
import { damageMessage, FileMetaStore, FileUpdateStore, PackBlobStore } from '@mailweave/storage-fs'

/** Durability figures a storage reports for status and metrics (absent when not measured). */
export interface StorageStats {
  /** Durable commits (fsyncs or database commits) of the update store so far. */
  fsyncCount: number
  lastFsyncMs: number
  avgFsyncMs: number
  /** Writes refused because this process no longer held the account's lease (several processes per region). */
  fencedWrites?: number
}

/**
 * Everything a node keeps durably, behind three small bytes-in, bytes-out interfaces:
 * update logs (documents, the user directory among them), message bodies and small
 * records (peer resume points, the unclean-stop marker). The embedded file store
 * ({@link openFileStorage}) is the default; `@mailweave/storage-postgres` is the other.
 * The node owns the storage it is given and closes it on stop.
 */
export interface NodeStorage {
  readonly updates: UpdateStore
  readonly blobs: BlobStore
  readonly meta: MetaStore
  /** Where the data lives, for logs and status (no secrets). */
  readonly description: string
  stats(): StorageStats | undefined
  /**
   * Present when several processes of the region share this storage: which one serves each
   * account (leases with fencing). Absent: this process serves everything.
   */
  readonly ownership?: AccountOwnership
  /** Flushes and closes all three stores. */
  close(): Promise<void>
}

/** A blob store a node is given apart from its storage ({@link NodeConfig.blobs}, e.g. an S3 bucket); the node closes it on stop. */
export interface SeparateBlobStore extends BlobStore {
  /** Where the bodies live, for logs and status (no secrets). */
  readonly description: string
  close(): Promise<void>
}

/**
 * `storage` with its message bodies in `blobs` instead of its own blob store (left unused):
 * update logs, small records, stats and ownership stay the storage's. Closing closes both,
 * `blobs` also when the storage fails to close.
 */
export function withBlobStore(storage: NodeStorage, blobs: SeparateBlobStore): NodeStorage {
  return {
    updates: storage.updates,
    blobs,
    meta: storage.meta,
    description: `${storage.description}, bodies in ${blobs.description}`,
    stats: () => storage.stats(),
    ownership: storage.ownership,
    close: async () => {
      try {
        await storage.close()
      } finally {
        await blobs.close()
      }
    },
  }
}

/**
 * The embedded file storage under `dataDir`: `docs/` (fsynced update logs), `blobs/`
 * (pack files) and the small records as files in `dataDir` itself (`running`,
 * `peer-resume.json`). Every update log is checked in full first: damage in the middle of
 * a log (not a torn tail) rejects with a `CORRUPT` StorageError naming each file and offset.
 */
export async function openFileStorage(dataDir: string, log?: (msg: string, fields?: object) => void): Promise<NodeStorage> {
  const meta = await FileMetaStore.open(dataDir)
  const updates = await FileUpdateStore.open({ dir: join(dataDir, 'docs'), log })
  const damage = await updates.check().catch(async (e: unknown) => {
    await updates.close()
    throw e
  })
  if (damage.length > 0) {
    await updates.close()
    throw new StorageError('CORRUPT', damage.map(damageMessage).join('; '))
  }
  const blobs = await PackBlobStore.open({ dir: join(dataDir, 'blobs'), log }).catch(async (e: unknown) => {
    await updates.close()
    throw e
  })
  return {
    updates,
    blobs,
    meta,
    description: `files in ${dataDir}`,
    stats: () => updates.stats(),
    close: async () => {
      await updates.close()
      await blobs.close()
    },
  }
}
