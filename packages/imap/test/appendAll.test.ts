import { describe, expect, it } from 'vitest'
import type { ImapMailbox } from '../src/ImapBackend.ts'
import { appendAll } from '../src/commands/appendAll.ts'
import { exposedSet } from '../src/uidSets.ts'

/** Only what appendAll touches: expunge and flush. */
function fakeDest(): { dest: ImapMailbox; expunged: string[][]; flushes: number } {
  const log = { expunged: [] as string[][], flushes: 0 }
  const dest = {
    mailbox: { expunge: (guids: string[]) => log.expunged.push([...guids]) },
    flush: async () => {
      log.flushes++
    },
  } as unknown as ImapMailbox
  return { dest, get expunged() { return log.expunged }, get flushes() { return log.flushes } }
}

describe('appendAll', () => {
  it('returns the GUIDs in order when every append succeeds', async () => {
    const f = fakeDest()
    expect(await appendAll(f.dest, 3, async (i) => `g${i}`)).toEqual(['g0', 'g1', 'g2'])
    expect(f.expunged).toEqual([])
  })

  it('expunges (and flushes) what it appended when a later append fails, and rethrows', async () => {
    const f = fakeDest()
    const boom = new Error('disk full')
    await expect(appendAll(f.dest, 4, async (i) => {
      if (i === 2) throw boom
      return `g${i}`
    })).rejects.toBe(boom)
    expect(f.expunged).toEqual([['g0', 'g1']])
    expect(f.flushes).toBe(1)
  })

  it('expunges nothing when the first append fails', async () => {
    const f = fakeDest()
    await expect(appendAll(f.dest, 2, () => Promise.reject(new Error('no')))).rejects.toThrow('no')
    expect(f.expunged).toEqual([])
    expect(f.flushes).toBe(0)
  })
})

describe('exposedSet', () => {
  const view = (uidValidity: number, exposed: number[]) => ({ uidValidity, seqOfUid: (u: number) => (exposed.includes(u) ? exposed.indexOf(u) + 1 : undefined) })
  it('keeps the given order, compressing runs', () => {
    expect(exposedSet(view(7, [1, 2, 3, 9]), [9, 1, 2, 3])?.toString()).toBe('9,1:3')
  })
  it('is undefined when a UID is missing, not exposed yet, or there is no UIDVALIDITY', () => {
    expect(exposedSet(view(7, [1, 2]), [1, undefined])).toBeUndefined()
    expect(exposedSet(view(7, [1, 2]), [1, 3])).toBeUndefined()
    expect(exposedSet(view(0, [1, 2]), [1, 2])).toBeUndefined()
  })
})
