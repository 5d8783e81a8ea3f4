import { afterAll, beforeAll } from 'vitest'
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream, existsSync, readdirSync } from 'node:fs'
import { chown, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './freePort.ts'
import { waitFor } from './waitFor.ts'

/** Options of {@link PostgresServer.start}. */
export interface PostgresServerOptions {
  /** Directory of initdb/pg_ctl/postgres; default `MAILWEAVE_PG_BIN` or the newest /usr/lib/postgresql/N/bin. */
  binDir?: string
  /** Parent of the temporary cluster directory (default the OS temp dir); the server user must be able to enter it. */
  parentDir?: string
  /** How long to wait for the server to accept connections (ms). */
  startTimeoutMs?: number
}

const live = new Set<PostgresServer>()
// a test process that exits without stopping its servers still takes them down
process.once('exit', () => {
  for (const s of live) s.killNow()
})

/** The PostgreSQL bin directory: `MAILWEAVE_PG_BIN`, else the newest Debian /usr/lib/postgresql/N/bin. */
export function postgresBinDir(): string {
  const env = process.env.MAILWEAVE_PG_BIN
  if (env !== undefined && env !== '') return env
  const root = '/usr/lib/postgresql'
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => /^\d+$/.test(v))
        .sort((a, b) => Number(b) - Number(a))
    : []
  for (const v of versions) if (existsSync(join(root, v, 'bin', 'initdb'))) return join(root, v, 'bin')
  throw new Error("PostgreSQL server binaries not found: install Debian's postgresql package (.ci/system-deps) or set MAILWEAVE_PG_BIN")
}

/** uid/gid to run PostgreSQL as: itself refuses root, so as root we use the `postgres` account. */
async function serverUser(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined
  const id = (flag: string) =>
    new Promise<number>((resolve, reject) =>
      execFile('id', [flag, 'postgres'], (err, out) =>
        err
          ? reject(new Error(`running as root needs a 'postgres' user (Debian's postgresql package creates it): ${err.message}`))
          : resolve(Number(out.trim())),
      ),
    )
  return { uid: await id('-u'), gid: await id('-g') }
}

/**
 * A private PostgreSQL server for tests, demos and benchmarks: a fresh cluster (initdb)
 * in a temporary directory, listening on 127.0.0.1 on a free port only, run as an
 * unprivileged user (the `postgres` account when this process is root), with
 * `fsync` and `synchronous_commit` on. {@link stop} removes everything; a process exit
 * kills servers left running. Trust authentication for user `mailweave`, loopback only.
 */
export class PostgresServer {
  private child: ChildProcess | undefined
  private exited: Promise<void> = Promise.resolve()

  private constructor(
    /** The temporary directory holding the cluster (`data/`) and its log. */
    readonly dir: string,
    private _port: number,
    private readonly binDir: string,
    private readonly user: { uid: number; gid: number } | undefined,
    private readonly startTimeoutMs: number,
  ) {}

  /** Creates the cluster and starts the server; resolves once it accepts connections. */
  static async start(options: PostgresServerOptions = {}): Promise<PostgresServer> {
    const binDir = options.binDir ?? postgresBinDir()
    const user = await serverUser()
    const dir = await mkdtemp(join(options.parentDir ?? tmpdir(), 'mailweave-pg-'))
    if (user !== undefined) await chown(dir, user.uid, user.gid)
    const server = new PostgresServer(dir, await freePort(), binDir, user, options.startTimeoutMs ?? 60_000)
    try {
      // -N: the cluster's own files are not fsynced at creation (a test cluster); the server runs with fsync on
      await server.run('initdb', ['-D', server.dataDir, '-U', 'mailweave', '-A', 'trust', '-E', 'UTF8', '--no-locale', '-N'])
      // the free port may be taken by someone else before the server binds it: try others
      for (let attempt = 1; ; attempt++) {
        try {
          await server.restart()
          break
        } catch (e) {
          if (attempt >= 3 || !/exited during start/.test(String(e))) throw e
          server._port = await freePort()
        }
      }
      await server.createDatabase('mailweave')
    } catch (e) {
      await server.stop()
      throw e
    }
    return server
  }

  /** The cluster's data directory. */
  get dataDir(): string {
    return join(this.dir, 'data')
  }

  /** Connection URL of database `db` (default `mailweave`). */
  url(db = 'mailweave'): string {
    return `postgres://mailweave@127.0.0.1:${this.port}/${db}`
  }

  /** The loopback port the server listens on. */
  get port(): number {
    return this._port
  }

  /** Whether the server process is running. */
  get running(): boolean {
    return this.child !== undefined
  }

  /** Creates database `name` (an identifier of letters, digits and `_`) and returns its URL. */
  async createDatabase(name: string): Promise<string> {
    if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`invalid database name ${JSON.stringify(name)}`)
    await this.run('createdb', ['-h', '127.0.0.1', '-p', String(this.port), '-U', 'mailweave', name])
    return this.url(name)
  }

  /** Starts the server on the existing cluster (after {@link stopImmediate} or {@link stopFast}). */
  async restart(): Promise<void> {
    if (this.child !== undefined) throw new Error('PostgreSQL is already running')
    const log = createWriteStream(join(this.dir, 'postgres.log'), { flags: 'a' })
    const args = [
      '-D',
      this.dataDir,
      '-p',
      String(this.port),
      '-k',
      this.dir,
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'fsync=on',
      '-c',
      'synchronous_commit=on',
      '-c',
      'max_connections=60',
      '-c',
      'shared_buffers=32MB',
    ]
    // its own process group: a Ctrl-C at the terminal (pnpm start:pg) must not shut the database down
    // under the nodes still stopping; whoever started it stops it after them (or kills it at exit)
    const child = spawn(join(this.binDir, 'postgres'), args, {
      cwd: this.dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      ...this.user,
    })
    child.stdout.pipe(log)
    child.stderr.pipe(log)
    this.child = child
    live.add(this)
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()))
    void this.exited.then(() => {
      if (this.child === child) this.child = undefined
    })
    await waitFor(
      async () => {
        if (this.child !== child) throw new Error(`PostgreSQL exited during start; see ${join(this.dir, 'postgres.log')}`)
        return this.run('pg_isready', ['-q', '-h', '127.0.0.1', '-p', String(this.port)]).then(
          () => true,
          () => false,
        )
      },
      this.startTimeoutMs,
      'PostgreSQL to accept connections',
      100,
    )
  }

  /** `pg_ctl stop -m immediate`: the server quits without a checkpoint, as in a crash. */
  async stopImmediate(): Promise<void> {
    await this.pgCtlStop('immediate')
  }

  /** `pg_ctl stop -m fast`: a clean shutdown. */
  async stopFast(): Promise<void> {
    await this.pgCtlStop('fast')
  }

  /** Stops the server (fast) and removes its directory; safe to call twice. */
  async stop(): Promise<void> {
    if (this.child !== undefined) await this.pgCtlStop('fast').catch(() => this.killNow())
    await this.exited
    live.delete(this)
    await rm(this.dir, { recursive: true, force: true })
  }

  /** SIGKILLs the server at once (for process exit). */
  killNow(): void {
    this.child?.kill('SIGKILL')
  }

  private async pgCtlStop(mode: 'fast' | 'immediate'): Promise<void> {
    if (this.child === undefined) return
    await this.run('pg_ctl', ['stop', '-D', this.dataDir, '-m', mode, '-w', '-t', '60'])
    await this.exited
  }

  private run(tool: string, args: string[]): Promise<void> {
    return new Promise((resolve, reject) => {
      execFile(join(this.binDir, tool), args, { cwd: this.dir, ...this.user }, (err, _stdout, stderr) => {
        if (err) reject(new Error(`${tool} failed: ${stderr.trim() || err.message}`))
        else resolve()
      })
    })
  }
}

/**
 * For a vitest file: starts a {@link PostgresServer} before its tests (beforeAll) and stops
 * and removes it after them (afterAll, also when tests failed). Call at the top level;
 * the returned function gives the running server inside tests.
 */
export function usePostgresServer(options: PostgresServerOptions = {}): () => PostgresServer {
  let server: PostgresServer | undefined
  beforeAll(async () => {
    server = await PostgresServer.start(options)
  }, 180_000)
  afterAll(async () => {
    await server?.stop()
  })
  return () => {
    if (server === undefined)
      throw new Error('the PostgreSQL server is not running (usePostgresServer must be called at the top level of a test file)')
    return server
  }
}
