import { constants } from 'node:fs'
import { mkdir, open, unlink } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import type { BlobStore } from '@mailweave/core'
import { FileBlobStore } from './FileBlobStore.ts'
import { concat, encodeFrame, FRAME_HEADER, isMissing } from './frames.ts'
import { checkBlobKey, isBlobKey, sha256Hex } from './blobKey.ts'
import { COMMIT, delEntry, encodeIndex, indexFrame, KEY_BYTES, putEntry, recordBytes } from './packIndex.ts'
import type { Loc } from './packIndex.ts'
import { PackRecovery, packSizes } from './PackRecovery.ts'
import { StorageError, toStorageError } from './StorageError.ts'
import type { StorageLog } from './StorageError.ts'
import { defaultWriteOp, replaceFile, syncDir, writeFully } from './writeFully.ts'
import type { WriteOp } from './writeFully.ts'

/** Options of {@link PackBlobStore.open}. */
export interface PackBlobStoreOptions {
  /** Root directory: `packs/NNNNNN.pack`, `index.log`, and large blobs in `<first 2 hex>/<key>`. Created when missing. */
  dir: string
  /** Receives one warning per recovery after an unclean stop and one per blob found corrupt. */
  log?: StorageLog
  /** Replaces the positional write (fault injection in tests). */
  writeOp?: WriteOp
  /** Blobs longer than this are stored one file each (the {@link FileBlobStore} layout). Default 1 MiB, at most 1 GiB. */
  largeBlobBytes?: number
  /** A pack takes no more records once one would push it past this size. Default 256 MiB, at most 4 GiB - 1. */
  packBytes?: number
}

/** Counters of a {@link PackBlobStore} since open. */
export interface PackBlobStoreStats {
  /** Blobs present (packed and large). */
  blobs: number
  /** Group commits (each is one pack fsync + one index fsync, whatever the number of puts). */
  commits: number
  /** File and directory fsyncs of packs and index (large-blob fsyncs are not counted). */
  fsyncCount: number
}

/** Outcome of {@link PackBlobStore.compact}. */
export interface PackCompaction {
  /** Packed blobs copied into the new packs. */
  blobs: number
  /** Pack bytes on disk before and after. */
  bytesBefore: number
  bytesAfter: number
}

interface PendingRead {
  key: string
  loc: Loc
  resolve: (got: Uint8Array | Error | undefined) => void
}

type Op = { kind: 'put'; key: string; frame: Uint8Array; length: number } | { kind: 'del'; key: string }

interface Batch {
  ops: Op[]
  done: Promise<void>
}

const DEFAULT_LARGE = 1 << 20
const DEFAULT_PACK = 256 << 20
const MAX_LARGE = 1 << 30
const MAX_PACK = 0xffffffff
// Reads of one tick join into one when their records are at most READ_GAP apart and the run stays within READ_SPAN.
const READ_GAP = 16 << 10
const READ_SPAN = 1 << 20
// Compaction reads neighbouring records in one go and writes in chunks of about this size.
const COPY_CHUNK = 8 << 20
const closedError = (): StorageError => new StorageError('IO', 'PackBlobStore is closed')

/**
 * A durable, content-addressed {@link BlobStore} that appends blobs as CRC-framed records
 * (`u32 length, u32 crc, raw key, bytes`) to pack files and keeps an in-memory index
 * key → (pack, offset, length), persisted as an append-only `index.log`.
 *
 * Guarantees: `put` rejects with `HASH_MISMATCH` unless the key is the lowercase hex SHA-256 of
 * the bytes, and resolves only once the blob and its index entry are durable. Puts issued in the
 * same tick (and those queued while a commit is in flight) share one group commit: records to the
 * pack, one frame to the index, then one parallel round of fdatasyncs. As the index may thus reach
 * the disk before the records, open verifies the records of the last commit (the only ones that
 * can be missing) and drops those that do not check out. A failed commit rejects with a
 * {@link StorageError} and is rolled back (earlier blobs stay intact). `get` re-hashes and never
 * returns bytes that do not match the key (a put still being committed is answered from memory,
 * its bytes checked at `put`); a corrupt blob is logged, dropped from the index (for
 * good) and can be put again. `has` and repeated `put`s are answered from memory. Blobs longer
 * than `largeBlobBytes` are stored one file each through {@link FileBlobStore} in the same
 * directory. Opening reads the index, never the blobs; it truncates a torn tail of the index or of
 * a pack, drops entries whose bytes are gone (one log line per recovery) and never appends to a
 * pack that lost indexed bytes. One process per directory.
 */
export class PackBlobStore implements BlobStore {
  private readonly index = new Map<string, Loc>()
  /** Last uncommitted op per key, with the promise of its batch. */
  private readonly pending = new Map<string, { op: Op; done: Promise<void> }>()
  private readonly readers = new Map<number, Promise<FileHandle>>()
  /** Reads asked for in this tick (see `read`). */
  private readonly reads: PendingRead[] = []
  private readonly packsDir: string
  private readonly indexPath: string
  private readonly writeOp: WriteOp
  private indexFile: FileHandle | undefined
  private indexSize = 0
  /** Pack receiving appends, its valid size and its handle (opened on first write). */
  private active = 0
  private activeSize = 0
  private writer: { pack: number; file: FileHandle } | undefined
  private openBatch: Batch | undefined
  private tail: Promise<unknown> = Promise.resolve()
  private broken: StorageError | undefined
  private closed = false
  private fsyncs = 0
  private commits = 0

  private constructor(
    private readonly dir: string,
    private readonly log: StorageLog | undefined,
    writeOp: WriteOp | undefined,
    private readonly largeBlobBytes: number,
    private readonly packBytes: number,
    private readonly files: FileBlobStore,
    private readonly large: Set<string>,
  ) {
    this.writeOp = writeOp ?? defaultWriteOp
    this.packsDir = join(dir, 'packs')
    this.indexPath = join(dir, 'index.log')
  }

  /**
   * Opens (creating if needed) the store rooted at `options.dir`: loads the index log (never the
   * blobs), repairs what an unclean stop left behind and lists the large-blob files.
   */
  static async open(options: PackBlobStoreOptions): Promise<PackBlobStore> {
    const largeBlobBytes = options.largeBlobBytes ?? DEFAULT_LARGE
    const packBytes = options.packBytes ?? DEFAULT_PACK
    if (!Number.isInteger(largeBlobBytes) || largeBlobBytes < 0 || largeBlobBytes > MAX_LARGE)
      throw new RangeError(`largeBlobBytes must be an integer in [0, ${MAX_LARGE}]`)
    if (!Number.isInteger(packBytes) || packBytes < 1 || packBytes > MAX_PACK)
      throw new RangeError(`packBytes must be an integer in [1, ${MAX_PACK}]`)
    let store: PackBlobStore | undefined
    try {
      const files = await FileBlobStore.open({ dir: options.dir, log: options.log, writeOp: options.writeOp })
      if (await mkdir(join(options.dir, 'packs'), { recursive: true })) await syncDir(options.dir)
      const large = new Set<string>()
      for await (const key of files.keys()) large.add(key)
      store = new PackBlobStore(options.dir, options.log, options.writeOp, largeBlobBytes, packBytes, files, large)
      await store.recover()
      return store
    } catch (err) {
      await store?.close().catch(() => {})
      throw toStorageError(err, `open ${options.dir}`)
    }
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    checkBlobKey(key, bytes)
    if (this.closed) throw closedError()
    if (this.large.has(key)) return
    const pending = this.pending.get(key)
    if (pending ? pending.op.kind === 'put' : this.index.has(key)) return pending?.done
    if (bytes.length > this.largeBlobBytes) {
      await this.files.put(key, bytes)
      this.large.add(key)
      return
    }
    return this.enqueue({ kind: 'put', key, frame: encodeFrame(Buffer.from(key, 'hex'), bytes), length: bytes.length })
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    if (!isBlobKey(key)) return undefined
    if (this.closed) throw closedError()
    // a put still on its way to the disk is readable already (its bytes are in memory)
    const pending = this.pending.get(key)?.op
    if (pending?.kind === 'put') return pending.frame.slice(FRAME_HEADER + KEY_BYTES)
    // (a pending delete may be of the packed copy of a key now stored as a file: largeBlobBytes changed)
    if (pending?.kind === 'del' && !this.large.has(key)) return undefined
    // A compaction may move the blob between the lookup and the read: look again then.
    for (let attempt = 0; attempt < 4; attempt++) {
      const loc = this.index.get(key)
      if (!loc) break
      const got = await this.read(key, loc)
      if (got instanceof Uint8Array) return got
      if (this.index.get(key) !== loc) continue
      if (got !== undefined && !isMissing(got)) throw toStorageError(got, `get blob ${key}`)
      this.dropCorrupt(key, loc, got === undefined ? 'bytes do not hash to the key' : 'pack file missing')
      return undefined
    }
    if (!this.large.has(key)) return undefined
    const bytes = await this.files.get(key)
    if (bytes === undefined) this.large.delete(key)
    return bytes
  }

  async has(key: string): Promise<boolean> {
    return this.index.has(key) || this.large.has(key)
  }

  async delete(key: string): Promise<void> {
    if (!isBlobKey(key)) return
    if (this.closed) throw closedError()
    if (this.large.has(key)) {
      await this.files.delete(key)
      this.large.delete(key)
    }
    const pending = this.pending.get(key)
    if (pending ? pending.op.kind === 'del' : !this.index.has(key)) return pending?.done
    return this.enqueue({ kind: 'del', key })
  }

  async *keys(): AsyncIterable<string> {
    const all = new Set(this.index.keys())
    for (const key of this.large) all.add(key)
    yield* all
  }

  /**
   * Rewrites the live packed blobs (re-verified; corrupt ones are logged and left out) into new
   * packs and a new index, made current by one atomic rename; then deletes the old packs. Puts
   * and deletes issued meanwhile wait and land in the new generation. Large blobs are untouched.
   */
  compact(): Promise<PackCompaction> {
    if (this.closed) return Promise.reject(closedError())
    return this.run(() => this.rewrite())
  }

  /** Counters since open. */
  stats(): PackBlobStoreStats {
    return { blobs: this.index.size + this.large.size, commits: this.commits, fsyncCount: this.fsyncs }
  }

  /** Waits for pending commits, then closes every file. Later calls reject. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.tail
    const handles = [this.indexFile, this.writer?.file]
    for (const reader of this.readers.values()) handles.push(await reader.catch(() => undefined))
    this.readers.clear()
    this.writer = this.indexFile = undefined
    for (const file of handles) await file?.close().catch(() => {})
  }

  private enqueue(op: Op): Promise<void> {
    let batch = this.openBatch
    if (!batch) {
      const ops: Op[] = []
      const done = this.run(async () => {
        // Let the rest of this tick's puts join before writing.
        await new Promise((resolve) => setImmediate(resolve))
        if (this.openBatch === current) this.openBatch = undefined
        await this.commit(ops)
      })
      const current: Batch = { ops, done }
      // Registered before any caller's continuation, so a retry after a failure enqueues anew.
      const settle = () => {
        for (const queued of ops) if (this.pending.get(queued.key)?.op === queued) this.pending.delete(queued.key)
      }
      done.then(settle, settle)
      batch = this.openBatch = current
    }
    batch.ops.push(op)
    this.pending.set(op.key, { op, done: batch.done })
    return batch.done
  }

  private run<T>(op: () => Promise<T>): Promise<T> {
    const result = this.tail.then(() => {
      if (this.broken) throw this.broken
      return op()
    })
    this.tail = result.catch(() => {})
    return result
  }

  /** One group commit: records to the pack(s), one frame to the index, then all their fdatasyncs at once. */
  private async commit(ops: Op[]): Promise<void> {
    const writes: { pack: number; at: number; parts: Uint8Array[] }[] = []
    const locs = new Map<Op, Loc>()
    const entries: Uint8Array[] = []
    let pack = this.active
    let size = this.activeSize
    for (const op of ops) {
      if (op.kind === 'del') {
        entries.push(delEntry(op.key))
        continue
      }
      if (size > 0 && size + op.frame.length > this.packBytes) {
        pack++
        size = 0
      }
      let write = writes.at(-1)
      if (write?.pack !== pack) writes.push((write = { pack, at: size, parts: [] }))
      write.parts.push(op.frame)
      const loc = { pack, offset: size, length: op.length }
      locs.set(op, loc)
      entries.push(putEntry(op.key, loc))
      size += op.frame.length
    }
    const frame = indexFrame(COMMIT, entries)
    const opened = new Map<number, FileHandle>()
    const handleOf = async (id: number): Promise<FileHandle> => {
      if (this.writer?.pack === id) return this.writer.file
      let file = opened.get(id)
      if (!file) opened.set(id, (file = await open(this.packPath(id), constants.O_RDWR | constants.O_CREAT)))
      return file
    }
    try {
      if (!this.indexFile) throw new StorageError('IO', 'index log is not open')
      const files = [this.indexFile]
      for (const write of writes) {
        const file = await handleOf(write.pack)
        await writeFully(this.writeOp, file, concat(write.parts), write.at)
        files.push(file)
      }
      await writeFully(this.writeOp, this.indexFile, frame, this.indexSize)
      // One round of fsyncs in parallel; the index may thus land before the records (see recover).
      // A pack file opened here may be new: its directory entry must be durable too.
      const syncs = await Promise.allSettled([
        ...files.map((file) => this.sync(file)),
        opened.size > 0 && this.syncDirectory(this.packsDir),
      ])
      for (const sync of syncs) if (sync.status === 'rejected') throw sync.reason
    } catch (err) {
      try {
        for (const write of writes) {
          const file = this.writer?.pack === write.pack ? this.writer.file : opened.get(write.pack)
          if (!file) continue
          await file.truncate(write.at)
          await this.sync(file)
        }
        if (this.indexFile) {
          await this.indexFile.truncate(this.indexSize)
          await this.sync(this.indexFile)
        }
      } catch (rollbackErr) {
        this.broken = toStorageError(rollbackErr, `rollback in ${this.dir}`)
      }
      for (const file of opened.values()) await file.close().catch(() => {})
      throw toStorageError(err, `put blobs in ${this.dir}`)
    }
    const file = this.writer?.pack === pack ? undefined : opened.get(pack)
    if (file) {
      opened.delete(pack)
      await this.writer?.file.close().catch(() => {})
      this.writer = { pack, file }
    }
    for (const file of opened.values()) await file.close().catch(() => {})
    this.active = pack
    this.activeSize = size
    this.indexSize += frame.length
    this.commits++
    for (const op of ops) {
      const loc = locs.get(op)
      if (loc) this.index.set(op.key, loc)
      else this.index.delete(op.key)
    }
  }

  /**
   * One blob's bytes, verified; `undefined` when they do not hash to the key (or the record moved
   * meanwhile: the caller looks the key up again), or the read error. Reads asked for
   * in the same tick are served together: neighbouring records of a pack come from one read
   * (a mailbox listing asks for many bodies stored one after the other), not one each.
   */
  private read(key: string, loc: Loc): Promise<Uint8Array | Error | undefined> {
    return new Promise((resolve) => {
      if (this.reads.length === 0) setImmediate(() => void this.readBatch(this.reads.splice(0)))
      this.reads.push({ key, loc, resolve })
    })
  }

  private async readBatch(reads: PendingRead[]): Promise<void> {
    reads.sort((a, b) => a.loc.pack - b.loc.pack || a.loc.offset - b.loc.offset)
    for (let i = 0; i < reads.length;) {
      // a run: records of one pack close enough that reading the gaps costs less than a round trip
      const first = reads[i]!
      let end = first.loc.offset + recordBytes(first.loc.length)
      let j = i + 1
      for (; j < reads.length; j++) {
        const r = reads[j]!
        const rEnd = r.loc.offset + recordBytes(r.loc.length)
        if (r.loc.pack !== first.loc.pack || r.loc.offset > end + READ_GAP || Math.max(end, rEnd) - first.loc.offset > READ_SPAN) break
        end = Math.max(end, rEnd)
      }
      const run = reads.slice(i, j)
      i = j
      // Checked before each run, as close() or a compaction may happen while an earlier run is read:
      // a handle opened after close() would leak, and one to a pack a compaction retired would keep
      // its disk space until close.
      if (this.closed) {
        for (const r of run) r.resolve(closedError())
        continue
      }
      if (!run.some((r) => this.index.get(r.key) === r.loc)) {
        for (const r of run) r.resolve(undefined)
        continue
      }
      try {
        const file = await this.reader(first.loc.pack)
        const buf = new Uint8Array(end - first.loc.offset)
        const { bytesRead } = await file.read(buf, 0, buf.length, first.loc.offset)
        for (const r of run) {
          const at = r.loc.offset - first.loc.offset
          const recEnd = at + recordBytes(r.loc.length)
          // each blob gets its own copy: a view would keep the whole run alive
          const blob = buf.slice(at + FRAME_HEADER + KEY_BYTES, recEnd)
          r.resolve(recEnd <= bytesRead && sha256Hex(blob) === r.key ? blob : undefined)
        }
      } catch (err) {
        for (const r of run) r.resolve(err instanceof Error ? err : new Error(String(err)))
      }
    }
  }

  private reader(pack: number): Promise<FileHandle> {
    let file = this.readers.get(pack)
    if (!file) {
      const opening = open(this.packPath(pack), 'r')
      opening.catch(() => {
        if (this.readers.get(pack) === opening) this.readers.delete(pack)
      })
      this.readers.set(pack, (file = opening))
    }
    return file
  }

  private dropCorrupt(key: string, loc: Loc, why: string): void {
    this.log?.('storage-fs: packed blob corrupt, dropped from the index', {
      key,
      file: this.packPath(loc.pack),
      offset: loc.offset,
      bytes: loc.length,
      why,
    })
    this.index.delete(key)
    // Persist the drop so a reopen does not serve (and log) it again; best effort.
    if (!this.closed && !this.pending.has(key)) this.enqueue({ kind: 'del', key }).catch(() => {})
  }

  private async rewrite(): Promise<PackCompaction> {
    const live = [...this.index].sort(([, a], [, b]) => a.pack - b.pack || a.offset - b.offset)
    const moved = new Map<string, Loc>()
    const created: { pack: number; file: FileHandle }[] = []
    let before = new Map<number, number>()
    let size = 0
    let chunk: Uint8Array[] = []
    let chunkBytes = 0
    let written = 0
    const startPack = async (pack: number) => {
      created.push({ pack, file: await open(this.packPath(pack), 'w+') })
      size = written = 0
    }
    const flush = async () => {
      await writeFully(this.writeOp, created.at(-1)!.file, concat(chunk), written)
      written += chunkBytes
      chunk = []
      chunkBytes = 0
    }
    let first = 0
    let index: { file: FileHandle; size: number }
    try {
      before = await packSizes(this.packsDir)
      first = Math.max(this.active, ...before.keys()) + 1
      await startPack(first)
      for (let i = 0; i < live.length;) {
        // Neighbouring records of one pack are read together.
        const [, start] = live[i]!
        let j = i + 1
        while (
          j < live.length &&
          live[j]![1].pack === start.pack &&
          live[j]![1].offset + recordBytes(live[j]![1].length) - start.offset <= COPY_CHUNK
        )
          j++
        const last = live[j - 1]![1]
        const buf = await this.readRange(start.pack, start.offset, last.offset + recordBytes(last.length) - start.offset)
        for (const [key, loc] of live.slice(i, j)) {
          const record = buf.subarray(loc.offset - start.offset, loc.offset - start.offset + recordBytes(loc.length))
          if (record.length !== recordBytes(loc.length) || sha256Hex(record.subarray(FRAME_HEADER + KEY_BYTES)) !== key) {
            this.log?.('storage-fs: packed blob corrupt, left out of compaction', {
              key,
              file: this.packPath(loc.pack),
              offset: loc.offset,
              bytes: loc.length,
            })
            continue
          }
          if (size > 0 && size + record.length > this.packBytes) {
            await flush()
            await startPack(created.at(-1)!.pack + 1)
          }
          chunk.push(record)
          chunkBytes += record.length
          moved.set(key, { pack: created.at(-1)!.pack, offset: size, length: loc.length })
          size += record.length
          if (chunkBytes >= COPY_CHUNK) await flush()
        }
        i = j
      }
      await flush()
      for (const pack of created) await this.sync(pack.file)
      await this.syncDirectory(this.packsDir)
      index = await this.writeIndex(first, moved)
    } catch (err) {
      for (const pack of created) {
        await pack.file.close().catch(() => {})
        await unlink(this.packPath(pack.pack)).catch(() => {})
      }
      throw toStorageError(err, `compact ${this.dir}`)
    }
    // The rename made the new generation current: switch to it, then drop the old one.
    await this.indexFile?.close().catch(() => {})
    this.indexFile = index.file
    this.indexSize = index.size
    this.index.clear()
    for (const [key, loc] of moved) this.index.set(key, loc)
    const out = created.at(-1)!
    await this.writer?.file.close().catch(() => {})
    for (const pack of created) if (pack !== out) await pack.file.close().catch(() => {})
    this.writer = out
    this.active = out.pack
    this.activeSize = size
    for (const [pack, reader] of this.readers) {
      this.readers.delete(pack)
      // close() waits for reads in flight; a get that loses the race looks its key up again.
      void reader.then((file) => file.close()).catch(() => {})
    }
    try {
      await this.syncDirectory(this.dir)
    } catch (err) {
      // Old packs stay until the rename is known durable; the next open removes them.
      throw toStorageError(err, `compact ${this.dir}: fsync dir`)
    }
    for (const pack of before.keys()) await unlink(this.packPath(pack)).catch(() => {})
    const bytesBefore = [...before.values()].reduce((n, s) => n + s, 0)
    const bytesAfter = [...moved.values()].reduce((n, loc) => n + recordBytes(loc.length), 0)
    return { blobs: moved.size, bytesBefore, bytesAfter }
  }

  private async readRange(pack: number, offset: number, length: number): Promise<Uint8Array> {
    const buf = new Uint8Array(length)
    try {
      const { bytesRead } = await (await this.reader(pack)).read(buf, 0, length, offset)
      return buf.subarray(0, bytesRead)
    } catch (err) {
      if (isMissing(err)) return new Uint8Array(0)
      throw err
    }
  }

  /** Writes a complete index (header + PUT entries) to a temp file and renames it over `index.log`. */
  private async writeIndex(firstPack: number, entries: Map<string, Loc>): Promise<{ file: FileHandle; size: number }> {
    const data = encodeIndex(firstPack, entries)
    return { file: await replaceFile(this.writeOp, this.indexPath, data, (file) => this.sync(file)), size: data.length }
  }

  /** Loads the index and reconciles it with the packs on disk (see PackRecovery). */
  private async recover(): Promise<void> {
    const recovery = new PackRecovery({
      dir: this.dir,
      packsDir: this.packsDir,
      indexPath: this.indexPath,
      writeOp: this.writeOp,
      log: this.log,
      index: this.index,
      packPath: (pack) => this.packPath(pack),
      sync: (file) => this.sync(file),
      syncDirectory: (dir) => this.syncDirectory(dir),
      writeIndex: (first, entries) => this.writeIndex(first, entries),
    })
    await recovery.recover()
    this.indexFile = recovery.indexFile
    this.indexSize = recovery.indexSize
    this.active = recovery.active
    this.activeSize = recovery.activeSize
  }

  private packPath(pack: number): string {
    return join(this.packsDir, `${String(pack).padStart(6, '0')}.pack`)
  }

  private async sync(file: FileHandle): Promise<void> {
    await file.datasync()
    this.fsyncs++
  }

  private async syncDirectory(dir: string): Promise<void> {
    await syncDir(dir)
    this.fsyncs++
  }
}
