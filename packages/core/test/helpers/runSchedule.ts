import * as prng from 'lib0/prng'
import { DELIVERY_WINDOW_MS, deliveryKey } from '../../src/index.ts'
import { SimCluster, rawMessage } from './SimCluster.ts'

/** Result of one random schedule. */
export interface ScheduleResult {
  fixups: number
  duplicates: number
  /** Copies appended with a delivery key, and how many of them the delivery rule superseded. */
  deliveries: number
  superseded: number
}

/**
 * Runs one seeded random schedule: 3 nodes, 1 edge replica, appends, flags, expunges,
 * client syncs (plain and fast-path), partitions, heals, delayed and reordered relayed
 * updates, crash-restarts, and duplicate deliveries (one message delivered with its delivery
 * key to several nodes, partitioned or not, sometimes further apart than the window, beside
 * the same bytes appended by a user without a key and the same message for another
 * recipient); then the final heal, C1..C2, and one live copy per delivery. Throws InvariantViolation.
 * `onFail` may inspect the cluster before it is destroyed.
 */
export function runSchedule(seed: number, steps: number, onFail?: (sim: SimCluster) => void): ScheduleResult {
  const sim = new SimCluster({ nodes: 3, edges: 1, seed })
  const g = sim.gen
  try {
    for (const id of sim.nodeIds()) sim.addClient(`${id}-c0`, id)
    for (const id of sim.nodeIds()) if (prng.bool(g)) sim.addClient(`${id}-c1`, id)
    let n = 0
    const pool: { raw: Uint8Array; key: string }[] = []
    for (let step = 0; step < steps; step++) {
      const roll = prng.uint32(g, 0, 99)
      if (roll < 8) {
        // an MTA delivery: a new message, the same one again (retry, failover) to any node,
        // the same one for another recipient, or the same bytes APPENDed by a user (no key)
        const kind = pool.length === 0 ? 0 : prng.uint32(g, 0, 9)
        if (kind <= 2) {
          const raw = rawMessage(`${seed}-d${n++}`)
          pool.push({ raw, key: deliveryKey(raw, 'alice@sim')! })
        } else if (kind === 3) {
          const { raw } = sim.pick(pool)
          pool.push({ raw, key: deliveryKey(raw, 'bob@sim')! })
        } else if (kind === 4 && prng.uint32(g, 0, 3) === 0) {
          sim.advanceClock(Math.floor(DELIVERY_WINDOW_MS * (0.5 + prng.real53(g))))
        }
        if (kind === 5) {
          const r = sim.replicas.get(sim.pick([...sim.replicas.keys()]))!
          sim.appended.add(r.mailbox.append(sim.pick(pool).raw))
        } else {
          const d = kind <= 3 ? pool[pool.length - 1]! : sim.pick(pool)
          const r = sim.replicas.get(sim.pick(sim.nodeIds()))!
          const guid = r.mailbox.append(d.raw, { delivery: d.key })
          sim.appended.add(guid)
          sim.delivered.set(guid, d.key)
        }
      } else if (roll < 28) {
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
    const superseded = sim.supersededByOracle().size
    for (const id of sim.replicas.keys()) sim.checkIndexAgainstReload(id)
    let fixups = 0
    for (const id of sim.nodeIds()) {
      const s = sim.replicas.get(id)!.mailbox.stats
      fixups += s.fixupsSilent + s.fixupsDuplicate
    }
    return {
      fixups,
      duplicates: sim.clients.reduce((a, c) => a + c.client.duplicates.length, 0),
      deliveries: sim.delivered.size,
      superseded,
    }
  } catch (e) {
    onFail?.(sim)
    throw e
  } finally {
    sim.destroy()
  }
}
