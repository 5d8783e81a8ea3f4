import { describe, expect, it } from 'vitest'
import type { ImapBackend, ImapMailbox } from '../ImapBackend.ts'
import { ImapError } from '../ImapError.ts'

/** One backend under test, with what the suite needs around it. */
export interface BackendFixture {
  readonly backend: ImapBackend
  readonly user: string
  readonly password: string
  /**
   * A new backend over only what the first one made durable, as after a crash of the
   * process (the first one is not closed or flushed). A backend that keeps everything in
   * memory, where applied means durable, returns itself.
   */
  reopen(): Promise<ImapBackend>
  /**
   * Holds every storage write from now on until `release()` (a slow disk); `held()` resolves
   * once some write is being held. Absent for a backend whose writes complete when applied.
   */
  holdWrites?(): { held(): Promise<void>; release(): void }
  /** From now on every body write fails (a full disk), until `bodiesWork()`. */
  failBodies(): void
  bodiesWork(): void
  cleanup(): Promise<void>
}

const raw = (i: number): Uint8Array =>
  new TextEncoder().encode(`From: a@example.org\r\nSubject: conformance ${i}\r\nMessage-ID: <${i}@conformance>\r\n\r\nbody ${i}\r\n`)
const text = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : new TextDecoder().decode(b))

/**
 * Registers a vitest suite checking the {@link ImapMailbox} write contract of a backend:
 * append (all or nothing, exposed), setFlags, expunge and copyTo each resolve only once
 * durable (a reopened backend sees them), and a failed multi-message append leaves none of
 * its messages behind, in memory or after a reopen. MemoryBackend and the node's backend
 * both run it.
 */
export function imapBackendConformance(name: string, make: () => Promise<BackendFixture>): void {
  const withBackend = (fn: (fx: BackendFixture) => Promise<void>) => async () => {
    const fx = await make()
    try {
      await fn(fx)
    } finally {
      await fx.cleanup()
    }
  }
  const open = async (backend: ImapBackend, fx: BackendFixture, mailbox = 'INBOX'): Promise<ImapMailbox> => {
    const account = await backend.authenticate(fx.user, fx.password)
    if (account === undefined) throw new Error('the fixture user cannot log in')
    const handle = await account.open(mailbox)
    if (handle === undefined) throw new Error(`no mailbox ${mailbox}`)
    return handle
  }
  const subjects = (h: ImapMailbox): Promise<Array<string | undefined>> =>
    Promise.all(h.view().messages.map(async (e) => text(await h.body(e.guid))?.match(/Subject: (.*)\r\n/)?.[1]))

  describe(`IMAP backend conformance: ${name}`, () => {
    it(
      'append resolves with the guids and an exposure showing them, durable',
      withBackend(async (fx) => {
        const h = await open(fx.backend, fx)
        const { guids, view } = await h.append([
          { raw: raw(1), flags: ['\\Seen'] },
          { raw: raw(2), internalDate: new Date('2024-01-02T03:04:05Z') },
        ])
        expect(guids).toHaveLength(2)
        expect(guids.map((g) => view.seqOfUid(h.message(g)!.uid!))).toEqual([1, 2])
        const after = await open(await fx.reopen(), fx)
        expect(after.view().messages.map((e) => e.guid)).toEqual(guids)
        expect(after.message(guids[0]!)?.flags).toEqual(['\\Seen'])
        expect(after.message(guids[1]!)?.internalDate.toISOString()).toBe('2024-01-02T03:04:05.000Z')
        expect(await subjects(after)).toEqual(['conformance 1', 'conformance 2'])
      }),
    )

    it(
      'setFlags and expunge apply at once and resolve once durable',
      withBackend(async (fx) => {
        const h = await open(fx.backend, fx)
        const { guids } = await h.append([{ raw: raw(1) }, { raw: raw(2) }, { raw: raw(3) }])
        const flagged = h.setFlags([
          { guid: guids[0]!, add: ['\\Flagged', 'work'] },
          { guid: guids[1]!, add: ['\\Deleted'] },
        ])
        expect(h.message(guids[0]!)?.flags).toEqual(['\\Flagged', 'work'])
        await flagged
        await h.setFlags([{ guid: guids[0]!, remove: ['work'] }])
        const expunged = h.expunge([guids[1]!])
        expect(h.view().messages.map((e) => e.guid)).toEqual([guids[0], guids[2]])
        await expunged
        const after = await open(await fx.reopen(), fx)
        expect(after.view().messages.map((e) => e.guid)).toEqual([guids[0], guids[2]])
        expect(after.message(guids[0]!)?.flags).toEqual(['\\Flagged'])
      }),
    )

    it(
      'copyTo copies bytes, flags and dates into another mailbox, durable; MOVE is copyTo plus expunge',
      withBackend(async (fx) => {
        const account = (await fx.backend.authenticate(fx.user, fx.password))!
        await account.create('Archive')
        const h = await open(fx.backend, fx)
        const target = await open(fx.backend, fx, 'Archive')
        const { guids } = await h.append([{ raw: raw(1), flags: ['\\Answered'] }, { raw: raw(2) }])
        const copied = await h.copyTo(target, guids)
        expect(copied.guids.map((g) => copied.view.seqOfUid(target.message(g)!.uid!))).toEqual([1, 2])
        await h.expunge(guids)
        const reopened = await fx.reopen()
        const after = await open(reopened, fx, 'Archive')
        expect(after.view().messages.map((e) => e.guid)).toEqual(copied.guids)
        expect(after.message(copied.guids[0]!)?.flags).toEqual(['\\Answered'])
        expect(await subjects(after)).toEqual(['conformance 1', 'conformance 2'])
        expect((await open(reopened, fx)).view().size).toBe(0)
      }),
    )

    it(
      'no operation resolves before its write is durable',
      withBackend(async (fx) => {
        const h = await open(fx.backend, fx)
        const { guids } = await h.append([{ raw: raw(1) }, { raw: raw(2) }])
        const gate = fx.holdWrites?.()
        if (gate === undefined) return
        const done: string[] = []
        const track = (label: string, p: Promise<unknown>) => p.then(() => done.push(label))
        const ops = [
          track('setFlags', h.setFlags([{ guid: guids[0]!, add: ['\\Seen'] }])),
          track('expunge', h.expunge([guids[1]!])),
          track('append', h.append([{ raw: raw(3) }])),
        ]
        await Promise.race([
          gate.held(),
          new Promise((_resolve, reject) =>
            setTimeout(() => reject(new Error('no storage write was started within 10 s')), 10_000).unref(),
          ),
        ])
        // let every continuation that does not wait on storage run
        for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve))
        expect(done).toEqual([])
        gate.release()
        await Promise.all(ops)
        expect(done.sort()).toEqual(['append', 'expunge', 'setFlags'])
      }),
    )

    it(
      'one rollback path: an append or copy that fails leaves none of its messages, also after a reopen',
      withBackend(async (fx) => {
        const account = (await fx.backend.authenticate(fx.user, fx.password))!
        await account.create('Archive')
        const h = await open(fx.backend, fx)
        const target = await open(fx.backend, fx, 'Archive')
        const { guids: kept } = await h.append([{ raw: raw(1) }])
        fx.failBodies()
        await expect(h.append([{ raw: raw(2) }, { raw: raw(3) }, { raw: raw(4) }])).rejects.toThrow()
        expect(h.view().messages.map((e) => e.guid)).toEqual(kept)
        await expect(h.copyTo(target, kept)).rejects.toThrow()
        expect(target.view().size).toBe(0)
        fx.bodiesWork()
        // a body this node does not have: NO [UNAVAILABLE], nothing copied
        await expect(h.copyTo(target, ['no-such-guid'])).rejects.toSatisfy((e) => e instanceof ImapError && e.code?.code === 'UNAVAILABLE')
        const reopened = await fx.reopen()
        expect((await open(reopened, fx)).view().messages.map((e) => e.guid)).toEqual(kept)
        expect((await open(reopened, fx, 'Archive')).view().size).toBe(0)
      }),
    )
  })
}
