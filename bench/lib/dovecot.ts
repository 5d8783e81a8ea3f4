/**
 * A private Dovecot (Debian's dovecot-imapd 2.3) on loopback, for `bench/imap.ts` and
 * `pnpm compare dovecot`: its own config file, base_dir, state_dir, log and one
 * passwd-file user with a Maildir; nothing under /etc/dovecot is read or changed.
 * Also dsync between two such instances (`doveadm sync` piped into the other
 * instance's `doveadm dsync-server`), which is how Dovecot replicates a mailbox.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, dirname, join, resolve } from 'node:path'
import { freePort } from '@mailweave/testkit'

/** How to get Dovecot on Debian/Ubuntu (printed when it is missing). */
export const DOVECOT_INSTALL_HINT = 'apt-get update && apt-get install -y --no-install-recommends dovecot-imapd'

/** A failure to start, reach or sync a Dovecot instance, with the tail of its log. */
export class DovecotError extends Error {
  override readonly name = 'DovecotError'
}

/** Where Debian and a source install put Dovecot's delivery agent. */
const DOVECOT_LDA = ['/usr/lib/dovecot/dovecot-lda', '/usr/libexec/dovecot/dovecot-lda', '/usr/local/libexec/dovecot/dovecot-lda']

const SEARCH = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin']

function which(bin: string): string | undefined {
  for (const d of SEARCH) {
    if (d === '') continue
    const p = join(d, bin)
    if (existsSync(p)) return p
  }
  return undefined
}

/** Absolute paths of `dovecot` and `doveadm`, or `undefined` when either is not installed. */
export function findDovecot(): { dovecot: string; doveadm: string; version: string } | undefined {
  const dovecot = which('dovecot')
  const doveadm = which('doveadm')
  if (dovecot === undefined || doveadm === undefined) return undefined
  const v = spawnSync(dovecot, ['--version'], { encoding: 'utf8' })
  if (v.error !== undefined || v.status !== 0) return undefined
  return { dovecot, doveadm, version: v.stdout.trim() || 'unknown' }
}

/**
 * Exits the process (code 2) with install instructions when Dovecot is missing; returns
 * the binaries otherwise. For scripts only: it never throws.
 */
export function requireDovecot(script: string): { dovecot: string; doveadm: string; version: string } {
  const found = findDovecot()
  if (found !== undefined) return found
  process.stderr.write(
    `${script}: Dovecot is not installed (no \`dovecot\`/\`doveadm\` in PATH or /usr/sbin).\n` +
      `Install it (Debian/Ubuntu, as root) and run again:\n\n  ${DOVECOT_INSTALL_HINT}\n\n` +
      'Only the binaries are used: every instance gets its own config, directories and port; no system service is started.\n',
  )
  process.exit(2)
}

/** The uid/gid that owns the mail: ourselves, or `nobody` when we are root (Dovecot refuses uid 0 for mail). */
function mailOwner(): { uid: number; gid: number; name: string } {
  const uid = process.getuid?.() ?? 0
  if (uid !== 0) return { uid, gid: process.getgid?.() ?? uid, name: spawnSync('id', ['-un'], { encoding: 'utf8' }).stdout.trim() }
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('nobody:'))
  const f = line?.split(':') ?? []
  return { uid: Number(f[2] ?? 65534), gid: Number(f[3] ?? 65534), name: 'nobody' }
}

/** Dovecot's own unprivileged processes (login, auth) must be able to reach base_dir. */
function makeTraversable(dir: string): void {
  const tmp = resolve(tmpdir())
  for (let d = resolve(dir); d.startsWith(tmp + '/') && d !== tmp; d = dirname(d)) {
    const mode = statSync(d).mode & 0o777
    if ((mode & 0o005) !== 0o005) chmodSync(d, mode | 0o755)
  }
}

/** Options of {@link Dovecot.start}. */
export interface DovecotOptions {
  /** A directory of its own (created; config, run, state, home and log live inside). */
  dir: string
  /** Instance name (unique per machine while it runs). */
  name: string
  user: string
  password: string
  /** IMAP port on 127.0.0.1; a free one when omitted. */
  port?: number
  /** Raise the per-user connection limit (Dovecot's default is 10). */
  maxConnections?: number
}

/** Result of one doveadm invocation. */
export interface DoveadmResult {
  code: number
  stdout: string
  stderr: string
  ms: number
}

/** Runs doveadm with `args`, never throwing on a non-zero exit. */
export async function doveadm(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<DoveadmResult> {
  const bin = findDovecot()?.doveadm ?? 'doveadm'
  const t = performance.now()
  return new Promise((res) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()))
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()))
    child.once('error', (e) => res({ code: -1, stdout, stderr: stderr + String(e), ms: performance.now() - t }))
    child.once('close', (code) => res({ code: code ?? -1, stdout, stderr, ms: performance.now() - t }))
  })
}

/**
 * One running Dovecot master (`dovecot -F -c <config>`), IMAP only, plaintext LOGIN on
 * loopback, one passwd-file user whose mail is `maildir:~/Maildir`.
 */
export class Dovecot {
  readonly configFile: string
  readonly logFile: string
  readonly home: string
  private process: ChildProcess | undefined

  private constructor(
    readonly o: DovecotOptions,
    readonly port: number,
  ) {
    this.configFile = join(o.dir, 'dovecot.conf')
    this.logFile = join(o.dir, 'dovecot.log')
    this.home = join(o.dir, 'home', o.user)
  }

  /** The Maildir of the user (exists once Dovecot touched the mailbox). */
  get maildir(): string {
    return join(this.home, 'Maildir')
  }

  /** Writes the config, starts the master and resolves once the IMAP greeting arrives. */
  static async start(o: DovecotOptions): Promise<Dovecot> {
    const bins = findDovecot()
    if (bins === undefined) throw new DovecotError(`Dovecot is not installed: ${DOVECOT_INSTALL_HINT}`)
    const d = new Dovecot(o, o.port ?? (await freePort()))
    d.writeConfig()
    const child = spawn(bins.dovecot, ['-F', '-c', d.configFile], { stdio: ['ignore', 'pipe', 'pipe'] })
    d.process = child
    let early = ''
    child.stdout!.on('data', (b: Buffer) => (early += b.toString()))
    child.stderr!.on('data', (b: Buffer) => (early += b.toString()))
    const deadline = Date.now() + 20_000
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new DovecotError(`dovecot ${o.name} exited (${child.exitCode ?? child.signalCode}) before answering:\n${early}${d.logTail()}`)
      if (await greets(d.port)) return d
      if (Date.now() > deadline) {
        await d.stop()
        throw new DovecotError(`dovecot ${o.name} did not answer on 127.0.0.1:${d.port} within 20 s:\n${early}${d.logTail()}`)
      }
      await new Promise((r) => setTimeout(r, 50))
    }
  }

  private writeConfig(): void {
    const o = this.o
    const owner = mailOwner()
    const root = (process.getuid?.() ?? 0) === 0
    for (const sub of ['run', 'state', 'home']) mkdirSync(join(o.dir, sub), { recursive: true })
    makeTraversable(o.dir)
    if (root) chownSync(join(o.dir, 'home'), owner.uid, owner.gid)
    // a test fixture: {PLAIN} and world-readable, because auth runs as the unprivileged `dovecot` user
    writeFileSync(join(o.dir, 'passwd'), `${o.user}:{PLAIN}${o.password}:${owner.uid}:${owner.gid}::${this.home}::\n`, { mode: 0o644 })
    const lines = [
      `# private Dovecot instance written by bench/lib/dovecot.ts (${new Date().toISOString()})`,
      'protocols = imap',
      'listen = 127.0.0.1',
      `base_dir = ${join(o.dir, 'run')}`,
      `state_dir = ${join(o.dir, 'state')}`,
      `instance_name = ${o.name}`,
      `log_path = ${this.logFile}`,
      'ssl = no',
      'disable_plaintext_auth = no',
      'auth_mechanisms = plain login',
      'mail_location = maildir:~/Maildir',
      `first_valid_uid = ${Math.max(1, Math.min(owner.uid, 500))}`,
      `first_valid_gid = ${Math.max(1, Math.min(owner.gid, 500))}`,
      ...(root ? [] : [`default_login_user = ${owner.name}`, `default_internal_user = ${owner.name}`]),
      'passdb {',
      '  driver = passwd-file',
      `  args = scheme=PLAIN username_format=%n ${join(o.dir, 'passwd')}`,
      '}',
      'userdb {',
      '  driver = passwd-file',
      `  args = username_format=%n ${join(o.dir, 'passwd')}`,
      '}',
      'protocol imap {',
      `  mail_max_userip_connections = ${o.maxConnections ?? 64}`,
      '}',
      'service imap-login {',
      '  inet_listener imap {',
      '    address = 127.0.0.1',
      `    port = ${this.port}`,
      '  }',
      '  inet_listener imaps {',
      '    port = 0',
      '  }',
      ...(root ? [] : ['  chroot =']),
      '}',
      ...(root ? [] : ['service anvil {', '  chroot =', '}']),
      '',
    ]
    writeFileSync(this.configFile, lines.join('\n'))
  }

  /** The last lines of this instance's log (for error messages). */
  logTail(lines = 15): string {
    if (!existsSync(this.logFile)) return ''
    return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n') + '\n'
  }

  /**
   * Delivers `messages` into the user's INBOX the way a Maildir MDA does (a file per
   * message written into `new/`, owned by the mail user), then has Dovecot index them
   * (`doveadm force-resync`), so the mailbox is as an IMAP APPEND would have left it.
   */
  async fillInbox(messages: Iterable<Uint8Array>): Promise<number> {
    const owner = mailOwner()
    const root = (process.getuid?.() ?? 0) === 0
    for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(this.maildir, sub), { recursive: true })
    let n = 0
    const stamp = Math.floor(Date.now() / 1000)
    for (const m of messages) {
      const file = join(this.maildir, 'new', `${stamp}.M${n}P${process.pid}.mailweave-bench`)
      writeFileSync(file, m)
      if (root) chownSync(file, owner.uid, owner.gid)
      n++
    }
    if (root)
      for (const d of [this.home, this.maildir, ...['cur', 'new', 'tmp'].map((s) => join(this.maildir, s))])
        chownSync(d, owner.uid, owner.gid)
    const r = await this.doveadm(['force-resync', '-u', this.o.user, 'INBOX'])
    if (r.code !== 0)
      throw new DovecotError(`doveadm force-resync on ${this.o.name} failed (exit ${r.code}):\n${r.stderr}${this.logTail(5)}`)
    return n
  }

  /**
   * Delivers one message to the user's INBOX as an MTA would: through Dovecot's own
   * delivery agent (`dovecot-lda -d <user>`, the code its LMTP server runs per recipient).
   * Each delivery is a new message with a new Dovecot GUID, however often the bytes repeat.
   */
  async deliver(raw: Uint8Array, sender = 'mta@example.org'): Promise<void> {
    const lda = DOVECOT_LDA.find((p) => existsSync(p))
    if (lda === undefined) throw new DovecotError(`dovecot-lda not found (looked in ${DOVECOT_LDA.join(', ')}); it comes with dovecot-core`)
    const r = await new Promise<{ code: number | null; stderr: string }>((res) => {
      const child = spawn(lda, ['-c', this.configFile, '-d', this.o.user, '-f', sender], { stdio: ['pipe', 'ignore', 'pipe'] })
      let stderr = ''
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()))
      child.once('error', (e) => res({ code: -1, stderr: String(e) }))
      child.once('close', (code) => res({ code, stderr }))
      child.stdin.end(raw)
    })
    if (r.code !== 0) throw new DovecotError(`dovecot-lda on ${this.o.name} failed (exit ${r.code}):\n${r.stderr}${this.logTail(5)}`)
  }

  /** Messages in the user's INBOX as Dovecot counts them (`doveadm mailbox status messages`). */
  async inboxCount(): Promise<number> {
    const r = await this.doveadm(['mailbox', 'status', '-u', this.o.user, 'messages', 'INBOX'])
    const m = /messages=(\d+)/.exec(r.stdout)
    if (r.code !== 0 || m === null)
      throw new DovecotError(`doveadm mailbox status on ${this.o.name} failed (exit ${r.code}):\n${r.stdout}${r.stderr}`)
    return Number(m[1])
  }

  /** Runs `doveadm -c <this config> ...args`. */
  doveadm(args: string[]): Promise<DoveadmResult> {
    return doveadm(['-c', this.configFile, ...args])
  }

  /** Stops the master with SIGTERM (it stops its children), SIGKILL after 10 s; idempotent. */
  async stop(): Promise<void> {
    const p = this.process
    if (p === undefined || p.exitCode !== null || p.signalCode !== null) return
    await new Promise<void>((res) => {
      const kill = setTimeout(() => p.kill('SIGKILL'), 10_000)
      p.once('exit', () => {
        clearTimeout(kill)
        res()
      })
      p.kill('SIGTERM')
    })
  }
}

/** True when something on 127.0.0.1:`port` sends an IMAP `* OK` greeting within 2 s. */
function greets(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = connect(port, '127.0.0.1')
    let buf = ''
    const done = (ok: boolean) => {
      clearTimeout(timer)
      s.destroy()
      res(ok)
    }
    const timer = setTimeout(() => done(false), 2000)
    s.on('data', (b: Buffer) => {
      buf += b.toString()
      if (buf.includes('\r\n')) done(buf.startsWith('* OK'))
    })
    s.on('error', () => done(false))
  })
}

/** Options of {@link doveadmSync}. */
export interface DoveadmSyncOptions {
  /**
   * `fast` (doveadm's default: skips mailboxes whose UIDNEXT and HIGHESTMODSEQ look
   * unchanged, documented to miss changes when both sides made the same number of them),
   * `full` (`-f`, scans every message) or `stateful` (`-s <state>`, what the replicator uses).
   */
  mode?: 'fast' | 'full' | 'stateful'
  /** The state printed by the previous stateful run ('' for none). */
  state?: string
  /** Runs again while doveadm exits with 2 ("run again"), up to this many runs in all. */
  attempts?: number
}

/**
 * Two-way dsync of `user` between two local instances: `a`'s doveadm runs `sync` with
 * `b`'s `doveadm dsync-server` as the remote command over a pipe (the same protocol
 * the replicator and `remote:` use over ssh). The remote gets a clean environment:
 * doveadm exports its own HOME/config to children, which would make the "remote" open
 * `a`'s Maildir. Throws {@link DovecotError} on a failed sync (exit other than 0 or 2).
 * Returns the new state for stateful syncs.
 */
export async function doveadmSync(
  a: Dovecot,
  b: Dovecot,
  user: string,
  o: DoveadmSyncOptions = {},
): Promise<DoveadmResult & { runs: number; state: string | undefined }> {
  const remote = [
    'env',
    '-i',
    `PATH=${SEARCH.join(':')}`,
    findDovecot()?.doveadm ?? 'doveadm',
    '-c',
    b.configFile,
    'dsync-server',
    '-u',
    user,
  ]
  const mode = o.mode ?? 'fast'
  let state = o.state ?? ''
  let total = 0
  for (let run = 1; ; run++) {
    const flags = mode === 'full' ? ['-f'] : mode === 'stateful' ? ['-s', state] : []
    const r = await a.doveadm(['sync', ...flags, '-u', user, ...remote])
    total += r.ms
    if (mode === 'stateful' && (r.code === 0 || r.code === 2)) state = r.stdout.trim()
    if (r.code !== 2 || run >= (o.attempts ?? 3)) {
      if (r.code !== 0 && r.code !== 2)
        throw new DovecotError(
          `doveadm sync ${a.o.name} <-> ${b.o.name} failed (exit ${r.code}):\n${r.stderr}${a.logTail(5)}${b.logTail(5)}`,
        )
      return { ...r, ms: total, runs: run, state: mode === 'stateful' ? state : undefined }
    }
  }
}
