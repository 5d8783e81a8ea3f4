import { execFile, execFileSync } from 'node:child_process'
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { waitFor } from './waitFor.ts'

const run = promisify(execFile)

/** The services a private Postfix needs to take mail from `sendmail` and hand it to LMTP (no chroot, no smtpd). */
const MASTER_CF = `pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
`

/** Every master started by a PrivatePostfix of this process, killed on exit whatever happens. */
const masters = new Set<number>()
process.once('exit', () => {
  for (const pid of masters) killGroup(pid)
})

function killGroup(pid: number): void {
  try {
    // the master is a session leader: its process group holds every Postfix daemon it started
    process.kill(-pid, 'SIGKILL')
  } catch {
    /* gone */
  }
}

/**
 * A Postfix of its own, from the Debian package, in a temporary directory (own
 * config_directory, queue_directory, data_directory, log file): every message goes to
 * `lmtp:inet:127.0.0.1:<port>`, nothing is delivered locally, temporary failures are
 * retried within seconds. Needs root (Postfix drops to its own user). `stop` ends every
 * Postfix process it started, also when a test failed; a process exit kills them too.
 */
export class PrivatePostfix {
  readonly dir: string
  private masterPid: number | undefined

  private constructor(lmtpPort: number) {
    this.dir = mkdtempSync(join(tmpdir(), 'mailweave-postfix-'))
    // Postfix's daemons run as user postfix and must reach the queue below this directory
    chmodSync(this.dir, 0o755)
    mkdirSync(join(this.dir, 'queue'))
    mkdirSync(join(this.dir, 'data'))
    const uid = Number(execFileSync('id', ['-u', 'postfix']).toString().trim())
    chownSync(join(this.dir, 'data'), uid, -1)
    const d = this.dir
    writeFileSync(
      join(d, 'main.cf'),
      [
        'compatibility_level = 3.6',
        `config_directory = ${d}`,
        `queue_directory = ${d}/queue`,
        `data_directory = ${d}/data`,
        'mail_owner = postfix',
        'setgid_group = postdrop',
        'inet_interfaces = loopback-only',
        'inet_protocols = ipv4',
        'myhostname = mta.test',
        'mydomain = mta.test',
        'myorigin = mta.test',
        'mydestination =',
        'local_transport = error:no local delivery here',
        `default_transport = lmtp:inet:127.0.0.1:${lmtpPort}`,
        `relay_transport = lmtp:inet:127.0.0.1:${lmtpPort}`,
        // a 4xx is retried within seconds, not minutes
        'queue_run_delay = 1s',
        'minimal_backoff_time = 1s',
        'maximal_backoff_time = 2s',
        'lmtp_connection_cache_on_demand = no',
        `maillog_file = ${d}/maillog`,
        `maillog_file_prefixes = ${d}`,
        'smtputf8_enable = no',
        'biff = no',
        '',
      ].join('\n'),
    )
    writeFileSync(join(d, 'master.cf'), MASTER_CF)
  }

  /** Configures and starts a Postfix that delivers everything to the LMTP server on `lmtpPort`. */
  static async start(lmtpPort: number): Promise<PrivatePostfix> {
    if (process.getuid?.() !== 0) throw new Error('the Postfix test runs Postfix from the Debian package and needs root (as CI runs it)')
    const p = new PrivatePostfix(lmtpPort)
    try {
      await run('postfix', ['-c', p.dir, 'start'])
    } catch (e) {
      const log = p.log()
      await p.stop()
      throw new Error(`postfix -c ${p.dir} start failed: ${String(e)}\n${log}`)
    }
    const pidFile = join(p.dir, 'queue', 'pid', 'master.pid')
    try {
      await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '', 20_000, 'the Postfix master to write its pid')
    } catch (e) {
      // started but not trackable: stop it by its configuration, leave nothing behind
      await p.stop()
      throw e
    }
    p.masterPid = Number(readFileSync(pidFile, 'utf8').trim())
    masters.add(p.masterPid)
    return p
  }

  /** Hands a message to Postfix as a local program would (`sendmail -C dir -f from to…`). */
  async sendmail(from: string, to: string[], message: string | Uint8Array): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const child = execFile('sendmail', ['-C', this.dir, '-i', '-f', from, '--', ...to], (err, _out, stderr) =>
        err ? reject(new Error(`sendmail failed: ${String(err)} ${stderr}`)) : resolve(),
      )
      child.stdin!.end(typeof message === 'string' ? Buffer.from(message, 'latin1') : message)
    })
  }

  /** Postfix's log so far. */
  log(): string {
    return existsSync(join(this.dir, 'maillog')) ? readFileSync(join(this.dir, 'maillog'), 'utf8') : ''
  }

  /** Log lines of the delivery attempts (`status=sent|deferred|bounced`) of one recipient. */
  outcomes(rcpt: string): string[] {
    return this.log()
      .split('\n')
      .filter((l) => l.includes(`to=<${rcpt}>`) && / status=/.test(l))
      .map((l) => / status=(\w+)/.exec(l)![1]!)
  }

  /**
   * Holds deliveries back (`defer_transports = lmtp`) or lets them go and flushes the queue:
   * a benchmark fills the queue first, then times the deliveries alone.
   */
  async hold(on: boolean): Promise<void> {
    await run('postconf', ['-c', this.dir, '-e', `defer_transports = ${on ? 'lmtp' : ''}`])
    await run('postfix', ['-c', this.dir, 'reload'])
    if (!on) await run('postqueue', ['-c', this.dir, '-f'])
  }

  /** Number of delivery attempts with `status=<status>` logged so far (every recipient). */
  count(status: 'sent' | 'deferred' | 'bounced'): number {
    return this.log()
      .split('\n')
      .filter((l) => l.includes(` status=${status} `)).length
  }

  /** Stops Postfix (`postfix stop`, then SIGKILL to whatever is left) and removes its directory. */
  async stop(): Promise<void> {
    await run('postfix', ['-c', this.dir, 'stop']).catch(() => undefined)
    const pid = this.masterPid
    if (pid !== undefined) {
      // a zombie (exited, not reaped by a container's init) counts as gone
      const alive = () => {
        try {
          return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
        } catch {
          return false
        }
      }
      await waitFor(() => !alive(), 10_000, 'the Postfix master to exit').catch(() => undefined)
      killGroup(pid)
      masters.delete(pid)
    }
    rmSync(this.dir, { recursive: true, force: true })
  }
}
