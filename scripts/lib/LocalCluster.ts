/**
 * A local multi-region cluster of real `mailweave serve` processes on loopback, shared by
 * `pnpm start`, `pnpm tour` and `pnpm compare`. Peer links can optionally pass through
 * fault proxies so a script can cut regions apart and heal them.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { adminToken } from '@mailweave/server'
import { FaultProxy, freePort, waitFor } from '@mailweave/testkit'

export { freePort }

/** One running region. */
export interface Region {
  name: string
  slot: number
  http: string
  imapPort: number
  process: ChildProcess
}

/** Options of {@link LocalCluster.start}. */
export interface LocalClusterOptions {
  regions: string[]
  dataDir: string
  imap?: boolean
  /** Route every peer link through a FaultProxy (cut/heal). */
  proxies?: boolean
  logLevel?: string
  onLog?: (region: string, line: string) => void
}

export class LocalCluster {
  readonly regions: Region[] = []
  readonly proxies = new Map<string, FaultProxy>()
  readonly secretFile: string

  private constructor(readonly o: LocalClusterOptions) {
    mkdirSync(o.dataDir, { recursive: true })
    this.secretFile = join(o.dataDir, 'secret')
    if (!existsSync(this.secretFile)) writeFileSync(this.secretFile, randomBytes(32).toString('hex') + '\n', { mode: 0o600 })
  }

  static async start(o: LocalClusterOptions): Promise<LocalCluster> {
    const c = new LocalCluster(o)
    await c.launch()
    return c
  }

  get adminToken(): string {
    return adminToken(new TextEncoder().encode(readFileSync(this.secretFile, 'utf8').trim()))
  }

  private async launch(): Promise<void> {
    const { regions } = this.o
    const http = await Promise.all(regions.map(() => freePort()))
    const imap = await Promise.all(regions.map(() => freePort()))
    if (this.o.proxies === true) {
      // a pair's proxy forwards to the node that is dialed: the one whose id sorts last (see below)
      for (let i = 0; i < regions.length; i++) for (let j = i + 1; j < regions.length; j++) this.proxies.set(`${i}-${j}`, await FaultProxy.start({ targetPort: http[regions[i]! < regions[j]! ? j : i]! }))
    }
    const bin = resolve(import.meta.dirname, '../../packages/cli/bin/mailweave.mjs')
    const ready: Promise<void>[] = []
    regions.forEach((name, i) => {
      const args = [bin, 'serve', '--node-id', name, '--slot', String(i), '--stride', String(regions.length), '--data', join(this.o.dataDir, name), '--listen', `127.0.0.1:${http[i]}`, '--secret-file', this.secretFile]
      regions.forEach((peer, j) => {
        if (j === i) return
        // peer ids sort like region names; the smaller id dials, through the pair's proxy
        const viaProxy = this.o.proxies === true && name < peer
        const key = i < j ? `${i}-${j}` : `${j}-${i}`
        const port = viaProxy ? this.proxies.get(key)!.port : http[j]
        args.push('--peer', `${peer}=http://127.0.0.1:${port}`)
      })
      if (this.o.imap !== false) args.push('--imap', `127.0.0.1:${imap[i]}`)
      // MAILWEAVE_NODE_FLAGS: extra Node flags for every region (profiling: --cpu-prof)
      const flags = (process.env.MAILWEAVE_NODE_FLAGS ?? '').split(' ').filter((f) => f !== '')
      const child = spawn(process.execPath, [...flags, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MAILWEAVE_LOG_LEVEL: this.o.logLevel ?? 'error' } })
      this.regions.push({ name, slot: i, http: `http://127.0.0.1:${http[i]}`, imapPort: this.o.imap !== false ? imap[i]! : 0, process: child })
      // a script that dies (an uncaught error) must not leave regions running
      const reap = () => child.kill('SIGKILL')
      process.once('exit', reap)
      child.once('exit', () => process.off('exit', reap))
      createInterface({ input: child.stderr! }).on('line', (l) => this.o.onLog?.(name, l))
      ready.push(new Promise((res, rej) => {
        let need = this.o.imap !== false ? 2 : 1
        createInterface({ input: child.stdout! }).on('line', (l) => {
          if (/ (http|imap) /.test(l) && --need === 0) res()
        })
        child.once('exit', (code) => rej(new Error(`region ${name} exited with code ${code} before it was ready`)))
      }))
    })
    try {
      await Promise.all(ready)
    } catch (e) {
      await this.stop()
      throw e
    }
  }

  /** Creates (or updates) a user at the first region; it replicates to the others. */
  async addUser(name: string, password: string): Promise<void> {
    const res = await fetch(`${this.regions[0]!.http}/api/admin/users`, { method: 'POST', headers: { authorization: `Bearer ${this.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ name, password }) })
    if (!res.ok) throw new Error(`could not create user ${name}: ${res.status} ${await res.text()}`)
    const basic = `Basic ${Buffer.from(`${name}:${password}`).toString('base64')}`
    for (const r of this.regions) {
      await waitFor(async () => (await fetch(`${r.http}/api/token`, { method: 'POST', headers: { authorization: basic } })).ok, 20_000, `user ${name} to reach region ${r.name}`, 25)
    }
  }

  /** Status of a region (peers, storage) through the admin API. */
  async status(i: number): Promise<{ peers: { id: string; state: string }[] }> {
    const res = await fetch(`${this.regions[i]!.http}/api/status`, { headers: { authorization: `Bearer ${this.adminToken}` } })
    return (await res.json()) as { peers: { id: string; state: string }[] }
  }

  /** Waits until every region has every peer link in `state` (bounded). */
  async linksAre(state: 'open' | 'down', timeoutMs = 30_000): Promise<void> {
    await waitFor(async () => {
      const all = await Promise.all(this.regions.map((_, i) => this.status(i)))
      return all.every((s) => s.peers.every((p) => (state === 'open' ? p.state === 'open' : p.state !== 'open')))
    }, timeoutMs, `every peer link to be ${state}`, 50)
  }

  /** Cuts every peer link (needs `proxies: true`). */
  cutAll(): void {
    for (const p of this.proxies.values()) p.cut()
  }

  restoreAll(): void {
    for (const p of this.proxies.values()) p.restore()
  }

  /** Stops every region (SIGTERM, clean) and the proxies. */
  async stop(): Promise<void> {
    await Promise.all(this.regions.map((r) => new Promise<void>((res) => {
      if (r.process.exitCode !== null || r.process.signalCode !== null) return res()
      r.process.once('exit', () => res())
      r.process.kill('SIGTERM')
    })))
    for (const p of this.proxies.values()) await p.close()
  }
}
