// Real IMAP clients as separate processes: Python's imaplib, curl's imap:// and mbsync (isync).
// They are required tools (see .ci/system-deps): a missing one fails the test, loudly.
import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { PASS, RawClient, USER, message, startServer } from './serverHelpers.ts'
import type { TestServer } from './serverHelpers.ts'

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url))

/** Runs a required tool; ENOENT becomes an error that says what to install. */
function run(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 20_000, maxBuffer: 16 * 1024 * 1024, env: env ?? process.env }, (err, stdout, stderr) => {
      if (err !== null && (err as NodeJS.ErrnoException).code === 'ENOENT') {
        reject(new Error(`${cmd} is not installed but this test needs it (see .ci/system-deps: apt-get install -y isync curl)`))
      } else if (err !== null) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\nstdout: ${stdout}\nstderr: ${stderr}`))
      else resolve({ stdout, stderr })
    })
  })
}

let srv: TestServer | undefined
let dir: string | undefined

afterEach(async () => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  dir = undefined
  if (srv !== undefined) {
    expect(srv.errors).toEqual([])
    await srv.close()
    srv = undefined
  }
})

async function seed(s: TestServer, subjects: string[]): Promise<Buffer[]> {
  const c = await RawClient.connect(s.port)
  await c.login()
  const out: Buffer[] = []
  for (const subject of subjects) {
    const m = message(subject, `Body of ${subject}.\r\n`)
    await c.append(m)
    out.push(m)
  }
  c.close()
  return out
}

describe('real clients', () => {
  it('python imaplib: login, select, uid fetch, store, expunge', async () => {
    srv = await startServer()
    const msgs = await seed(srv, ['alpha', 'beta', 'gamma'])
    const { stdout } = await run('python3', [join(FIXTURES, 'imaplib_client.py'), String(srv.port), USER, PASS])
    const out = JSON.parse(stdout) as Record<string, unknown>
    expect(out.login).toBe('OK')
    expect(out.select).toEqual(['OK', 3])
    expect(out.fetch).toEqual(msgs.map((m, i) => ({ uid: i + 1, size: m.length, subject: `Subject: ${['alpha', 'beta', 'gamma'][i]}` })))
    expect(out.store).toEqual(['OK', '1 (FLAGS (\\Deleted \\Flagged) UID 1)'])
    expect(out.expunge).toEqual(['OK', ['1']])
    expect(out.after).toEqual(['1 (UID 2 FLAGS ())', '2 (UID 3 FLAGS ())'])
    expect(out.body).toBe(msgs[2]!.toString())
    expect(out.seen).toBe('3')
    expect(out.logout).toBe('BYE')
  })

  it('curl imap:// fetches a message by UID', async () => {
    srv = await startServer()
    const msgs = await seed(srv, ['one', 'two'])
    const { stdout } = await run('curl', ['-s', '--max-time', '15', `imap://127.0.0.1:${srv.port}/INBOX;UID=2`, '-u', `${USER}:${PASS}`])
    expect(stdout).toBe(msgs[1]!.toString())
  })

  it('mbsync syncs INBOX into a Maildir, then picks up a new message incrementally', async () => {
    srv = await startServer()
    const msgs = await seed(srv, ['m1', 'm2', 'm3'])
    dir = mkdtempSync(join(tmpdir(), 'imap-mbsync-'))
    const maildir = join(dir, 'mail')
    mkdirSync(maildir)
    const rc = join(dir, 'mbsyncrc')
    writeFileSync(
      rc,
      [
        'IMAPAccount test',
        'Host 127.0.0.1',
        `Port ${srv.port}`,
        `User ${USER}`,
        `Pass "${PASS}"`,
        'SSLType None',
        'AuthMechs LOGIN',
        'Timeout 15',
        '',
        'IMAPStore remote',
        'Account test',
        '',
        'MaildirStore local',
        `Path ${maildir}/`,
        `Inbox ${maildir}/INBOX`,
        '',
        'Channel sync',
        'Far :remote:',
        'Near :local:',
        'Patterns INBOX',
        'Create Near',
        'Sync Pull',
        'SyncState *',
        '',
      ].join('\n'),
    )
    const env = { ...process.env, HOME: dir }
    // Maildir keeps LF line ends, and mbsync adds its X-TUID header.
    const normal = (text: string): string => text.replace(/\r\n/g, '\n').replace(/^X-TUID: .*\n/m, '')
    const contents = (): string[] => {
      const files: string[] = []
      for (const sub of ['cur', 'new'])
        for (const f of readdirSync(join(maildir, 'INBOX', sub))) files.push(normal(readFileSync(join(maildir, 'INBOX', sub, f), 'latin1')))
      return files.sort()
    }
    const first = await run('mbsync', ['-c', rc, 'sync'], env)
    expect(first.stderr).not.toMatch(/error/i)
    expect(contents()).toEqual(msgs.map((m) => normal(m.toString('latin1'))).sort())
    const more = await seed(srv, ['m4'])
    await run('mbsync', ['-c', rc, 'sync'], env)
    expect(contents()).toEqual([...msgs, ...more].map((m) => normal(m.toString('latin1'))).sort())
  })
})
