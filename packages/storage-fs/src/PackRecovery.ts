import { open, readdir, readFile, stat, unlink } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { FRAME_HEADER, frameAt, isMissing, parseFrames, readIfExists } from './frames.ts'
import { COMMIT, decodeEntries, delEntry, headerFirstPack, indexFrame, KEY_BYTES, recordBytes, SETTLED } from './packIndex.ts'
import type { Loc } from './packIndex.ts'
import type { StorageLog } from './StorageError.ts'
import { writeFully } from './writeFully.ts'
import type { WriteOp } from './writeFully.ts'

const PACK_NAME = /^(\d{6,})\.pack$/

const ignoreMissing = (err: unknown): void => {
  if (!isMissing(err)) throw err
}

/** Sizes of the pack files in `packsDir`, by pack number. */
export async function packSizes(packsDir: string): Promise<Map<number, number>> {
  const sizes = new Map<number, number>()
  for (const name of await readdir(packsDir)) {
    const match = PACK_NAME.exec(name)
    if (match) sizes.set(Number(match[1]), (await stat(join(packsDir, name))).size)
  }
  return sizes
}

/** What recovery needs from its PackBlobStore (internal to the package). */
export interface PackRecoveryHost {
  readonly dir: string
  readonly packsDir: string
  readonly indexPath: string
  readonly writeOp: WriteOp
  readonly log: StorageLog | undefined
  /** Filled with the recovered index. */
  readonly index: Map<string, Loc>
  packPath(pack: number): string
  sync(file: FileHandle): Promise<void>
  syncDirectory(dir: string): Promise<void>
  writeIndex(firstPack: number, entries: Map<string, Loc>): Promise<{ file: FileHandle; size: number }>
}

/**
 * Opening a PackBlobStore: loads the index log (never the blobs) and reconciles it with the
 * packs on disk, truncating torn tails, dropping (and tombstoning) entries whose bytes are
 * gone, verifying the records of the last COMMIT frame, and rebuilding the index from the
 * packs when it is unreadable. Leaves the open index file and the pack to append to.
 */
export class PackRecovery {
  indexFile: FileHandle | undefined
  indexSize = 0
  active = 0
  activeSize = 0
  private readonly dir: string
  private readonly packsDir: string
  private readonly indexPath: string
  private readonly writeOp: WriteOp
  private readonly log: StorageLog | undefined
  private readonly index: Map<string, Loc>
  private readonly packPath: (pack: number) => string
  private readonly sync: (file: FileHandle) => Promise<void>
  private readonly syncDirectory: (dir: string) => Promise<void>
  private readonly writeIndex: PackRecoveryHost['writeIndex']

  constructor(host: PackRecoveryHost) {
    this.dir = host.dir
    this.packsDir = host.packsDir
    this.indexPath = host.indexPath
    this.writeOp = host.writeOp
    this.log = host.log
    this.index = host.index
    this.packPath = (pack) => host.packPath(pack)
    this.sync = (file) => host.sync(file)
    this.syncDirectory = (dir) => host.syncDirectory(dir)
    this.writeIndex = (first, entries) => host.writeIndex(first, entries)
  }

  /** Loads the index and reconciles it with the packs on disk. */
  async recover(): Promise<void> {
    await unlink(`${this.indexPath}.tmp`).catch(ignoreMissing)
    const sizes = await packSizes(this.packsDir)
    const buf = await readIfExists(this.indexPath)
    const { records, offsets, validEnd } = parseFrames(buf ?? new Uint8Array(0))
    const firstPack = headerFirstPack(records[0])
    if (firstPack === undefined) return this.rebuild(sizes, buf?.length ?? 0)

    let indexEnd = validEnd
    /** End of the last readable record of each pack. */
    const packEnd = new Map<number, number>()
    /** End of the last record the index ever placed in each pack, readable or not. */
    const claimedEnd = new Map<number, number>()
    /** Keys whose latest entry points past the end of its pack (bytes lost) and has no tombstone yet. */
    const stale = new Set<string>()
    /** Readable-looking PUT entries of the last frame if it is a COMMIT frame: still to verify. */
    let unverified: [string, Loc][] = []
    for (let r = 1; r < records.length; r++) {
      const puts: [string, Loc][] = []
      const ok = decodeEntries(
        records[r]!,
        (key, loc) => {
          const end = loc.offset + recordBytes(loc.length)
          claimedEnd.set(loc.pack, Math.max(claimedEnd.get(loc.pack) ?? 0, end))
          if (end > (sizes.get(loc.pack) ?? 0)) {
            this.index.delete(key)
            stale.add(key)
            return
          }
          this.index.set(key, loc)
          stale.delete(key)
          packEnd.set(loc.pack, Math.max(packEnd.get(loc.pack) ?? 0, end))
          puts.push([key, loc])
        },
        (key) => {
          this.index.delete(key)
          stale.delete(key)
        },
      )
      if (!ok) {
        indexEnd = offsets[r]!
        break
      }
      unverified = records[r]![0] === COMMIT ? puts : []
    }
    const verified = await this.verify(unverified, packEnd, stale)

    let active = Math.max(firstPack, ...packEnd.keys())
    // A pack that lost indexed bytes takes no more appends: its dead entries must never cover new records.
    if ((claimedEnd.get(active) ?? 0) > (packEnd.get(active) ?? 0)) active++
    const packsDropped: { pack: number; bytes: number }[] = []
    let unlinked = false
    for (const [pack, size] of sizes) {
      if (pack > active || (pack < firstPack && !packEnd.has(pack))) {
        // Packs of an older generation (compaction finished) or never indexed (crash first).
        await unlink(this.packPath(pack))
        unlinked = true
        if (pack > active && size > 0) packsDropped.push({ pack, bytes: size })
        continue
      }
      const end = packEnd.get(pack) ?? 0
      if (size > end || verified.has(pack)) {
        const file = await open(this.packPath(pack), 'r+')
        try {
          if (size > end) await file.truncate(end)
          // Records verified from the page cache must be on disk before anything builds on them.
          await this.sync(file)
        } finally {
          await file.close()
        }
        if (size > end) packsDropped.push({ pack, bytes: size - end })
      }
    }
    if (unlinked) await this.syncDirectory(this.packsDir)

    this.indexFile = await open(this.indexPath, 'r+')
    if (indexEnd < buf!.length) await this.indexFile.truncate(indexEnd)
    if (indexEnd < buf!.length || verified.size > 0) await this.sync(this.indexFile)
    this.indexSize = indexEnd
    this.active = active
    this.activeSize = packEnd.get(active) ?? 0
    if (stale.size > 0) {
      // Tombstones, so that the next open does not report the same lost entries again.
      const frame = indexFrame(SETTLED, [...stale].map(delEntry))
      await writeFully(this.writeOp, this.indexFile, frame, this.indexSize)
      await this.sync(this.indexFile)
      this.indexSize += frame.length
    }
    if (indexEnd < buf!.length || packsDropped.length > 0 || stale.size > 0) {
      this.log?.(
        'storage-fs: blob store recovered after an unclean stop or damage (torn or damaged pack tail truncated; a node fetches lost bodies again from its peers)',
        {
          dir: this.dir,
          indexBytesDropped: buf!.length - indexEnd,
          packsTruncated: packsDropped,
          entriesLost: stale.size,
        },
      )
    }
  }

  /**
   * Checks the records of the last COMMIT frame (the only ones that may not have reached the disk):
   * from the first record of a pack that does not verify on, entries are dropped (and marked stale)
   * and that pack ends there. Returns the packs whose records verified.
   */
  private async verify(puts: [string, Loc][], packEnd: Map<number, number>, stale: Set<string>): Promise<Set<number>> {
    const verified = new Set<number>()
    const byPack = new Map<number, [string, Loc][]>()
    for (const put of puts) {
      const entries = byPack.get(put[1].pack)
      if (entries) entries.push(put)
      else byPack.set(put[1].pack, [put])
    }
    for (const [pack, entries] of byPack) {
      entries.sort(([, a], [, b]) => a.offset - b.offset)
      const from = entries[0]![1].offset
      const last = entries.at(-1)![1]
      const file = await open(this.packPath(pack), 'r')
      const buf = Buffer.alloc(last.offset + recordBytes(last.length) - from)
      try {
        await file.read(buf, 0, buf.length, from)
      } finally {
        await file.close()
      }
      const bad = entries.findIndex(([key, loc]) => {
        const payload = frameAt(buf, loc.offset - from)
        return (
          payload?.length !== KEY_BYTES + loc.length || Buffer.from(payload.buffer, payload.byteOffset, KEY_BYTES).toString('hex') !== key
        )
      })
      if (bad < 0) {
        verified.add(pack)
        continue
      }
      for (const [key, loc] of entries.slice(bad)) {
        if (this.index.get(key) !== loc) continue // superseded within the same commit
        this.index.delete(key)
        stale.add(key)
      }
      packEnd.set(pack, entries[bad]![1].offset)
      if (bad > 0) verified.add(pack)
    }
    return verified
  }

  /** No readable index: rebuilds it from the packs' records (deletions since the last compaction come back). */
  private async rebuild(sizes: Map<number, number>, indexBytes: number): Promise<void> {
    const packs = [...sizes.keys()].sort((a, b) => a - b)
    let end = 0
    const packsDropped: { pack: number; bytes: number }[] = []
    for (const pack of packs) {
      const buf = Buffer.from(await readFile(this.packPath(pack)))
      const { records, offsets } = parseFrames(buf)
      end = 0
      for (const [r, record] of records.entries()) {
        if (record.length < KEY_BYTES) break
        const key = buf.toString('hex', offsets[r]! + FRAME_HEADER, offsets[r]! + FRAME_HEADER + KEY_BYTES)
        this.index.set(key, { pack, offset: offsets[r]!, length: record.length - KEY_BYTES })
        end = offsets[r]! + FRAME_HEADER + record.length
      }
      if (end < buf.length) packsDropped.push({ pack, bytes: buf.length - end })
      const file = await open(this.packPath(pack), 'r+')
      try {
        // Only the last pack receives appends, so only its bad tail must go.
        if (end < buf.length && pack === packs.at(-1)) await file.truncate(end)
        // What was read may exist only in the page cache: make it durable before indexing it.
        await this.sync(file)
      } finally {
        await file.close()
      }
    }
    const firstPack = packs[0] ?? 0
    const { file, size } = await this.writeIndex(firstPack, this.index)
    this.indexFile = file
    this.indexSize = size
    this.active = packs.at(-1) ?? firstPack
    this.activeSize = end
    await this.syncDirectory(this.dir)
    if (indexBytes > 0 || packs.length > 0) {
      this.log?.('storage-fs: blob index missing or unreadable, rebuilt from the packs (deletions since the last compaction are undone)', {
        dir: this.dir,
        indexBytes,
        blobs: this.index.size,
        packsWithBadTail: packsDropped,
      })
    }
  }
}
