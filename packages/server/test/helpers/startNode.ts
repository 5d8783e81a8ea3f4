import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach } from 'vitest'
import { MailNode, silentLogger, type NodeConfig, type NodeStorage } from '../../src/index.ts'

/** The cluster secret of in-process test nodes. */
export const secret = new Uint8Array(32).fill(7)
const nodes: MailNode[] = []
const dirs: string[] = []

/** Stops every node started by {@link startNode} and removes its data after each test. */
export function stopNodesAfterEach(): void {
  afterEach(async () => {
    for (const n of nodes.splice(0)) await n.stop()
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
  })
}

/** Starts an in-process node on 127.0.0.1, port 0, in a fresh temp data directory. */
export async function startNode(config: Pick<NodeConfig, 'nodeId' | 'slot' | 'stride' | 'peers'> & Partial<NodeConfig>): Promise<MailNode> {
  const dataDir = mkdtempSync(join(tmpdir(), `mw-${config.nodeId}-`))
  dirs.push(dataDir)
  const node = await MailNode.start({ dataDir, host: '127.0.0.1', port: 0, secret, ...config }, silentLogger())
  nodes.push(node)
  return node
}

/**
 * Starts process `name` of a region `eu` of several processes (slot 0 of 2, IMAP on port 0)
 * over the storage `open` gives for its fresh temp data directory; stopped after each test
 * like {@link startNode}'s.
 */
export async function startRegionProcess(
  name: string,
  open: (dataDir: string) => Promise<NodeStorage>,
  extra: Partial<NodeConfig> = {},
): Promise<MailNode> {
  const dataDir = mkdtempSync(join(tmpdir(), `mw-${name}-`))
  dirs.push(dataDir)
  const config: NodeConfig = { nodeId: 'eu', slot: 0, stride: 2, dataDir, host: '127.0.0.1', port: 0, peers: [], secret }
  const node = await MailNode.start(
    { ...config, imap: { host: '127.0.0.1', port: 0 }, storage: await open(dataDir), ...extra },
    silentLogger(),
  )
  nodes.push(node)
  return node
}
