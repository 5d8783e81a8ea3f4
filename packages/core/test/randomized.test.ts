import { afterAll, describe, expect, it } from 'vitest'
import { runSchedule } from './helpers/runSchedule.ts'

/**
 * The backbone: seeded random schedules over 3 nodes and 1 edge replica with appends,
 * flags, expunges, client syncs (plain and fast-path), partitions, heals, delayed and
 * reordered relayed updates, crash-restarts, and duplicate deliveries of one message to
 * several nodes. S1..S5 and C3 are checked on every client sync, C1..C2 and "one live copy
 * per delivery key" after the final heal. Replay one schedule with
 * MAILWEAVE_SEED=<seed>; run more with MAILWEAVE_SCHEDULES=<n> (pnpm test:extensive: 10,000).
 */
const SCHEDULES = Number(process.env.MAILWEAVE_SCHEDULES ?? 300)
const BASE_SEED = Number(process.env.MAILWEAVE_SEED ?? 0) || Math.floor(Math.random() * 0x7fffffff)
const REPLAY = process.env.MAILWEAVE_SEED !== undefined && process.env.MAILWEAVE_SCHEDULES === undefined
const COUNT = REPLAY ? 1 : SCHEDULES
const CHUNK = 250

describe(`randomized multi-replica schedules (seed ${BASE_SEED})`, () => {
  let fixups = 0
  let duplicates = 0
  let deliveries = 0
  let superseded = 0
  let done = 0
  for (let start = 0; start < COUNT; start += CHUNK) {
    const end = Math.min(COUNT, start + CHUNK)
    it(`schedules ${start + 1}..${end} keep S1..S5, C1..C3`, () => {
      for (let i = start; i < end; i++) {
        const seed = BASE_SEED + i
        try {
          const r = runSchedule(seed, 120 + (seed % 5) * 40)
          fixups += r.fixups
          duplicates += r.duplicates
          deliveries += r.deliveries
          superseded += r.superseded
        } catch (e) {
          console.error(`schedule failed: replay with MAILWEAVE_SEED=${seed}`)
          throw e
        }
        done++
      }
    }, 120_000)
  }
  afterAll(() => {
    console.log(
      `${done}/${COUNT} schedules from seed ${BASE_SEED} passed: ${fixups} fixups, ${duplicates} client re-downloads (duplicate-on-seen), ${deliveries} deliveries of which ${superseded} were copies the delivery rule merged`,
    )
  })
  it('the schedules exercised the repair path (fixups happened)', () => {
    // Otherwise they would prove nothing about rule 4.
    if (COUNT >= 50) expect(fixups).toBeGreaterThan(0)
  })
  it('the schedules delivered messages twice and merged the copies', () => {
    // Otherwise they would prove nothing about the delivery rule.
    if (COUNT >= 50) expect(superseded).toBeGreaterThan(0)
  })
})
