import { concat, encodeFrame, FRAME_HEADER } from './frames.ts'

// The index log's codec: how PackBlobStore records where each blob lives (internal to the package).

/** Where a packed blob lives: its record starts at `offset` of pack `pack`; `length` is the blob's. */
export interface Loc {
  pack: number
  offset: number
  length: number
}

/** Bytes of a raw SHA-256 key in pack records and index entries. */
export const KEY_BYTES = 32
// Index record = one frame per group commit: a kind byte, then entries PUT key pack offset length | DEL key.
// A COMMIT frame is fsynced together with its pack records, so after a crash the last one may
// point at records that never reached the disk: open verifies them. A SETTLED frame was written
// after its records were durable (compaction, rebuild, recovery tombstones).
/** Kind of an index frame written with its records (verified at open). */
export const COMMIT = 0x43
/** Kind of an index frame written after its records were durable. */
export const SETTLED = 0x53
const PUT = 1
const DEL = 2
const PUT_ENTRY = 1 + KEY_BYTES + 12
const DEL_ENTRY = 1 + KEY_BYTES
/** Entries per SETTLED frame of a rewritten index. */
export const ENTRIES_PER_FRAME = 16384
// Record 0 of the index: magic + u32le number of the generation's first pack (older packs are garbage).
const INDEX_MAGIC = Buffer.from('mailweave-blobindex/1\n')

/** Bytes of a pack record holding a blob of `length` bytes: frame header, raw key, blob. */
export const recordBytes = (length: number): number => FRAME_HEADER + KEY_BYTES + length

/** The index entry placing blob `key` at `loc`. */
export function putEntry(key: string, loc: Loc): Uint8Array {
  const out = Buffer.allocUnsafe(PUT_ENTRY)
  out[0] = PUT
  out.write(key, 1, 'hex')
  out.writeUInt32LE(loc.pack, 1 + KEY_BYTES)
  out.writeUInt32LE(loc.offset, 5 + KEY_BYTES)
  out.writeUInt32LE(loc.length, 9 + KEY_BYTES)
  return out
}

/** The index entry removing blob `key`. */
export function delEntry(key: string): Uint8Array {
  const out = Buffer.allocUnsafe(DEL_ENTRY)
  out[0] = DEL
  out.write(key, 1, 'hex')
  return out
}

/** One index frame of `kind` holding `entries`. */
export const indexFrame = (kind: number, entries: Uint8Array[]): Uint8Array => encodeFrame(Uint8Array.of(kind), ...entries)

/** Replays one index frame; false (and no callback) when the frame is malformed. */
export function decodeEntries(payload: Uint8Array, onPut: (key: string, loc: Loc) => void, onDel: (key: string) => void): boolean {
  if (payload[0] !== COMMIT && payload[0] !== SETTLED) return false
  const buf = Buffer.from(payload.buffer, payload.byteOffset + 1, payload.byteLength - 1)
  for (let at = 0; at < buf.length;) {
    const size = buf[at] === PUT ? PUT_ENTRY : buf[at] === DEL ? DEL_ENTRY : Infinity
    if (at + size > buf.length) return false
    at += size
  }
  for (let at = 0; at < buf.length;) {
    const key = buf.toString('hex', at + 1, at + 1 + KEY_BYTES)
    if (buf[at] === PUT) {
      onPut(key, {
        pack: buf.readUInt32LE(at + 1 + KEY_BYTES),
        offset: buf.readUInt32LE(at + 5 + KEY_BYTES),
        length: buf.readUInt32LE(at + 9 + KEY_BYTES),
      })
      at += PUT_ENTRY
    } else {
      onDel(key)
      at += DEL_ENTRY
    }
  }
  return true
}

/** Record 0 of an index whose generation starts at pack `firstPack`. */
export const headerFrame = (firstPack: number): Uint8Array => {
  const first = Buffer.alloc(4)
  first.writeUInt32LE(firstPack)
  return encodeFrame(INDEX_MAGIC, first)
}

/** The first pack named by an index header record, or undefined when it is not one. */
export const headerFirstPack = (payload: Uint8Array | undefined): number | undefined => {
  if (payload?.length !== INDEX_MAGIC.length + 4 || !INDEX_MAGIC.equals(payload.subarray(0, INDEX_MAGIC.length))) return undefined
  return Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).readUInt32LE(INDEX_MAGIC.length)
}

/** A complete index (header, then PUT entries in SETTLED frames) for a new generation starting at `firstPack`. */
export function encodeIndex(firstPack: number, entries: Map<string, Loc>): Uint8Array {
  const frames = [headerFrame(firstPack)]
  let batch: Uint8Array[] = []
  for (const [key, loc] of entries) {
    batch.push(putEntry(key, loc))
    if (batch.length === ENTRIES_PER_FRAME) {
      frames.push(indexFrame(SETTLED, batch))
      batch = []
    }
  }
  if (batch.length > 0) frames.push(indexFrame(SETTLED, batch))
  return concat(frames)
}
