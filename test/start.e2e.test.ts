import { execFile, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { adminToken } from '@mailweave/server'
import { freePort, waitFor } from '@mailweave/testkit'
import { MAILWEAVE_BIN } from '@mailweave/testkit-cluster'

const run = promisify(execFile)
const ROOT = resolve(import.meta.dirname, '..')

/** The pnpm binary this repository pins (as `npx -y pnpm@12.4.2` runs it), so Ctrl-C is tested through pnpm itself. */
async function pnpmBin(): Promise<string> {
  const { stdout } = await run('npx', ['-y', 'pnpm@12.4.2', 'exec', 'sh', '-c', 'command -v pnpm'], { cwd: ROOT, timeout: 60_000 })
  return stdout.trim()
}

describe('pnpm start', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mailweave-start-'))
  let busy: Server | undefined
  afterAll(() => {
    busy?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('keeps preferred ports (falling back when taken), cuts and heals one link through its control endpoint and the CLI, and stops cleanly on Ctrl-C', async () => {
    const base = await freePort()
    busy = createServer()
    await new Promise<void>((res) => busy!.listen(base, '127.0.0.1', () => res()))
    const env = {
      ...process.env,
      MAILWEAVE_DATA: join(dir, 'cluster'),
      MAILWEAVE_BROWSER: '0',
      MAILWEAVE_HTTP_PORT: String(base),
      MAILWEAVE_IMAP_PORT: '0',
      MAILWEAVE_CONTROL_PORT: '0',
      MAILWEAVE_LOG_LEVEL: 'warn',
    }
    // its own process group, as a terminal runs it: Ctrl-C signals pnpm, the script and every region at once
    const child = spawn(await pnpmBin(), ['start'], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (out += d.toString()))
    const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)))
    try {
      await waitFor(
        () => out.includes('Ctrl-C stops every region.') || child.exitCode !== null,
        120_000,
        `pnpm start to be up:\n${out}`,
        100,
      )
      expect(out).toContain('Ctrl-C stops every region.')
      const regions = new Map([...out.matchAll(/^(eu|us|ap)\s+\d+\s+(http:\/\/\S+)/gm)].map((m) => [m[1]!, m[2]!]))
      expect([...regions.keys()]).toEqual(['eu', 'us', 'ap'])
      // eu's preferred port was taken: it fell back and says so; the others kept theirs or say why not
      expect(new URL(regions.get('eu')!).port).not.toBe(String(base))
      expect(out).toContain(`(${base} was taken)`)
      for (const [i, r] of ['us', 'ap'].entries()) {
        const want = base + i + 1
        expect(new URL(regions.get(r)!).port === String(want) || out.includes(`(${want} was taken)`)).toBe(true)
      }
      const controlUrl = /link control: (http:\/\/\S+)/.exec(out)![1]!
      const token = adminToken(new TextEncoder().encode(readFileSync(join(dir, 'cluster', 'secret'), 'utf8').trim()))
      const peerState = async (region: string, peer: string) => {
        const s = (await (await fetch(`${regions.get(region)}/api/status`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
          peers: { id: string; state: string }[]
        }
        return s.peers.find((p) => p.id === peer)?.state
      }
      await waitFor(
        async () => (await peerState('eu', 'us')) === 'open' && (await peerState('us', 'ap')) === 'open',
        30_000,
        'links open',
        100,
      )
      const links = (await (await fetch(`${controlUrl}/links`)).json()) as { links: { id: string; cut: boolean }[] }
      expect(links.links).toEqual([
        { id: 'eu-us', a: 'eu', b: 'us', cut: false },
        { id: 'eu-ap', a: 'eu', b: 'ap', cut: false },
        { id: 'us-ap', a: 'us', b: 'ap', cut: false },
      ])

      // the CLI cuts one link: only that one goes down
      const cut = await run(process.execPath, [MAILWEAVE_BIN, 'link', 'cut', 'eu-us', '--control', controlUrl])
      expect(cut.stdout).toMatch(/^eu-us\s+cut$/m)
      expect(cut.stdout).toMatch(/^eu-ap\s+up$/m)
      await waitFor(
        async () => (await peerState('eu', 'us')) !== 'open' && (await peerState('us', 'eu')) !== 'open',
        30_000,
        'eu-us down',
        100,
      )
      expect(await peerState('eu', 'ap')).toBe('open')
      // another web page may not partition the cluster; an unknown link is named
      expect((await fetch(`${controlUrl}/links/eu-us/heal`, { method: 'POST', headers: { origin: 'http://evil.example' } })).status).toBe(
        403,
      )
      const unknown = await run(process.execPath, [MAILWEAVE_BIN, 'link', 'heal', 'eu-mars', '--control', controlUrl]).catch(
        (e: { stderr: string }) => e,
      )
      expect((unknown as { stderr: string }).stderr).toMatch(/no link eu-mars; the links are eu-us, eu-ap, us-ap/)
      // healed through the endpoint: the link comes back
      const healed = (await (await fetch(`${controlUrl}/links/eu-us/heal`, { method: 'POST' })).json()) as {
        links: { id: string; cut: boolean }[]
      }
      expect(healed.links.every((l) => !l.cut)).toBe(true)
      await waitFor(async () => (await peerState('eu', 'us')) === 'open', 30_000, 'eu-us open again', 100)
    } finally {
      if (child.exitCode === null) process.kill(-child.pid!, 'SIGINT')
    }
    // Ctrl-C through pnpm: exit 0, every region stopped, no ELIFECYCLE
    expect(await exited).toBe(0)
    expect(out).toContain('all regions stopped')
    expect(out).not.toContain('ELIFECYCLE')
    for (const url of [...out.matchAll(/^(?:eu|us|ap)\s+\d+\s+(http:\/\/\S+)/gm)].map((m) => m[1]!))
      await expect(fetch(`${url}/healthz`)).rejects.toThrow()
  }, 240_000)
})
