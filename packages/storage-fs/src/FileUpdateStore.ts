import { createHash } from 'node:crypto'
import { mkdir, open, readdir, unlink } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import type { UpdateStore } from '@mailweave/core'
import { classifyTail, concat, encodeFrame, FRAME_HEADER, parseFrames, readIfExists } from './frames.ts'
import { StorageError, toStorageError } from './StorageError.ts'
import type { StorageLog } from './StorageError.ts'
import { defaultWriteOp, replaceFile, syncDir, writeFully } from './writeFully.ts'
import type { WriteOp } from './writeFully.ts'

/** Options of {@link FileUpdateStore.open}. */
export interface FileUpdateStoreOptions {
  /** Directory holding one `.log` file per document; created when missing. */
  dir: string
  /** Receives one warning per recovered torn tail. */
  log?: StorageLog
  /** Replaces the positional write (fault injection in tests). */
  writeOp?: WriteOp
}

/** A log file whose valid records do not reach its end for another reason than a torn tail. */
export interface LogDamage {
  file: string
  /** The document the file's header names, when the header is intact. */
  doc: string | undefined
  /** Byte offset of the first damaged record. */
  offset: number
  /** Where valid records start again and how many follow (undefined: the search gave up). */
  resumesAt: number | undefined
  recordsAfter: number | undefined
}

/** Fsync metrics of a {@link FileUpdateStore} (file and directory fsyncs alike). */
export interface FileUpdateStoreStats {
  fsyncCount: number
  lastFsyncMs: number
  avgFsyncMs: number
}

// Record 0 of every file names its document, so file names may be lossy (slug + hash).
const MAGIC = 'mailweave-updates/1\n'
const encoder = new TextEncoder()
const decoder = new TextDecoder()

const headerFrame = (docName: string): Uint8Array => encodeFrame(encoder.encode(MAGIC + docName))
const headerName = (payload: Uint8Array | undefined): string | undefined => {
  const text = payload && decoder.decode(payload)
  return text?.startsWith(MAGIC) ? text.slice(MAGIC.length) : undefined
}

interface Batch {
  frames: Uint8Array[]
  done: Promise<void>
}

interface DocLog {
  name: string
  path: string
  file?: FileHandle
  /** Bytes of the file that are valid and durable; writes go here. */
  size: number
  /** Set when the log is unusable until reopen (corrupt header, failed rollback). */
  broken?: StorageError
  /** Batch still accepting appends (group commit). */
  open?: Batch
  /** Serialises every operation on this document. */
  tail: Promise<unknown>
}

/**
 * A durable {@link UpdateStore}: one append-only, CRC-checked log file per document.
 * `append` resolves only after fsync, and appends issued within the same tick share one fsync.
 * A torn tail (no valid record after the damage: what a crash during an append leaves) is
 * logged once and truncated on first access. Damage followed by valid records is mid-file
 * corruption: nothing is truncated, the document rejects with `CORRUPT` naming the file and
 * offset, and {@link FileUpdateStore.check} finds it up front. A failed append is rolled
 * back, so earlier records are never lost. Compaction is atomic (temp file, fsync,
 * rename, fsync dir). One process per directory.
 */
export class FileUpdateStore implements UpdateStore {
  private readonly docs = new Map<string, DocLog>()
  private readonly writeOp: WriteOp
  private closed = false
  private fsyncs = 0
  private fsyncMsTotal = 0
  private lastFsyncMs = 0

  private constructor(
    private readonly dir: string,
    private readonly log: StorageLog | undefined,
    writeOp: WriteOp | undefined,
  ) {
    this.writeOp = writeOp ?? defaultWriteOp
  }

  /** Opens (creating if needed) the store in `options.dir`, removing leftovers of interrupted compactions. */
  static async open(options: FileUpdateStoreOptions): Promise<FileUpdateStore> {
    try {
      await mkdir(options.dir, { recursive: true })
      for (const name of await readdir(options.dir)) if (name.endsWith('.tmp')) await unlink(join(options.dir, name))
    } catch (err) {
      throw toStorageError(err, `open ${options.dir}`)
    }
    return new FileUpdateStore(options.dir, options.log, options.writeOp)
  }

  append(docName: string, update: Uint8Array): Promise<void> {
    if (this.closed) return Promise.reject(new StorageError('IO', 'FileUpdateStore is closed'))
    const doc = this.doc(docName)
    let batch = doc.open
    if (!batch) {
      const frames: Uint8Array[] = []
      const done = this.run(doc, async () => {
        // Let the rest of this tick's appends join before writing.
        await new Promise((resolve) => setImmediate(resolve))
        if (doc.open === current) doc.open = undefined
        await this.commit(doc, frames)
      })
      const current: Batch = { frames, done }
      batch = doc.open = current
    }
    batch.frames.push(encodeFrame(update))
    return batch.done
  }

  load(docName: string): Promise<Uint8Array[]> {
    if (this.closed) return Promise.reject(new StorageError('IO', 'FileUpdateStore is closed'))
    const doc = this.doc(docName)
    return this.run(doc, async () => {
      if (!doc.file || doc.size === 0) return []
      const buf = new Uint8Array(doc.size)
      try {
        await doc.file.read(buf, 0, doc.size, 0)
      } catch (err) {
        throw toStorageError(err, `read ${doc.path}`)
      }
      const { records, validEnd } = parseFrames(buf)
      // Recovery already validated these bytes: a mismatch now means the medium changed them.
      if (validEnd !== doc.size) throw new StorageError('CORRUPT', `${doc.path}: record at byte ${validEnd} no longer verifies`)
      return records.slice(1)
    })
  }

  compact(docName: string, snapshot: Uint8Array): Promise<void> {
    if (this.closed) return Promise.reject(new StorageError('IO', 'FileUpdateStore is closed'))
    const doc = this.doc(docName)
    doc.open = undefined // appends issued from now on land after the snapshot
    const data = concat([headerFrame(docName), encodeFrame(snapshot)])
    return this.run(doc, async () => {
      let file: FileHandle
      try {
        file = await replaceFile(this.writeOp, doc.path, data, (f) => this.sync(f))
      } catch (err) {
        throw toStorageError(err, `compact ${doc.path}`)
      }
      // The renamed temp file is now the document's log; keep its handle.
      await doc.file?.close().catch(() => {})
      doc.file = file
      doc.size = data.length
      try {
        await this.syncDirectory()
      } catch (err) {
        throw toStorageError(err, `compact ${doc.path}: fsync dir`)
      }
    })
  }

  async list(): Promise<string[]> {
    if (this.closed) throw new StorageError('IO', 'FileUpdateStore is closed')
    const names: string[] = []
    try {
      for (const entry of await readdir(this.dir)) {
        if (!entry.endsWith('.log')) continue
        const name = await readHeader(join(this.dir, entry))
        if (name !== undefined) names.push(name)
      }
    } catch (err) {
      throw toStorageError(err, `list ${this.dir}`)
    }
    return names
  }

  /**
   * Reads every log file in full and reports those damaged in the middle (see
   * {@link LogDamage}); torn tails are not reported (they are dropped on first access).
   * Run it before trusting the store after a crash or a disk problem.
   */
  async check(): Promise<LogDamage[]> {
    if (this.closed) throw new StorageError('IO', 'FileUpdateStore is closed')
    const out: LogDamage[] = []
    try {
      for (const entry of (await readdir(this.dir)).sort()) {
        if (!entry.endsWith('.log')) continue
        const path = join(this.dir, entry)
        const buf = await readIfExists(path)
        if (buf === undefined) continue
        const { records, validEnd } = parseFrames(buf)
        if (validEnd === buf.length) continue
        const damage = describeDamage(path, buf, validEnd, headerName(records[0]))
        if (damage !== undefined) out.push(damage)
      }
    } catch (err) {
      throw toStorageError(err, `check ${this.dir}`)
    }
    return out
  }

  /** Waits for pending operations, then closes every file. Later calls reject. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const doc of this.docs.values()) {
      await doc.tail
      await doc.file?.close().catch(() => {})
      doc.file = undefined
    }
  }

  /** Fsync count and latency since open. */
  stats(): FileUpdateStoreStats {
    return { fsyncCount: this.fsyncs, lastFsyncMs: this.lastFsyncMs, avgFsyncMs: this.fsyncs ? this.fsyncMsTotal / this.fsyncs : 0 }
  }

  /** The log of `name`, recovering its file on first use. */
  private doc(name: string): DocLog {
    let doc = this.docs.get(name)
    if (!doc) {
      doc = { name, path: join(this.dir, fileNameOf(name)), size: 0, tail: Promise.resolve() }
      const created = doc
      doc.tail = this.recover(created).catch((err) => (created.broken = toStorageError(err, `recover ${created.path}`)))
      this.docs.set(name, doc)
    }
    return doc
  }

  private run<T>(doc: DocLog, op: () => Promise<T>): Promise<T> {
    const result = doc.tail.then(() => {
      if (doc.broken) throw doc.broken
      return op()
    })
    doc.tail = result.catch(() => {})
    return result
  }

  private async recover(doc: DocLog): Promise<void> {
    const buf = await readIfExists(doc.path)
    if (!buf) return
    const { records, validEnd } = parseFrames(buf)
    const header = records[0]
    if (header) {
      const owner = headerName(header)
      if (owner !== doc.name)
        throw new StorageError('CORRUPT', `${doc.path} belongs to ${JSON.stringify(owner)}, not ${JSON.stringify(doc.name)}`)
    }
    if (validEnd < buf.length) {
      const damage = describeDamage(doc.path, buf, validEnd, headerName(header))
      if (damage !== undefined) throw new StorageError('CORRUPT', damageMessage(damage))
    }
    doc.file = await open(doc.path, 'r+')
    if (validEnd < buf.length) {
      this.log?.('storage-fs: truncating torn or corrupt log tail', {
        doc: doc.name,
        file: doc.path,
        validBytes: validEnd,
        droppedBytes: buf.length - validEnd,
      })
      await doc.file.truncate(validEnd)
      await this.sync(doc.file)
    }
    doc.size = validEnd
  }

  /** Writes a batch at the end of the valid log and fsyncs; on failure rolls the file back. */
  private async commit(doc: DocLog, frames: Uint8Array[]): Promise<void> {
    const fresh = doc.size === 0
    const data = concat(fresh ? [headerFrame(doc.name), ...frames] : frames)
    try {
      doc.file ??= await open(doc.path, 'w+')
      await writeFully(this.writeOp, doc.file, data, doc.size)
      await this.sync(doc.file)
      if (fresh) await this.syncDirectory() // the new file's directory entry must be durable too
      doc.size += data.length
    } catch (err) {
      try {
        await doc.file?.truncate(doc.size)
        if (doc.file) await this.sync(doc.file)
      } catch (rollbackErr) {
        doc.broken = toStorageError(rollbackErr, `rollback ${doc.path}`)
      }
      throw toStorageError(err, `append ${doc.path}`)
    }
  }

  private async sync(file: FileHandle): Promise<void> {
    const start = performance.now()
    await file.datasync()
    this.recordFsync(start)
  }

  private async syncDirectory(): Promise<void> {
    const start = performance.now()
    await syncDir(this.dir)
    this.recordFsync(start)
  }

  private recordFsync(start: number): void {
    this.lastFsyncMs = performance.now() - start
    this.fsyncMsTotal += this.lastFsyncMs
    this.fsyncs++
  }
}

/** The damage past `validEnd` of a log file, or undefined when it is a torn tail. */
function describeDamage(file: string, buf: Uint8Array, validEnd: number, doc: string | undefined): LogDamage | undefined {
  const tail = classifyTail(buf, validEnd)
  if (tail.kind === 'torn') return undefined
  return tail.kind === 'corrupt'
    ? { file, doc, offset: validEnd, resumesAt: tail.resumesAt, recordsAfter: tail.recordsAfter }
    : { file, doc, offset: validEnd, resumesAt: undefined, recordsAfter: undefined }
}

/** One line saying where a log is damaged and why that is not a torn tail. */
export function damageMessage(d: LogDamage): string {
  const after =
    d.resumesAt !== undefined
      ? `${d.recordsAfter} valid records follow from byte ${d.resumesAt}`
      : 'valid records may follow (the search gave up)'
  return `${d.file}${d.doc !== undefined ? ` (document ${d.doc})` : ''}: the record at byte ${d.offset} is damaged and ${after}: corruption in the middle of the log, not a torn tail; nothing was dropped`
}

/** Bounded, case-insensitive-safe file name: a readable slug plus a hash of the exact name. */
function fileNameOf(docName: string): string {
  const slug = docName
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .slice(0, 40)
  return `${slug}-${createHash('sha256').update(docName).digest('hex').slice(0, 20)}.log`
}

/** The document name recorded in a log file, or undefined if the file holds no valid header. */
async function readHeader(path: string): Promise<string | undefined> {
  const file = await open(path, 'r')
  try {
    const head = new Uint8Array(FRAME_HEADER)
    if ((await file.read(head, 0, FRAME_HEADER, 0)).bytesRead < FRAME_HEADER) return undefined
    const len = new DataView(head.buffer).getUint32(0, true)
    if (len > 1 << 20) return undefined
    const buf = new Uint8Array(FRAME_HEADER + len)
    const { bytesRead } = await file.read(buf, 0, buf.length, 0)
    return headerName(parseFrames(buf.subarray(0, bytesRead)).records[0])
  } finally {
    await file.close()
  }
}
