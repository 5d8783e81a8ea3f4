import { open, readdir, stat, truncate, writeFile, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it, vi } from 'vitest'
import { defaultWriteOp, FileUpdateStore, StorageError } from '../src/index.ts'
import type { WriteOp } from '../src/index.ts'
import { useTempDirs } from './fixtures/tempDirs.ts'

const tempDir = useTempDirs('log')

const rec = (i: number, len = 10 + i): Uint8Array => Uint8Array.from({ length: len }, (_, j) => (i * 31 + j) & 0xff)
const plain = (records: Uint8Array[]) => records.map((r) => Buffer.from(r).toString('hex'))
const logFile = async (dir: string) => {
  const logs = (await readdir(dir)).filter((n) => n.endsWith('.log'))
  expect(logs).toHaveLength(1)
  return join(dir, logs[0]!)
}

/** A write op that, when armed, writes half of the data and then fails like a full disk. */
const faultyWrite = (code = 'ENOSPC') => {
  const state = { armed: false, failures: 0 }
  const op: WriteOp = async (file, data, position) => {
    if (!state.armed) return defaultWriteOp(file, data, position)
    state.failures++
    await defaultWriteOp(file, data.subarray(0, data.length >> 1), position)
    throw Object.assign(new Error(`simulated ${code}`), { code })
  }
  return { state, op }
}

describe('FileUpdateStore group commit', () => {
  it('shares one fsync among appends issued in the same tick', async () => {
    const store = await FileUpdateStore.open({ dir: await tempDir() })
    await store.append('g', rec(0)) // creates the file (file + dir fsync)
    const before = store.stats().fsyncCount
    await Promise.all(Array.from({ length: 50 }, (_, i) => store.append('g', rec(i + 1))))
    const stats = store.stats()
    expect(stats.fsyncCount - before).toBe(1)
    expect(stats.lastFsyncMs).toBeGreaterThanOrEqual(0)
    expect(Number.isFinite(stats.avgFsyncMs)).toBe(true)
    expect(await store.load('g')).toHaveLength(51)
    await store.close()
    await expect(store.append('g', rec(1))).rejects.toMatchObject({ code: 'IO' })
  })
})

describe('FileUpdateStore torn tail recovery', () => {
  const cases: Array<[string, (path: string) => Promise<void>, number]> = [
    ['truncated mid-record', async (path) => truncate(path, (await stat(path)).size - 3), 2],
    [
      'garbage appended',
      async (path) => writeFile(path, Uint8Array.of(0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9), { flag: 'a' }),
      3,
    ],
    [
      'CRC byte flipped in the last record',
      async (path) => {
        const { size } = await stat(path)
        const crcAt = size - rec(2).length - 8 + 4
        const fh = await open(path, 'r+')
        const b = new Uint8Array(1)
        await fh.read(b, 0, 1, crcAt)
        await fh.write(Uint8Array.of(b[0]! ^ 0x5a), 0, 1, crcAt)
        await fh.close()
      },
      2,
    ],
    [
      'length field corrupted to a huge value',
      async (path) => {
        const { size } = await stat(path)
        const fh = await open(path, 'r+')
        await fh.write(Uint8Array.of(0xff, 0xff, 0xff, 0x7f), 0, 4, size - rec(2).length - 8)
        await fh.close()
      },
      2,
    ],
  ]

  it.each(cases)('%s: earlier records load, warning logged once, later appends survive reopen', async (_, damage, kept) => {
    const dir = await tempDir()
    let store = await FileUpdateStore.open({ dir })
    for (let i = 0; i < 3; i++) await store.append('acct/alice/INBOX', rec(i))
    await store.close()
    await damage(await logFile(dir))

    const log = vi.fn()
    store = await FileUpdateStore.open({ dir, log })
    const expected = plain([0, 1, 2].slice(0, kept).map((i) => rec(i)))
    expect(plain(await store.load('acct/alice/INBOX'))).toEqual(expected)
    expect(plain(await store.load('acct/alice/INBOX'))).toEqual(expected)
    expect(log).toHaveBeenCalledTimes(1)
    expect(log.mock.calls[0]![1]).toMatchObject({ doc: 'acct/alice/INBOX' })
    await store.append('acct/alice/INBOX', rec(9))
    await store.close()

    const log2 = vi.fn()
    store = await FileUpdateStore.open({ dir, log: log2 })
    expect(plain(await store.load('acct/alice/INBOX'))).toEqual([...expected, ...plain([rec(9)])])
    expect(await store.list()).toEqual(['acct/alice/INBOX'])
    expect(log2).not.toHaveBeenCalled()
    await store.close()
  })

  it('treats a torn file header as an empty log', async () => {
    const dir = await tempDir()
    let store = await FileUpdateStore.open({ dir })
    await store.append('d', rec(0))
    await store.close()
    const path = await logFile(dir)
    await truncate(path, 5)
    const log = vi.fn()
    store = await FileUpdateStore.open({ dir, log })
    expect(await store.list()).toEqual([])
    expect(await store.load('d')).toEqual([])
    expect(log).toHaveBeenCalledTimes(1)
    await store.append('d', rec(1))
    await store.close()
    store = await FileUpdateStore.open({ dir })
    expect(plain(await store.load('d'))).toEqual(plain([rec(1)]))
    await store.close()
  })

  it('rejects with CORRUPT when a log file names another document', async () => {
    const dir = await tempDir()
    let store = await FileUpdateStore.open({ dir })
    await store.append('a', rec(0))
    const [fileA] = await readdir(dir)
    await store.append('b', rec(1))
    await store.close()
    const fileB = (await readdir(dir)).find((n) => n !== fileA)!
    await writeFile(join(dir, fileB), await readFile(join(dir, fileA!)))
    store = await FileUpdateStore.open({ dir })
    const err = await store.load('b').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(StorageError)
    expect(err).toMatchObject({ code: 'CORRUPT' })
    expect(plain(await store.load('a'))).toEqual(plain([rec(0)]))
    await store.close()
  })
})

describe('FileUpdateStore write failures', () => {
  it.each([
    ['ENOSPC', 'DISK_FULL'],
    ['EIO', 'IO'],
  ])('%s rejects the whole batch with %s and rolls back the partial write', async (errno, code) => {
    const dir = await tempDir()
    const fault = faultyWrite(errno)
    let store = await FileUpdateStore.open({ dir, writeOp: fault.op })
    await store.append('m', rec(0))
    await store.append('m', rec(1))
    const path = await logFile(dir)
    const sizeBefore = (await stat(path)).size

    fault.state.armed = true
    const results = await Promise.allSettled([store.append('m', rec(2)), store.append('m', rec(3))])
    fault.state.armed = false
    for (const r of results) {
      expect(r.status).toBe('rejected')
      const reason = (r as PromiseRejectedResult).reason
      expect(reason).toBeInstanceOf(StorageError)
      expect(reason.code).toBe(code)
    }
    expect(fault.state.failures).toBe(1)
    expect((await stat(path)).size).toBe(sizeBefore)
    expect(plain(await store.load('m'))).toEqual(plain([rec(0), rec(1)]))

    await store.append('m', rec(4))
    await store.close()
    const log = vi.fn()
    store = await FileUpdateStore.open({ dir, log })
    expect(plain(await store.load('m'))).toEqual(plain([rec(0), rec(1), rec(4)]))
    expect(log).not.toHaveBeenCalled()
    await store.close()
  })

  it('fails the first append of a new document cleanly', async () => {
    const dir = await tempDir()
    const fault = faultyWrite()
    const store = await FileUpdateStore.open({ dir, writeOp: fault.op })
    fault.state.armed = true
    await expect(store.append('new', rec(0))).rejects.toMatchObject({ code: 'DISK_FULL' })
    fault.state.armed = false
    expect(await store.list()).toEqual([])
    await store.append('new', rec(1))
    expect(plain(await store.load('new'))).toEqual(plain([rec(1)]))
    await store.close()
  })

  it('a failed compaction leaves the log and no temp file behind', async () => {
    const dir = await tempDir()
    const fault = faultyWrite()
    let store = await FileUpdateStore.open({ dir, writeOp: fault.op })
    await store.append('c', rec(0))
    await store.append('c', rec(1))
    fault.state.armed = true
    await expect(store.compact('c', rec(7, 5000))).rejects.toMatchObject({ code: 'DISK_FULL' })
    fault.state.armed = false
    expect((await readdir(dir)).filter((n) => n.endsWith('.tmp'))).toEqual([])
    expect(plain(await store.load('c'))).toEqual(plain([rec(0), rec(1)]))
    await store.append('c', rec(2))
    await store.close()
    store = await FileUpdateStore.open({ dir })
    expect(plain(await store.load('c'))).toEqual(plain([rec(0), rec(1), rec(2)]))
    await store.close()
  })

  it('removes a temp file left by an interrupted compaction on open', async () => {
    const dir = await tempDir()
    let store = await FileUpdateStore.open({ dir })
    await store.append('t', rec(0))
    await store.close()
    await writeFile(`${await logFile(dir)}.tmp`, rec(5))
    store = await FileUpdateStore.open({ dir })
    expect((await readdir(dir)).filter((n) => n.endsWith('.tmp'))).toEqual([])
    expect(plain(await store.load('t'))).toEqual(plain([rec(0)]))
    await store.close()
  })
})

describe('FileUpdateStore mid-file log corruption', () => {
  /** Flips one byte of the file at `at`. */
  const flip = async (path: string, at: number, mask = 0x5a) => {
    const fh = await open(path, 'r+')
    const b = new Uint8Array(1)
    await fh.read(b, 0, 1, at)
    await fh.write(Uint8Array.of(b[0]! ^ mask), 0, 1, at)
    await fh.close()
  }
  /** 57 records, each its own commit; returns the frame offset of record `k` (header is record 0). */
  const fill = async (dir: string) => {
    const store = await FileUpdateStore.open({ dir })
    for (let i = 0; i < 57; i++) await store.append('mbox/alice/inbox', rec(i, 40))
    await store.close()
    const path = await logFile(dir)
    const headerBytes = (await stat(path)).size - 57 * (8 + 40)
    return { path, offsetOf: (k: number) => headerBytes + k * 48 }
  }

  it.each([
    ['a payload byte', 8 + 20],
    ['a CRC byte', 5],
    ['the length field', 1],
  ])(
    'a flipped %s in the middle is corruption, not a torn tail: load rejects naming file and offset, nothing is truncated, check() reports it',
    async (_, within) => {
      const dir = await tempDir()
      const { path, offsetOf } = await fill(dir)
      const size = (await stat(path)).size
      await flip(path, offsetOf(28) + within)
      const log = vi.fn()
      const store = await FileUpdateStore.open({ dir, log })
      const err = await store.load('mbox/alice/inbox').catch((e: unknown) => e)
      expect(err).toBeInstanceOf(StorageError)
      expect(err).toMatchObject({ code: 'CORRUPT' })
      expect(String(err)).toContain(
        `${path} (document mbox/alice/inbox): the record at byte ${offsetOf(28)} is damaged and 28 valid records follow from byte ${offsetOf(29)}`,
      )
      await expect(store.append('mbox/alice/inbox', rec(99))).rejects.toMatchObject({ code: 'CORRUPT' })
      expect((await stat(path)).size).toBe(size) // on main: truncated to the 28 records before the flip
      expect(log).not.toHaveBeenCalled()
      expect(await store.check()).toEqual([
        { file: path, doc: 'mbox/alice/inbox', offset: offsetOf(28), resumesAt: offsetOf(29), recordsAfter: 28 },
      ])
      await store.close()
    },
  )

  it('a torn tail is still dropped (logged), and check() does not report it', async () => {
    const dir = await tempDir()
    const { path } = await fill(dir)
    await truncate(path, (await stat(path)).size - 17)
    const log = vi.fn()
    const store = await FileUpdateStore.open({ dir, log })
    expect(await store.check()).toEqual([])
    expect(await store.load('mbox/alice/inbox')).toHaveLength(56)
    expect(log).toHaveBeenCalledTimes(1)
    await store.close()
  })

  it('damage inside a large compaction snapshot followed by later records is corruption too', async () => {
    const dir = await tempDir()
    let store = await FileUpdateStore.open({ dir })
    await store.append('d', rec(0))
    await store.compact('d', rec(1, 2_000_000))
    for (let i = 2; i < 10; i++) await store.append('d', rec(i))
    await store.close()
    const path = await logFile(dir)
    const headerBytes = (await stat(path)).size - (8 + 2_000_000) - [2, 3, 4, 5, 6, 7, 8, 9].reduce((n, i) => n + 8 + rec(i).length, 0)
    await flip(path, headerBytes + 1) // the snapshot's length field: found again by scanning
    store = await FileUpdateStore.open({ dir })
    const [damage] = await store.check()
    expect(damage).toMatchObject({ offset: headerBytes, resumesAt: headerBytes + 8 + 2_000_000, recordsAfter: 8 })
    await expect(store.load('d')).rejects.toMatchObject({ code: 'CORRUPT' })
    await store.close()
  })
})
