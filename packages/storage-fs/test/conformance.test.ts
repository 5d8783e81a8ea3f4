import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MemoryBlobStore } from '@mailweave/core'
import { blobStoreConformance, updateStoreConformance } from '@mailweave/testkit'
import { FileBlobStore, FileUpdateStore, MemoryUpdateStore } from '../src/index.ts'

const tempDir = () => mkdtemp(join(tmpdir(), 'mailweave-storage-'))

updateStoreConformance('MemoryUpdateStore', async () => ({ store: new MemoryUpdateStore(), cleanup: async () => {} }))

updateStoreConformance('FileUpdateStore', async () => {
  const dir = await tempDir()
  return { store: await FileUpdateStore.open({ dir }), reopen: () => FileUpdateStore.open({ dir }), cleanup: () => rm(dir, { recursive: true, force: true }) }
})

blobStoreConformance('MemoryBlobStore', async () => ({ store: new MemoryBlobStore(), cleanup: async () => {} }))

blobStoreConformance('FileBlobStore', async () => {
  const dir = await tempDir()
  return { store: await FileBlobStore.open({ dir }), reopen: () => FileBlobStore.open({ dir }), cleanup: () => rm(dir, { recursive: true, force: true }) }
})
