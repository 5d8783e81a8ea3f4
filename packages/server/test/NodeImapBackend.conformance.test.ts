import { MemoryBlobStore, MemoryUpdateStore } from '@mailweave/core'
import { imapBackendConformance } from '@mailweave/imap/conformance'
import { silentLogger } from '../src/index.ts'
import { DocRegistry } from '../src/DocRegistry.ts'
import { MailStore } from '../src/MailStore.ts'
import { NodeImapBackend } from '../src/NodeImapBackend.ts'
import { UserDirectory } from '../src/UserDirectory.ts'

/** A memory blob store whose writes can be made to fail. */
class FailingBlobs extends MemoryBlobStore {
  failing = false
  override async put(key: string, bytes: Uint8Array): Promise<void> {
    if (this.failing) throw new Error('disk full')
    return super.put(key, bytes)
  }
}

/** A memory update store whose appends can be held (a slow disk). */
class GatedUpdates extends MemoryUpdateStore {
  private gate: Promise<void> | undefined
  private open: (() => void) | undefined
  private onHeld: (() => void) | undefined
  holding = 0
  hold(): { held(): Promise<void>; release(): void } {
    this.gate = new Promise((resolve) => (this.open = resolve))
    const held = new Promise<void>((resolve) => (this.onHeld = resolve))
    return {
      held: () => held,
      release: () => {
        this.gate = undefined
        this.open?.()
      },
    }
  }
  override async append(docName: string, update: Uint8Array): Promise<void> {
    if (this.gate !== undefined) {
      this.holding++
      this.onHeld?.()
      await this.gate
    }
    return super.append(docName, update)
  }
}

imapBackendConformance('NodeImapBackend', async () => {
  const updates = new GatedUpdates()
  const blobs = new FailingBlobs()
  const registries: DocRegistry[] = []
  // a node over the stores: a second one over the same stores sees only what the first made durable
  const node = async (): Promise<NodeImapBackend> => {
    const log = silentLogger()
    const registry = await DocRegistry.create(updates, { log })
    registries.push(registry)
    const users = new UserDirectory((await registry.open('sys/users')).doc, 'eu', new Uint8Array(32))
    const store = new MailStore({ registry, users, blobs, node: { nodeId: 'eu', slot: 0, stride: 2 }, log })
    return new NodeImapBackend(store, users, registry)
  }
  const first = await node()
  const registry = registries[0]!
  const users = new UserDirectory((await registry.open('sys/users')).doc, 'eu', new Uint8Array(32))
  await users.setPassword('ann', 'pw-ann-123')
  await registry.flush('sys/users')
  return {
    backend: first,
    user: 'ann',
    password: 'pw-ann-123',
    reopen: node,
    holdWrites: () => updates.hold(),
    failBodies: () => (blobs.failing = true),
    bodiesWork: () => (blobs.failing = false),
    cleanup: async () => {
      for (const r of registries) await r.close()
    },
  }
})
