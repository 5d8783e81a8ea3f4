import { mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { silentLogger } from '../src/index.ts'
import type { Logger } from '../src/index.ts'
import { FileMetaStore } from '@mailweave/storage-fs'
import { PeerResume } from '../src/PeerResume.ts'

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})
const KEY = 'peer-resume.json'
/** A file meta store in a new directory, and the path of the resume record in it. */
const tempStore = async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mailweave-resume-'))
  dirs.push(dir)
  return { meta: await FileMetaStore.open(dir), path: join(dir, KEY) }
}
const recording = () => {
  const warnings: unknown[] = []
  const log = { ...silentLogger(), warn: (o: unknown, msg?: string) => void warnings.push({ ...(o as object), msg }) } as Logger
  return { log, warnings }
}

describe('peer-resume.json (PeerResume over FileMetaStore)', () => {
  it('concurrent saves from many links all succeed and the file holds every one of them, parseable, with no temp file left', async () => {
    const { meta, path } = await tempStore()
    const { log } = recording()
    const file = new PeerResume(meta, KEY, log)
    // 300 saves in bursts: on main every link wrote through one `.tmp` and most failed (ENOENT) or left a corrupt file
    for (let round = 0; round < 10; round++) {
      await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          file.save(`peer-${i}`, { epoch: `e${round}`, seq: round * 1000 + (i % 3 === 0 ? 1_000_000_000 : i) }),
        ),
      )
    }
    const onDisk = JSON.parse(readFileSync(path, 'utf8')) as Record<string, { epoch: string; seq: number }>
    expect(Object.keys(onDisk)).toHaveLength(30)
    expect(onDisk['peer-1']).toEqual({ epoch: 'e9', seq: 9001 })
    expect(readdirSync(join(path, '..')).filter((f) => f.endsWith('.tmp'))).toEqual([])
    expect(await new PeerResume(meta, KEY, log).load('peer-0')).toEqual({ epoch: 'e9', seq: 1_000_009_000 })
  })

  it('a truncated (corrupt) file is discarded with a warning, and later saves and loads work', async () => {
    const { meta, path } = await tempStore()
    const first = new PeerResume(meta, KEY, silentLogger())
    await first.save('a', { epoch: 'x', seq: 5 })
    await first.save('b', { epoch: 'y', seq: 7 })
    truncateSync(path, 12)
    const { log, warnings } = recording()
    const file = new PeerResume(meta, KEY, log)
    expect(await file.load('a')).toBeUndefined()
    expect(warnings).toEqual([expect.objectContaining({ record: KEY, msg: expect.stringMatching(/corrupt: discarded/) })])
    await file.save('a', { epoch: 'z', seq: 1 })
    expect(await new PeerResume(meta, KEY, log).load('a')).toEqual({ epoch: 'z', seq: 1 })
    expect(warnings).toHaveLength(1)
  })

  it('a file holding something other than cursors is discarded too', async () => {
    const { meta, path } = await tempStore()
    writeFileSync(path, JSON.stringify({ a: { epoch: 'x', seq: -1 } }))
    const { log, warnings } = recording()
    expect(await new PeerResume(meta, KEY, log).load('a')).toBeUndefined()
    expect(warnings).toHaveLength(1)
  })
})
