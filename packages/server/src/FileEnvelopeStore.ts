import { isBlobKey } from '@mailweave/core'
import type { EnvelopeStore } from '@mailweave/imap'
import type { UpdateStore } from '@mailweave/core'
import { FileUpdateStore } from '@mailweave/storage-fs'
import type { Logger } from './Logger.ts'

const DOC = 'envelopes'
/** Entries written together at most this often (ms), or as soon as this many wait. */
const BATCH_MS = 1000
const BATCH_ENTRIES = 512
/** Loading rewrites the log as one record once it has more records than this. */
const COMPACT_RECORDS = 64

/** One record: repeated `32-byte hash, u32le length, encoded ENVELOPE`. */
function encodeEntries(entries: Array<[string, Uint8Array]>): Uint8Array {
  let size = 0
  for (const [, b] of entries) size += 36 + b.length
  const out = Buffer.allocUnsafe(size)
  let at = 0
  for (const [h, b] of entries) {
    out.write(h, at, 'hex')
    out.writeUInt32LE(b.length, at + 32)
    out.set(b, at + 36)
    at += 36 + b.length
  }
  return out
}

/** The entries of one record; a malformed tail (never written by this code) is dropped. */
function decodeEntries(record: Uint8Array, into: Map<string, Uint8Array>): void {
  const buf = Buffer.from(record.buffer, record.byteOffset, record.byteLength)
  for (let at = 0; at + 36 <= buf.length;) {
    const len = buf.readUInt32LE(at + 32)
    if (at + 36 + len > buf.length) return
    const hash = buf.toString('hex', at, at + 32)
    into.delete(hash)
    into.set(hash, buf.subarray(at + 36, at + 36 + len))
    at += 36 + len
  }
}

/** Options of {@link FileEnvelopeStore.open}. */
export interface FileEnvelopeStoreOptions {
  /** Directory of the cache log (created when missing), e.g. `<data>/cache`. */
  dir: string
  /** Entries kept when the log is compacted (the IMAP server's cache size). */
  capacity: number
  log: Logger
}

/**
 * The node's {@link EnvelopeStore}: encoded ENVELOPEs in a CRC-framed log (the update-log
 * format of storage-fs), written in batches at most once a second, and compacted to the
 * newest `capacity` entries when loaded and whenever twice that many were written since. It is a cache: a torn or lost tail costs parses,
 * never mail, and a write that fails is logged and dropped.
 */
export class FileEnvelopeStore implements EnvelopeStore {
  #pending: Array<[string, Uint8Array]> = []
  #timer: NodeJS.Timeout | undefined
  #writing: Promise<void> = Promise.resolve()
  /** Entries appended since the log was last compacted (or loaded). */
  #written = 0

  private constructor(
    private readonly store: UpdateStore,
    private readonly o: FileEnvelopeStoreOptions,
  ) {}

  /** Opens (creating if needed) the cache log in `options.dir`. */
  static async open(options: FileEnvelopeStoreOptions): Promise<FileEnvelopeStore> {
    const store = await FileUpdateStore.open({ dir: options.dir, log: (msg, fields) => options.log.warn({ ...fields }, msg) })
    return new FileEnvelopeStore(store, options)
  }

  async load(): Promise<Array<[string, Uint8Array]>> {
    const records = await this.store.load(DOC)
    const entries = new Map<string, Uint8Array>()
    for (const r of records) decodeEntries(r, entries)
    let out = [...entries]
    if (records.length > COMPACT_RECORDS || out.length > 2 * this.o.capacity) {
      out = out.slice(-this.o.capacity)
      await this.store.compact(DOC, encodeEntries(out))
    }
    this.#written = 0
    return out
  }

  add(entries: Array<[string, Uint8Array]>): void {
    for (const e of entries) if (isBlobKey(e[0])) this.#pending.push(e)
    if (this.#pending.length >= BATCH_ENTRIES) this.#write()
    else if (this.#timer === undefined && this.#pending.length > 0) {
      this.#timer = setTimeout(() => this.#write(), BATCH_MS)
      this.#timer.unref()
    }
  }

  async flush(): Promise<void> {
    this.#write()
    await this.#writing
  }

  /** Flushes, then closes the log. */
  async close(): Promise<void> {
    await this.flush()
    await this.store.close()
  }

  #write(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    const batch = this.#pending
    if (batch.length === 0) return
    this.#pending = []
    this.#writing = this.#writing
      .then(async () => {
        await this.store.append(DOC, encodeEntries(batch))
        this.#written += batch.length
        // a long-running node keeps the log bounded too: rewrite it to the newest entries
        if (this.#written > 2 * this.o.capacity) await this.load()
      })
      .catch((err: unknown) =>
        this.o.log.warn({ err: String(err), entries: batch.length }, 'could not save cached envelopes; they will be parsed again'),
      )
  }
}
