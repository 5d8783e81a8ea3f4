// The fencing fault test with real processes: a child process owns account alice and
// appends in a loop; it is stopped (SIGSTOP) past its lease, another process takes alice
// over and writes, then the child resumes (SIGCONT). Every write the child tries after the
// takeover is rejected and counted, and none of them is in the database.
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import pg from 'pg'
import { usePostgresServer, waitFor } from '@mailweave/testkit'
import { PgStorage } from '../src/index.ts'

const server = usePostgresServer()
const repoRoot = fileURLToPath(new URL('../../..', import.meta.url))
const fixture = fileURLToPath(new URL('./fixtures/leaseOwner.ts', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'mailweave-sigstop-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const lines = (file: string): string[] => {
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
  } catch {
    return []
  }
}
const seqs = (log: string[], kind: string) => log.filter((l) => l.startsWith(`${kind} `)).map((l) => Number(l.split(' ')[1]))

describe('lease fencing across processes', () => {
  it('a process stopped past its lease and resumed after a takeover commits none of its later writes, and counts them', async () => {
    const url = server().url()
    const schema = 'sigstop'
    const logFile = join(dir, 'child.log')
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, url, schema, 'child', '1500', logFile], {
      cwd: repoRoot,
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
    const exited = new Promise<number | string | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)))
    const admin = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` })
    let taker: PgStorage | undefined
    try {
      await waitFor(() => seqs(lines(logFile), 'ok').length >= 20 || child.exitCode !== null, 60_000, 'the child appending')
      expect(child.exitCode, stderr).toBeNull()
      // hold the child's commit in flight (its statement waits for a table lock) so writes
      // queue behind it under the current lease, and stop the child with them queued
      await admin.connect()
      await admin.query('BEGIN')
      await admin.query('LOCK TABLE mw_updates IN SHARE MODE')
      const outstanding = () => {
        const log = lines(logFile)
        return seqs(log, 'try').length - seqs(log, 'ok').length - seqs(log, 'fenced').length
      }
      await waitFor(() => outstanding() >= 10, 30_000, 'writes queued behind the held commit')
      child.kill('SIGSTOP')
      // appendFileSync returned for every line the stopped child wrote: the log is complete
      const atStop = lines(logFile)
      const lastTried = Math.max(...seqs(atStop, 'try'))
      await admin.query('COMMIT') // the held commit goes through, before any takeover
      await waitFor(
        async () =>
          (await admin.query(`SELECT 1 FROM mw_leases WHERE account = 'alice' AND expires <= clock_timestamp()`)).rows.length === 1,
        20_000,
        "the child's lease expiring in the database",
      )
      taker = await PgStorage.open({
        url,
        schema,
        process: 'taker',
        leaseTtlMs: 1500,
        maxConnections: 2,
        addresses: { http: 'http://t.test:1' },
      })
      expect(await taker.ownership!.acquire(['alice'])).toEqual(['alice'])
      await taker.updates.append('acct/alice', new TextEncoder().encode('taker'))
      child.kill('SIGCONT')
      expect(await Promise.race([exited, waitFor(() => false, 60_000, 'the child to finish').then(() => 'timeout')]), stderr).toBe(0)

      const log = lines(logFile)
      const tried = seqs(log, 'try')
      const ok = new Set(seqs(log, 'ok'))
      const fencedLines = log.filter((l) => l.startsWith('fenced '))
      const fenced = new Set(seqs(log, 'fenced'))
      // every write tried after the stop (so after the takeover) was refused
      const afterTakeover = tried.filter((s) => s > lastTried)
      expect(afterTakeover.length).toBeGreaterThan(0)
      for (const s of afterTakeover) expect(fenced.has(s), `write ${s} after the takeover`).toBe(true)
      // and counted: the child's fencedWrites equals the refusals it saw
      expect(log).toContain(`count ${fencedLines.length}`)
      expect(log).toContain('lost alice')
      const byDatabase = fencedLines.filter((l) => l.endsWith(' database')).length
      console.log(`refused after the takeover: ${fencedLines.length} (${byDatabase} by the database fence, the rest before sending)`)
      expect(byDatabase).toBeGreaterThan(0) // the writes queued under the old lease reached the database and were refused there

      // the database holds exactly the child's acknowledged writes, all before the taker's
      const rows = await admin.query<{ id: string; data: Buffer }>(
        `SELECT id::text, data FROM mw_updates WHERE doc = 'acct/alice' ORDER BY id`,
      )
      const texts = rows.rows.map((r) => ({ id: BigInt(r.id), text: r.data.toString() }))
      const marker = texts.find((t) => t.text === 'taker')!
      expect(marker).toBeDefined()
      const childRows = texts.filter((t) => t.text.startsWith('child '))
      expect(new Set(childRows.map((t) => Number(t.text.split(' ')[1])))).toEqual(ok)
      for (const t of childRows) expect(t.id < marker.id, `${t.text} committed before the takeover`).toBe(true)
      for (const s of fenced) expect(ok.has(s)).toBe(false)
      const lease = await admin.query<{ owner: string; epoch: string }>(`SELECT owner, epoch::text FROM mw_leases WHERE account = 'alice'`)
      expect(lease.rows[0]).toEqual({ owner: 'taker', epoch: '2' })
    } finally {
      if (child.exitCode === null) {
        child.kill('SIGCONT')
        child.kill('SIGKILL')
      }
      await exited
      await taker?.close()
      await admin.end().catch(() => {})
    }
  }, 180_000)
})
