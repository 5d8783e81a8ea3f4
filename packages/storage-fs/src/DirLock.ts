import { readFileSync } from 'node:fs'
import { link, open, readFile, rename, unlink } from 'node:fs/promises'
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
    return typeof h.pid === 'number' && typeof h.host === 'string' ? { pid: h.pid, start: typeof h.start === 'string' ? h.start : undefined, host: h.host } : undefined
  } catch {
    return undefined
  }
}

/**
 * Takes an exclusive lock on `dir` (which must exist) by creating `dir/lock` with O_EXCL,
 * recording this process's pid, start time and host. Rejects with `StorageError('LOCKED')`,
 * naming the holder's pid, while a live process holds it. A lock whose holder is dead (a
 * SIGKILLed node) is stale: it is taken over at once and logged. A lock file that cannot be
 * read (a crash between create and write) is stale too. Takeover renames the stale file
 * away first, so two processes taking over the same stale lock cannot both win.
 */
export async function lockDirectory(dir: string, log?: StorageLog): Promise<DirLock> {
  const path = join(dir, LOCK_FILE)
  const me: Holder = { pid: process.pid, start: procStat(process.pid)?.[1], host: hostname() }
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const file = await open(path, 'wx')
      try {
        await file.writeFile(JSON.stringify(me) + '\n')
        await file.sync()
      } finally {
        await file.close()
      }
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
      throw new StorageError('LOCKED', `${dir} is in use by process ${holder.pid} on ${holder.host} (lock file ${path}); stop that process first, or start this one on another data directory`)
    }
    // Stale: move it aside, then check that what moved is the file judged stale (not a fresh lock).
    const aside = `${path}.stale-${randomBytes(6).toString('hex')}`
    try {
      await rename(path, aside)
    } catch {
      continue // someone else took it over first
    }
    const moved = await readFile(aside, 'utf8').catch(() => undefined)
    if (moved !== text) {
      // a live lock created since our read: put it back (fails only if yet another lock exists)
      await link(aside, path).catch(() => {})
      await unlink(aside).catch(() => {})
      continue
    }
    await unlink(aside).catch(() => {})
    log?.('storage-fs: took over a stale lock (its process is gone)', { dir, stalePid: holder?.pid })
  }
  throw new StorageError('LOCKED', `${dir}: could not take the lock ${path} (it keeps changing hands)`)
}
