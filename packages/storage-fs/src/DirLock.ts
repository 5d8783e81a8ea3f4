import { readFileSync } from 'node:fs'
import { link, open, readFile, unlink } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { StorageError, toStorageError } from './StorageError.ts'
import type { StorageLog } from './StorageError.ts'

/** Name of the lock file inside a locked directory. */
export const LOCK_FILE = 'lock'

/** What a lock file records about its holder. */
interface Holder {
  pid: number
  /** Kernel start time of the process (Linux `/proc/<pid>/stat` field 22), so a reused pid is not taken for the holder. */
  start: string | undefined
  host: string
}

/** An exclusive lock on a directory, held until {@link DirLock.release} or the holder's death. */
export interface DirLock {
  /** The lock file. */
  readonly path: string
  /** Removes the lock file (idempotent). */
  release(): Promise<void>
}

/** `/proc/<pid>/stat` as [state, start time], or undefined where there is no procfs or no such process. */
function procStat(pid: number): [state: string, start: string] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // the command name (field 2) may hold spaces and parentheses: fields count from the last ')'
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return [rest[0] ?? '', rest[19] ?? '']
  } catch {
    return undefined
  }
}

function isAlive(holder: Holder): boolean {
  if (holder.host !== hostname()) return true // another machine's process: never judged stale from here
  try {
    process.kill(holder.pid, 0)
  } catch (err) {
    if ((err as { code?: string }).code === 'ESRCH') return false
  }
  const stat = procStat(holder.pid)
  if (stat === undefined) return true
  // a zombie (killed, not reaped yet) holds nothing; another start time means the pid was reused
  return stat[0] !== 'Z' && (holder.start === undefined || stat[1] === holder.start)
}

function parseHolder(text: string): Holder | undefined {
  try {
    const h = JSON.parse(text) as Partial<Holder>
    return typeof h.pid === 'number' && typeof h.host === 'string'
      ? { pid: h.pid, start: typeof h.start === 'string' ? h.start : undefined, host: h.host }
      : undefined
  } catch {
    return undefined
  }
}

/**
 * Creates `path` holding `text`, failing with EEXIST when it exists. The bytes are written
 * and synced under a temporary name first and linked into place, so a lock file is never
 * seen empty or half written: an empty one would be judged stale and taken over while its
 * creator still believes it holds the lock.
 */
async function createWithContent(path: string, text: string): Promise<void> {
  const temp = `${path}.new-${randomBytes(6).toString('hex')}`
  const file = await open(temp, 'wx')
  try {
    await file.writeFile(text)
    await file.sync()
  } finally {
    await file.close()
  }
  try {
    await link(temp, path)
  } finally {
    await unlink(temp).catch(() => {})
  }
}

/**
 * Removes the lock file at `path` if it still holds `staleText`, under a takeover guard
 * (`<path>.takeover`, created like the lock): only the guard's holder re-reads and removes
 * the stale file, so a fresh lock created meanwhile by the winner of a concurrent takeover
 * is never removed (moving the file aside and back left a gap in which a third process
 * could create its own lock while the first still held one). A guard left by a process
 * killed mid-takeover is removed. Resolves whether this call removed the stale lock.
 */
async function removeStale(path: string, staleText: string, me: Holder): Promise<boolean> {
  const guard = `${path}.takeover`
  try {
    await createWithContent(guard, JSON.stringify(me) + '\n')
  } catch (err) {
    if ((err as { code?: string }).code !== 'EEXIST') throw toStorageError(err, `lock guard ${guard}`)
    const other = parseHolder((await readFile(guard, 'utf8').catch(() => undefined)) ?? '')
    if (other === undefined || !isAlive(other)) await unlink(guard).catch(() => {})
    return false
  }
  try {
    if ((await readFile(path, 'utf8').catch(() => undefined)) !== staleText) return false
    await unlink(path)
    return true
  } finally {
    await unlink(guard).catch(() => {})
  }
}

/**
 * Takes an exclusive lock on `dir` (which must exist) by creating `dir/lock` with O_EXCL,
 * recording this process's pid, start time and host (written whole before the file
 * appears). Rejects with `StorageError('LOCKED')`,
 * naming the holder's pid, while a live process holds it. A lock whose holder is dead (a
 * SIGKILLed node) is stale: it is taken over at once and logged. A lock file that cannot be
 * read is stale too. Takeovers of one stale lock are serialized by a guard file, so two
 * processes taking over the same stale lock cannot both win.
 */
export async function lockDirectory(dir: string, log?: StorageLog): Promise<DirLock> {
  const path = join(dir, LOCK_FILE)
  const me: Holder = { pid: process.pid, start: procStat(process.pid)?.[1], host: hostname() }
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      await createWithContent(path, JSON.stringify(me) + '\n')
      let released = false
      return {
        path,
        release: async () => {
          if (released) return
          released = true
          await unlink(path).catch(() => {})
        },
      }
    } catch (err) {
      if ((err as { code?: string }).code !== 'EEXIST') throw toStorageError(err, `lock ${dir}`)
    }
    const text = await readFile(path, 'utf8').catch(() => undefined)
    if (text === undefined) continue // released meanwhile: try again
    const holder = parseHolder(text)
    if (holder !== undefined && isAlive(holder)) {
      throw new StorageError(
        'LOCKED',
        `${dir} is in use by process ${holder.pid} on ${holder.host} (lock file ${path}); stop that process first, or start this one on another data directory`,
      )
    }
    if (await removeStale(path, text, me)) log?.('storage-fs: took over a stale lock (its process is gone)', { dir, stalePid: holder?.pid })
  }
  throw new StorageError('LOCKED', `${dir}: could not take the lock ${path} (it keeps changing hands)`)
}
