import { spawn, type ChildProcess } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'

/** The `mailweave` command line (packages/cli/bin), run with the current Node. */
export const MAILWEAVE_BIN = join(dirname(createRequire(import.meta.url).resolve('@mailweave/cli')), '..', 'bin', 'mailweave.mjs')

const STDERR_KEPT = 1 << 20

/** Options of one `mailweave serve` process. */
export interface NodeProcessOptions {
  nodeId: string
  /** The process's name within a region of several processes (`--process`); absent: the region's only process. */
  process?: string
  slot: number
  stride: number
  dataDir: string
  secretFile: string
  /** HTTP/WebSocket port on 127.0.0.1; 0 binds any free port (kept for restarts). */
  port: number
  peers?: { id: string; url: string }[]
  /** Serve IMAP on this port of 127.0.0.1 (0: any free port); absent: no IMAP. */
  imapPort?: number
  verifyTimeoutMs?: number
  /** More `mailweave serve` arguments, appended as given (another listener, a store). */
  args?: string[]
  /** MAILWEAVE_LOG_LEVEL of the process (default 'warn'). */
  logLevel?: string
  env?: Record<string, string>
  /** Node flags before the script (profiling: --cpu-prof); default $MAILWEAVE_NODE_FLAGS split at spaces. */
  nodeFlags?: string[]
  /** Every stderr line (the node's log) as it arrives. */
  onLog?: (line: string) => void
}

/**
 * A real node process (`mailweave serve`), started through the CLI as an operator would,
 * stopped cleanly (SIGTERM) or killed for real (SIGKILL). `start` resolves once the node
 * printed `ready`, i.e. every listener it was asked for accepts connections.
 */
export class NodeProcess {
  child: ChildProcess | undefined
  /** What the process wrote on stderr since its last start (the last 1 MB). */
  stderr = ''
  /** Listener URLs the node printed, by kind (`http`, `imap`, …). */
  readonly listeners = new Map<string, string>()
  /** Whether the process is stopped by {@link pause} (SIGSTOP) and not yet resumed. */
  paused = false

  constructor(readonly o: NodeProcessOptions) {}

  /** The node id (the region's id: shared by every process of a region). */
  get id(): string {
    return this.o.nodeId
  }

  /** The process name (`--process`), or the node id when the region has one process. */
  get name(): string {
    return this.o.process ?? this.o.nodeId
  }

  /** The node's HTTP base URL (once started). */
  get url(): string {
    return this.listeners.get('http') ?? ''
  }

  /** The IMAP port (once started with IMAP), else 0. */
  get imapPort(): number {
    const u = this.listeners.get('imap')
    return u === undefined ? 0 : Number(new URL(u).port)
  }

  /** The LMTP port (once started with `--lmtp`), else 0. */
  get lmtpPort(): number {
    const u = this.listeners.get('lmtp')
    return u === undefined ? 0 : Number(new URL(u).port)
  }

  /** Whether the process is alive. */
  get running(): boolean {
    const c = this.child
    return c !== undefined && c.exitCode === null && c.signalCode === null
  }

  /** Starts (or restarts, on the same ports) the process; rejects with its stderr when it exits or times out first. */
  async start(timeoutMs = 30_000): Promise<this> {
    const o = this.o
    const args = [
      MAILWEAVE_BIN,
      'serve',
      '--node-id',
      o.nodeId,
      '--slot',
      String(o.slot),
      '--stride',
      String(o.stride),
      '--data',
      o.dataDir,
      '--listen',
      `127.0.0.1:${o.port}`,
      '--secret-file',
      o.secretFile,
    ]
    if (o.process !== undefined) args.push('--process', o.process)
    for (const p of o.peers ?? []) args.push('--peer', `${p.id}=${p.url}`)
    if (o.verifyTimeoutMs !== undefined) args.push('--verify-timeout', String(o.verifyTimeoutMs))
    if (o.imapPort !== undefined) args.push('--imap', `127.0.0.1:${o.imapPort}`, '--allow-plaintext-auth')
    args.push(...(o.args ?? []))
    const nodeFlags = o.nodeFlags ?? (process.env.MAILWEAVE_NODE_FLAGS ?? '').split(' ').filter((f) => f !== '')
    const child = spawn(process.execPath, [...nodeFlags, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, MAILWEAVE_LOG_LEVEL: o.logLevel ?? 'warn', ...o.env },
    })
    this.child = child
    this.paused = false
    this.stderr = ''
    this.listeners.clear()
    // a script that dies (an uncaught error) must not leave nodes running
    const reap = (): void => void child.kill('SIGKILL')
    process.once('exit', reap)
    child.once('exit', () => process.off('exit', reap))
    createInterface({ input: child.stderr! }).on('line', (line) => {
      this.stderr += line + '\n'
      if (this.stderr.length > 2 * STDERR_KEPT) this.stderr = this.stderr.slice(-STDERR_KEPT)
      o.onLog?.(line)
    })
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`node ${this.name} did not start within ${timeoutMs} ms\n${this.stderr}`)), timeoutMs)
      const onExit = (code: number | null, signal: NodeJS.Signals | null): void =>
        fail(new Error(`node ${this.name} exited with ${signal ?? code} during start\n${this.stderr}`))
      const fail = (e: Error): void => {
        clearTimeout(timer)
        child.off('exit', onExit)
        if (this.running) child.kill('SIGKILL')
        reject(e)
      }
      child.once('exit', onExit)
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const listener = /^mailweave node \S+ (\w+) (\S+)$/.exec(line)
        if (listener !== null) this.listeners.set(listener[1]!, listener[2]!)
        if (/^mailweave node \S+ ready$/.test(line)) {
          clearTimeout(timer)
          child.off('exit', onExit)
          resolve()
        }
      })
    })
    // a restart must find the node where its peers (and clients) expect it
    if (o.port === 0) o.port = Number(new URL(this.url).port)
    if (o.imapPort === 0) o.imapPort = this.imapPort
    return this
  }

  /** SIGKILL: no flush, no goodbye. */
  async kill(): Promise<void> {
    await this.signal('SIGKILL')
  }

  /** SIGTERM: a clean stop (a paused process is resumed first, or it could not act on it). */
  async stop(): Promise<void> {
    this.resume()
    await this.signal('SIGTERM')
  }

  /** SIGSTOP: the process freezes mid-flight (its sockets stay open, its timers stop) until {@link resume}. */
  pause(): void {
    if (!this.running || this.paused) return
    this.child!.kill('SIGSTOP')
    this.paused = true
  }

  /** SIGCONT: a paused process runs on from where it stopped. */
  resume(): void {
    if (!this.running || !this.paused) return
    this.child!.kill('SIGCONT')
    this.paused = false
  }

  private async signal(sig: NodeJS.Signals): Promise<void> {
    const c = this.child
    if (c === undefined || !this.running) return
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve())
      c.kill(sig)
    })
  }
}
