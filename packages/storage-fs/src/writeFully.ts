import { writeSync } from 'node:fs'
import { open, rename, unlink } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'

/**
 * One positional write; resolves with the number of bytes written (may be fewer than asked).
 * Injectable so tests can simulate ENOSPC or a partial write.
 */
export type WriteOp = (file: FileHandle, data: Uint8Array, position: number) => Promise<number>

/** Writes up to this size go straight to the page cache from the event loop. */
const SYNC_WRITE_MAX = 256 * 1024

/**
 * The real write at a position. A small write only copies into the page cache (the fsync that
 * follows is what waits for the disk), so it is done synchronously: a thread-pool round trip
 * costs more than the copy, and an APPEND pays for several of them in a row. Larger writes go
 * through `FileHandle.write` so that the event loop is never held for long.
 */
export const defaultWriteOp: WriteOp = async (file, data, position) =>
  data.length <= SYNC_WRITE_MAX
    ? writeSync(file.fd, data, 0, data.length, position)
    : (await file.write(data, 0, data.length, position)).bytesWritten

/** Writes all of `data` at `position`, looping over short writes. */
export async function writeFully(write: WriteOp, file: FileHandle, data: Uint8Array, position: number): Promise<void> {
  let done = 0
  while (done < data.length) {
    const n = await write(file, data.subarray(done), position + done)
    if (n <= 0) throw Object.assign(new Error('write made no progress'), { code: 'EIO' })
    done += n
  }
}

/** Fsyncs a directory so that entries created or renamed in it survive a crash. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/**
 * Writes `data` to `tmp` (default `<path>.tmp`), makes it durable with `sync` and renames it over
 * `path`; returns the open handle of what is now `path` (the caller fsyncs the directory). On
 * failure the temp file is removed and `path` is untouched.
 */
export async function replaceFile(
  write: WriteOp,
  path: string,
  data: Uint8Array,
  sync: (file: FileHandle) => Promise<void>,
  tmp = `${path}.tmp`,
): Promise<FileHandle> {
  let file: FileHandle | undefined
  try {
    file = await open(tmp, 'w+')
    await writeFully(write, file, data, 0)
    await sync(file)
    await rename(tmp, path)
    return file
  } catch (err) {
    await file?.close().catch(() => {})
    await unlink(tmp).catch(() => {})
    throw err
  }
}
