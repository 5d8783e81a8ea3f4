import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { freePort } from '@mailweave/testkit'
import { NodeProcess } from '@mailweave/testkit/cluster'

const dirs: string[] = []
const nodes: NodeProcess[] = []
afterEach(async () => {
  for (const n of nodes.splice(0)) await n.kill()
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mailweave-storage-'))
  dirs.push(dir)
  writeFileSync(join(dir, 'secret'), randomBytes(32).toString('hex'))
  return dir
}

async function nodeOn(dir: string, dataDir: string, nodeId = 'N0', slot = 0): Promise<NodeProcess> {
  const node = new NodeProcess({ nodeId, slot, stride: 3, dataDir, port: await freePort(), secretFile: join(dir, 'secret'), peers: [] })
  nodes.push(node)
  return node
}

describe('storage and process boundaries', () => {
  it('two processes on one data directory: the second refuses to start, and a SIGKILLed holder does not block a restart', async () => {
    const dir = tempDir()
    const data = join(dir, 'data')
    const first = await (await nodeOn(dir, data)).start()
    const second = await nodeOn(dir, data, 'N1', 1)
    const err = await second.start().catch((e: unknown) => e)
    expect(String(err)).toMatch(/exited with 1 during start/)
    expect(second.stderr).toContain(`is in use by process ${first.child!.pid}`)
    await first.kill()
    await first.start() // the lock of the killed process is stale: taken over at once
    expect(first.stderr).toMatch(/stale lock/)
  }, 60_000)
})
