import { spawn } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { LOCK_FILE, lockDirectory } from '../src/index.ts'
import { useTempDirs } from './fixtures/tempDirs.ts'

const tempDir = useTempDirs('lock')

/** The pid of a process that has exited and been reaped. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' })
  await new Promise((resolve) => child.once('spawn', resolve))
  const pid = child.pid!
  await new Promise((resolve) => {
    child.once('exit', resolve)
    child.kill('SIGKILL')
  })
  return pid
}

describe('lockDirectory (two processes on one data directory)', () => {
  it('refuses a second lock while the holder lives, naming its pid, and allows one after release', async () => {
    const dir = await tempDir()
    const lock = await lockDirectory(dir)
    const err = await lockDirectory(dir).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'LOCKED' })
    expect(String(err)).toContain(`in use by process ${process.pid}`)
    await lock.release()
    const again = await lockDirectory(dir)
    await again.release()
  })

  it('takes over a lock left by a SIGKILLed process at once, and logs it', async () => {
    const dir = await tempDir()
    const pid = await deadPid()
    await writeFile(join(dir, LOCK_FILE), JSON.stringify({ pid, host: hostname() }))
    const logged: string[] = []
    const lock = await lockDirectory(dir, (msg) => logged.push(msg))
    expect(JSON.parse(await readFile(lock.path, 'utf8'))).toMatchObject({ pid: process.pid })
    expect(logged.join()).toMatch(/stale lock/)
    await lock.release()
  })

  it('treats an unreadable lock file (a crash between create and write) as stale', async () => {
    const dir = await tempDir()
    await writeFile(join(dir, LOCK_FILE), '')
    const lock = await lockDirectory(dir)
    await lock.release()
  })

  it('does not take the lock of a live process on this host even when its start time is unknown', async () => {
    const dir = await tempDir()
    await writeFile(join(dir, LOCK_FILE), JSON.stringify({ pid: process.pid, host: hostname() }))
    await expect(lockDirectory(dir)).rejects.toMatchObject({ code: 'LOCKED' })
  })

  it('lets exactly one of many concurrent takeovers of a stale lock win', async () => {
    const dead = await deadPid()
    // 40 rounds: a lock file seen between its creation and its first write once let two win
    for (let round = 0; round < 40; round++) {
      const dir = await tempDir()
      await writeFile(join(dir, LOCK_FILE), JSON.stringify({ pid: dead, host: hostname() }))
      const results = await Promise.allSettled(Array.from({ length: 8 }, () => lockDirectory(dir)))
      expect(
        results.filter((r) => r.status === 'fulfilled'),
        `round ${round}`,
      ).toHaveLength(1)
    }
  })
})
