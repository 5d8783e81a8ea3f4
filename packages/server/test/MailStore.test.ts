import { createHash } from 'node:crypto'
import * as Y from 'yjs'
import { describe, expect, it } from 'vitest'
import { MemoryBlobStore, MemoryUpdateStore, deliveryKey, type BlobStore } from '@mailweave/core'
import { waitFor } from '@mailweave/testkit'
import { silentLogger } from '../src/index.ts'
import { DocRegistry } from '../src/DocRegistry.ts'
import { MailStore } from '../src/MailStore.ts'
import { UserDirectory } from '../src/UserDirectory.ts'

const raw = (i: number) =>
  new TextEncoder().encode(`From: a@example.org\r\nSubject: staged ${i}\r\nMessage-ID: <${i}@staged>\r\n\r\nbody ${i}\r\n`)
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

/** A blob store whose puts wait until released (or fail), to observe what happens meanwhile. */
class GatedBlobs implements BlobStore {
  readonly inner = new MemoryBlobStore()
  private gates: { resolve: () => void; reject: (e: Error) => void }[] = []
  gated = true
  async put(key: string, bytes: Uint8Array): Promise<void> {
    if (this.gated) await new Promise<void>((resolve, reject) => this.gates.push({ resolve, reject }))
    await this.inner.put(key, bytes)
  }
  get waiting(): number {
    return this.gates.length
  }
  release(): void {
    for (const g of this.gates.splice(0)) g.resolve()
  }
  fail(): void {
    for (const g of this.gates.splice(0)) g.reject(new Error('disk full'))
  }
  get = (key: string) => this.inner.get(key)
  hasCalls = 0
  has = (key: string) => {
    this.hasCalls++
    return this.inner.has(key)
  }
  delete = (key: string) => this.inner.delete(key)
  keys = () => this.inner.keys()
}

async function setup(blobs: BlobStore, updates = new MemoryUpdateStore(), uncleanStop = false, idleMs?: number) {
  const log = silentLogger()
  const registry = await DocRegistry.create(updates, { log, idleMs })
  const usersDoc = await registry.open('users')
  const users = new UserDirectory(usersDoc.doc, 'eu', new Uint8Array(32))
  await users.setPassword('ann', 'pw-ann-123')
  const store = new MailStore({ registry, users, blobs, node: { nodeId: 'eu', slot: 0, stride: 2 }, log, uncleanStop })
  const forwarded: string[] = []
  registry.onUpdate((name) => forwarded.push(name))
  return { registry, store, forwarded, updates }
}

describe('MailStore staged appends (body and metadata fsynced in parallel)', () => {
  it('holds the message back from peers until its body is durable, and exposes it after', async () => {
    const blobs = new GatedBlobs()
    const { store, forwarded, updates } = await setup(blobs)
    const h = (await store.open('ann', 'INBOX'))!
    const before = forwarded.length
    const records = (await updates.load(h.docName)).length
    const guid = await h.stage(raw(1))
    const exposed = h.expose()
    let done = false
    void exposed.then(() => (done = true))
    // the metadata (message and exposure) is durable; the body is not: nothing leaves, nothing is acknowledged
    await waitFor(async () => (await updates.load(h.docName)).length >= records + 2, 5000, 'the metadata is stored')
    expect(blobs.waiting).toBe(1)
    expect(done).toBe(false)
    expect(forwarded.length).toBe(before)
    blobs.release()
    const view = await exposed
    expect(forwarded.length).toBeGreaterThan(before)
    expect(view.seqOfUid(h.mailbox.message(guid)!.uid!)).toBe(1)
    expect(await blobs.has(sha(raw(1)))).toBe(true)
    h.release()
  })

  it('a body that cannot be stored fails the exposure and the message is expunged', async () => {
    const blobs = new GatedBlobs()
    const { store } = await setup(blobs)
    const h = (await store.open('ann', 'INBOX'))!
    const guid = await h.stage(raw(2))
    const exposed = h.expose()
    await waitFor(() => blobs.waiting === 1, 5000, 'the body is being written')
    blobs.fail()
    await expect(exposed).rejects.toThrow('disk full')
    expect(h.mailbox.message(guid)!.expunged).toBe(true)
    expect((await h.expose()).size).toBe(0)
    h.release()
  })

  it('append() resolves only once body and metadata are durable', async () => {
    const blobs = new GatedBlobs()
    const { store, updates } = await setup(blobs)
    const h = (await store.open('ann', 'INBOX'))!
    const records = (await updates.load(h.docName)).length
    let done = false
    const p = h.append(raw(3)).then(() => (done = true))
    await waitFor(async () => (await updates.load(h.docName)).length > records, 5000, 'the message is stored')
    expect(done).toBe(false)
    blobs.release()
    await p
    expect(await blobs.has(sha(raw(3)))).toBe(true)
    h.release()
  })

  it('a message of this node whose body never became durable is expunged when its mailbox loads again (once)', async () => {
    const blobs = new GatedBlobs()
    blobs.gated = false
    const updates = new MemoryUpdateStore()
    const first = await setup(blobs, updates)
    const h = (await first.store.open('ann', 'INBOX'))!
    const kept = await h.append(raw(4))
    const lost = await h.append(raw(5))
    h.release()
    await first.registry.close()
    // what a power loss between the two fsyncs leaves: the message fact without its body
    await blobs.delete(sha(raw(5)))
    const again = await setup(blobs, updates, true, 1)
    const h2 = (await again.store.open('ann', 'INBOX'))!
    await waitFor(() => h2.mailbox.message(lost)!.expunged, 5000, 'the bodiless message is expunged')
    expect(h2.mailbox.message(kept)!.expunged).toBe(false)
    expect((await h2.expose()).size).toBe(1)
    h2.release()
    // unloaded when idle and loaded again: checked once already, no blob is looked up again
    await waitFor(() => !again.registry.isLoaded(h2.docName), 5000, 'the mailbox is unloaded')
    const lookups = blobs.hasCalls
    const h3 = (await again.store.open('ann', 'INBOX'))!
    expect((await h3.expose()).size).toBe(1)
    await h3.flush()
    expect(blobs.hasCalls).toBe(lookups)
    h3.release()
  })

  it("concurrent appends share an exposure, and each one's view shows its message", async () => {
    const { store } = await setup(new MemoryBlobStore())
    const handles = await Promise.all(Array.from({ length: 6 }, () => store.open('ann', 'INBOX')))
    const before = store.stats.exposures
    const results = await Promise.all(
      handles.map(async (h, i) => {
        const guid = await h!.stage(raw(10 + i))
        const view = await h!.expose()
        return view.seqOfUid(h!.mailbox.message(guid)!.uid!)
      }),
    )
    expect(results.every((seq) => seq !== undefined)).toBe(true)
    expect(new Set(results).size).toBe(6)
    const used = store.stats.exposures - before
    expect(used).toBeGreaterThan(0)
    expect(used).toBeLessThan(6)
    for (const h of handles) h!.release()
  })

  it('a caller-supplied hash must look like SHA-256 hex', async () => {
    const { store } = await setup(new MemoryBlobStore())
    const h = (await store.open('ann', 'INBOX'))!
    expect(() => h.mailbox.append(raw(6), { hash: 'not-a-hash' })).toThrow(/64 lowercase hex/)
    expect(Y.encodeStateVector(h.mailbox.doc).length).toBeGreaterThan(0)
    h.release()
  })

  it('passes a delivery key through append: an MTA retry stays one message, also after a reload', async () => {
    const blobs = new MemoryBlobStore()
    const { store, registry, updates } = await setup(blobs)
    const h = (await store.open('ann', 'INBOX'))!
    const delivered = raw(40)
    const key = deliveryKey(delivered, 'ann@example.org')!
    const trace = (n: number) =>
      new Uint8Array([...new TextEncoder().encode(`Delivered-To: ann@example.org\r\nReceived: attempt ${n}\r\n`), ...delivered])
    const first = await h.append(trace(1), { delivery: key })
    const retry = await h.append(trace(2), { delivery: key })
    const mine = await h.append(delivered) // the user's own APPEND of the same bytes: kept
    const view = await h.expose()
    expect(view.messages.map((m) => m.guid)).toEqual([first, mine])
    expect(h.mailbox.message(retry)).toMatchObject({ delivery: key, duplicateOf: first })
    h.release()
    await registry.close()
    const again = await setup(blobs, updates)
    const h2 = (await again.store.open('ann', 'INBOX'))!
    expect((await h2.expose()).messages.map((m) => m.guid)).toEqual([first, mine])
    expect(h2.mailbox.message(first)?.delivery).toBe(key)
    h2.release()
  })
})
