import * as prng from 'lib0/prng'
import { SimCluster, rawMessage } from './SimCluster.ts'

/** Result of one random schedule. */
export interface ScheduleResult {
  fixups: number
  duplicates: number
}

/**
 * Runs one seeded random schedule: 3 nodes, 1 edge replica, appends, flags, expunges,
 * client syncs (plain and fast-path), partitions, heals, delayed and reordered relayed
 * updates, crash-restarts; then the final heal and C1..C2. Throws InvariantViolation.
 * `onFail` may inspect the cluster before it is destroyed.
 */
export function runSchedule(seed: number, steps: number, onFail?: (sim: SimCluster) => void): ScheduleResult {
  const sim = new SimCluster({ nodes: 3, edges: 1, seed })
  const g = sim.gen
  try {
    for (const id of sim.nodeIds()) sim.addClient(`${id}-c0`, id)
    for (const id of sim.nodeIds()) if (prng.bool(g)) sim.addClient(`${id}-c1`, id)
    let n = 0
    for (let step = 0; step < steps; step++) {
      const roll = prng.uint32(g, 0, 99)
      if (roll < 28) {
        const r = sim.replicas.get(sim.pick([...sim.replicas.keys()]))!
        const flags = prng.uint32(g, 0, 3) === 0 ? ['\\Seen'] : []
        sim.appended.add(r.mailbox.append(rawMessage(`${seed}-${n++}`), { flags }))
      } else if (roll < 36) {
        const r = sim.replicas.get(sim.pick([...sim.replicas.keys()]))!
        const known = r.mailbox.view().messages
        if (known.length > 0) {
          const m = sim.pick(known)
          const flag = sim.pick(['\\Seen', '\\Flagged', '\\Answered', '$Label1'])
          r.mailbox.setFlags(m.guid, prng.bool(g) ? { add: [flag] } : { remove: [flag] })
        }
      } else if (roll < 40) {
        const r = sim.replicas.get(sim.pick([...sim.replicas.keys()]))!
        const known = r.mailbox.view().messages
        if (known.length > 0) {
          const m = sim.pick(known)
          r.mailbox.expunge([m.guid])
          sim.expunged.add(m.guid)
        }
      } else if (roll < 60) {
        const c = sim.pick(sim.clients)
        sim.syncClient(c, prng.uint32(g, 0, 3) === 0)
      } else if (roll < 82) {
        for (let k = prng.uint32(g, 1, 6); k > 0; k--) sim.deliverOne()
      } else if (roll < 88) {
        sim.cut(sim.pick(sim.links))
      } else if (roll < 95) {
        const down = sim.links.filter((l) => !l.up)
        if (down.length > 0) sim.heal(sim.pick(down))
      } else if (roll < 97) {
        sim.crashRestart(sim.pick(sim.nodeIds()))
      } else {
        sim.checkIndexAgainstReload(sim.pick([...sim.replicas.keys()]))
      }
      if (step % 16 === 0) sim.checkReplicas()
    }
    sim.healAll()
    sim.checkReplicas()
    sim.checkConvergence()
    for (const id of sim.replicas.keys()) sim.checkIndexAgainstReload(id)
    let fixups = 0
    for (const id of sim.nodeIds()) {
      const s = sim.replicas.get(id)!.mailbox.stats
      fixups += s.fixupsSilent + s.fixupsDuplicate
    }
    return { fixups, duplicates: sim.clients.reduce((a, c) => a + c.client.duplicates.length, 0) }
  } catch (e) {
    onFail?.(sim)
    throw e
  } finally {
    sim.destroy()
  }
}

