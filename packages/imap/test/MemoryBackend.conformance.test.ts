import { MemoryBlobStore } from '@mailweave/core'
import { imapBackendConformance } from '../src/conformance/index.ts'
import { MemoryBackend } from '../src/index.ts'

/** A memory blob store whose writes can be made to fail. */
class FailingBlobs extends MemoryBlobStore {
  failing = false
  override async put(key: string, bytes: Uint8Array): Promise<void> {
    if (this.failing) throw new Error('disk full')
    return super.put(key, bytes)
  }
}

imapBackendConformance('MemoryBackend', async () => {
  const blobs = new FailingBlobs()
  const backend = new MemoryBackend({ blobs })
  await backend.addUser('ann', 'pw-ann-123')
  return {
    backend,
    user: 'ann',
    password: 'pw-ann-123',
    // applied is durable in memory: the same backend is what a reopen would see
    reopen: async () => backend,
    failBodies: () => (blobs.failing = true),
    bodiesWork: () => (blobs.failing = false),
    cleanup: async () => undefined,
  }
})
