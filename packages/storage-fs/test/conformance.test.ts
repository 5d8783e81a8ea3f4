import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { blobStoreConformance, metaStoreConformance, updateStoreConformance } from '@mailweave/core/conformance'
import { FileBlobStore, FileMetaStore, FileUpdateStore, PackBlobStore } from '../src/index.ts'
import type { PackBlobStoreOptions } from '../src/index.ts'

const tempDir = () => mkdtemp(join(tmpdir(), 'mailweave-storage-'))

updateStoreConformance('FileUpdateStore', async () => {
  const dir = await tempDir()
  return {
    store: await FileUpdateStore.open({ dir }),
    reopen: () => FileUpdateStore.open({ dir }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  }
})

blobStoreConformance('FileBlobStore', async () => {
  const dir = await tempDir()
  return {
    store: await FileBlobStore.open({ dir }),
    reopen: () => FileBlobStore.open({ dir }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  }
})

/** A PackBlobStore fixture that closes every instance it opened (reopens included). */
const packFixture = async (options: Omit<PackBlobStoreOptions, 'dir'>) => {
  const dir = await tempDir()
  const opened: PackBlobStore[] = []
  const open = async () => {
    const store = await PackBlobStore.open({ dir, ...options })
    opened.push(store)
    return store
  }
  return {
    store: await open(),
    reopen: open,
    cleanup: async () => {
      for (const store of opened) await store.close()
      await rm(dir, { recursive: true, force: true })
    },
  }
}

blobStoreConformance('PackBlobStore', () => packFixture({}))

// Tiny packs and a low large-blob threshold: rollover and the one-file-per-blob path on every test.
blobStoreConformance('PackBlobStore (4 KiB packs, blobs over 1000 bytes as files)', () =>
  packFixture({ packBytes: 4096, largeBlobBytes: 1000 }),
)

metaStoreConformance('FileMetaStore', async () => {
  const dir = await tempDir()
  return {
    store: await FileMetaStore.open(dir),
    reopen: () => FileMetaStore.open(dir),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  }
})
