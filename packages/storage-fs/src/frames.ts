import { readFile } from 'node:fs/promises'
import { crc32 } from 'node:zlib'

// Record = u32le payload length, u32le CRC-32 over (length bytes + payload), payload.
/** Bytes of a record's header (length + CRC) in every log and pack file. */
export const FRAME_HEADER = 8

/** One CRC-framed record whose payload is the concatenation of `parts` (copied once). */
export function encodeFrame(...parts: Uint8Array[]): Uint8Array {
  const length = parts.reduce((n, p) => n + p.length, 0)
  const out = new Uint8Array(FRAME_HEADER + length)
  const view = new DataView(out.buffer)
  view.setUint32(0, length, true)
  let crc = crc32(out.subarray(0, 4))
  let at = FRAME_HEADER
  for (const part of parts) {
    out.set(part, at)
    crc = crc32(part, crc)
    at += part.length
  }
  view.setUint32(4, crc, true)
  return out
}

/** The payload of the valid record starting at byte `at` of `buf`, or undefined (torn, corrupt or absent). */
export function frameAt(buf: Uint8Array, at: number): Uint8Array | undefined {
  if (at + FRAME_HEADER > buf.length) return undefined
  const view = new DataView(buf.buffer, buf.byteOffset + at, FRAME_HEADER)
  const len = view.getUint32(0, true)
  if (len > buf.length - at - FRAME_HEADER) return undefined
  const payload = buf.subarray(at + FRAME_HEADER, at + FRAME_HEADER + len)
  return crc32(payload, crc32(buf.subarray(at, at + 4))) === view.getUint32(4, true) ? payload : undefined
}

/** Valid records from the start of `buf` (payload views with their frame offsets) and the offset where validity ends. */
export function parseFrames(buf: Uint8Array): { records: Uint8Array[]; offsets: number[]; validEnd: number } {
  const records: Uint8Array[] = []
  const offsets: number[] = []
  let at = 0
  for (let payload = frameAt(buf, at); payload; payload = frameAt(buf, at)) {
    records.push(payload)
    offsets.push(at)
    at += FRAME_HEADER + payload.length
  }
  return { records, offsets, validEnd: at }
}

/**
 * What lies past `validEnd`, the end of the valid records at the start of `buf`:
 * - `torn`: no valid record follows (what a crash during an append leaves: drop it);
 * - `corrupt`: a valid record starts at `resumesAt`, `recordsAfter` of them in a row, so the
 *   damage sits in the middle of the file (never drop what follows it silently);
 * - `unknown`: the search gave up (more than `crcBudget` bytes to check), which is
 *   treated as corrupt by callers.
 * The damaged record's own length is tried first (a flipped payload byte), then every offset:
 * a random match needs a CRC-32 collision.
 */
export type TailDamage = { kind: 'torn' } | { kind: 'corrupt'; resumesAt: number; recordsAfter: number } | { kind: 'unknown' }

/** Classifies the bytes after `validEnd` (see {@link TailDamage}). */
export function classifyTail(buf: Uint8Array, validEnd: number, crcBudget = 64 << 20): TailDamage {
  const found = (at: number): TailDamage => ({ kind: 'corrupt', resumesAt: at, recordsAfter: parseFrames(buf.subarray(at)).records.length })
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  if (validEnd + FRAME_HEADER <= buf.length) {
    const skip = validEnd + FRAME_HEADER + view.getUint32(validEnd, true)
    if (skip < buf.length && frameAt(buf, skip) !== undefined) return found(skip)
  }
  let budget = crcBudget
  for (let at = validEnd + 1; at + FRAME_HEADER <= buf.length; at++) {
    const len = view.getUint32(at, true)
    if (len > buf.length - at - FRAME_HEADER) continue
    budget -= len + 4
    if (budget < 0) return { kind: 'unknown' }
    if (frameAt(buf, at) !== undefined) return found(at)
  }
  return { kind: 'torn' }
}

/** The parts joined into one buffer. */
export function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** True for a Node fs error meaning "no such file". */
export const isMissing = (err: unknown): boolean => (err as { code?: string } | null)?.code === 'ENOENT'

/** The whole file, or undefined when it does not exist. */
export async function readIfExists(path: string): Promise<Uint8Array | undefined> {
  try {
    return await readFile(path)
  } catch (err) {
    if (isMissing(err)) return undefined
    throw err
  }
}
