import { mkdir, readdir, readFile, rename } from 'node:fs/promises'
import { join } from 'node:path'
import type { MetaStore } from '@mailweave/core'
import { FileUpdateStore, LOCK_FILE } from '@mailweave/storage-fs'
import { NodeError } from './NodeError.ts'

/** Record (in the node's MetaStore) naming who writes this data directory's facts. */
export const INCARNATION_RECORD = 'incarnation.json'

/**
 * Who a node is in the documents it writes. `replica` is the id its facts carry (claims,
 * bindings, exposures); it equals the node id until the node rejoins after its own history
 * was damaged or lost, when it becomes `<nodeId>~<suffix>` with a new slot: the old replica
 * id and slot are retired, never written again, so no UID of the lost history is reused
 * and the old exposure chain never forks.
 */
export interface Incarnation {
  nodeId: string
  replica: string
  slot: number
  /** Replica ids and slots this data directory's node used before (newest last). */
  retired: { replica: string; slot: number | undefined }[]
}

const DAMAGED_PREFIX = 'damaged-'

function parse(bytes: Uint8Array | undefined): Incarnation | undefined {
  if (bytes === undefined) return undefined
  try {
    const v = JSON.parse(new TextDecoder().decode(bytes)) as Incarnation
    if (typeof v.nodeId === 'string' && typeof v.replica === 'string' && Number.isInteger(v.slot) && Array.isArray(v.retired)) return v
  } catch {
    // fall through
  }
  throw new NodeError(
    'STORAGE',
    `the ${INCARNATION_RECORD} record of this data directory does not parse: restore it, or recover with --rejoin`,
  )
}

/**
 * The node's incarnation for `config`, recorded on first start. Without `rejoining` a data
 * directory belongs to one node id and slot: starting it as another is refused (its facts
 * would be continued under the wrong identity). With `rejoining` (the data directory was
 * just set aside, see {@link setAside}) a new replica id is made and `slot` must be one this
 * node never used.
 */
export async function incarnation(
  meta: MetaStore,
  config: { nodeId: string; slot: number; dataDir: string },
  rejoining: { previous: Incarnation | undefined } | undefined,
): Promise<Incarnation> {
  const stored = parse(await meta.get(INCARNATION_RECORD))
  if (rejoining === undefined) {
    if (stored === undefined) {
      const first: Incarnation = { nodeId: config.nodeId, replica: config.nodeId, slot: config.slot, retired: [] }
      await meta.put(INCARNATION_RECORD, new TextEncoder().encode(JSON.stringify(first)))
      return first
    }
    if (stored.nodeId !== config.nodeId || stored.slot !== config.slot) {
      throw new NodeError(
        'BAD_REQUEST',
        `the data directory ${config.dataDir} belongs to node ${stored.nodeId} with slot ${stored.slot} (replica ${stored.replica}), not node ${config.nodeId} with slot ${config.slot}: start it with --node-id ${stored.nodeId} --slot ${stored.slot}`,
      )
    }
    return stored
  }
  const retired = retiredBy(rejoining.previous, config)
  const next: Incarnation = { nodeId: config.nodeId, replica: `${config.nodeId}~${Date.now().toString(36)}`, slot: config.slot, retired }
  await meta.put(INCARNATION_RECORD, new TextEncoder().encode(JSON.stringify(next)))
  return next
}

/** The incarnations a rejoin retires; throws when `config.slot` is one of theirs. */
function retiredBy(previous: Incarnation | undefined, config: { nodeId: string; slot: number }): Incarnation['retired'] {
  const retired =
    previous === undefined
      ? [{ replica: config.nodeId, slot: undefined }]
      : [...previous.retired, { replica: previous.replica, slot: previous.slot }]
  const used = retired.find((r) => r.slot === config.slot)
  if (used !== undefined)
    throw new NodeError(
      'BAD_REQUEST',
      `--rejoin needs a slot this node never used: slot ${config.slot} was replica ${used.replica}'s; pick a slot no node of the cluster ever used`,
    )
  return retired
}

/**
 * For `serve --rejoin` with the file storage: moves everything in `dataDir` except the lock
 * into `dataDir/damaged-<time>/` (kept for inspection, never read again by the node) and
 * returns the incarnation recorded there. Refuses a slot that incarnation used, and refuses when the update logs are intact: a
 * rejoin discards this node's unreplicated history, so it is only for a damaged or lost
 * data directory. An empty (lost) directory is accepted: its old identity is unknown.
 */
export async function setAside(config: {
  nodeId: string
  slot: number
  dataDir: string
}): Promise<{ previous: Incarnation | undefined; movedTo: string | undefined }> {
  const { dataDir } = config
  const entries = (await readdir(dataDir)).filter((e) => e !== LOCK_FILE && !e.startsWith(DAMAGED_PREFIX))
  if (entries.length === 0) return { previous: undefined, movedTo: undefined }
  if (entries.includes('docs')) {
    const updates = await FileUpdateStore.open({ dir: join(dataDir, 'docs') })
    const damage = await updates.check().finally(() => updates.close())
    if (damage.length === 0)
      throw new NodeError(
        'BAD_REQUEST',
        `--rejoin refused: the update logs in ${dataDir} are intact (rejoining would drop this node's unreplicated history); start without --rejoin`,
      )
  }
  let previous: Incarnation | undefined
  try {
    previous = entries.includes(INCARNATION_RECORD) ? parse(await readFile(join(dataDir, INCARNATION_RECORD))) : undefined
  } catch {
    previous = undefined // damaged too: the old slot is then unknown, core still refuses a claimed one
  }
  retiredBy(previous, config) // before anything moves
  const movedTo = join(dataDir, `${DAMAGED_PREFIX}${new Date().toISOString().replace(/[:.]/g, '-')}`)
  await mkdir(movedTo)
  for (const e of entries) await rename(join(dataDir, e), join(movedTo, e))
  return { previous, movedTo }
}
