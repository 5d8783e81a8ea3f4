/**
 * A structure-aware fuzzer of what an edge replica (a logged-in browser) may send: random
 * valid and mutated Yjs updates of every content type, client id, parent and fact kind,
 * judged by checkEdgeUpdate as a node does. Each update is either refused, or applied and
 * then every node must stay healthy: APPEND (append + expose) shows the new message, FETCH
 * (message metadata) and STORE (setFlags) work, every fact parses, clients' S1..S5 checks
 * hold, a restart (a fresh load of the document) shows the same view, acknowledged
 * messages stay (unless an edge expunged them), and after a final sync the nodes converge.
 * Seeded: replay with MAILWEAVE_EDGE_FUZZ_SEED=<seed>; MAILWEAVE_EDGE_FUZZ_COUNT=<n> runs
 * more updates (pnpm test:extensive runs 10,000).
 */
import * as Y from 'yjs'
import * as prng from 'lib0/prng'
import { describe, expect, it } from 'vitest'
import {
  ACCOUNT_LOG,
  checkEdgeUpdate,
  edgeClientId,
  MAILBOX_LOG,
  nodeClientId,
  openMailbox,
  type EdgeUpdateContext,
  type Mailbox,
} from '../src/index.ts'
import { SEGMENTS } from '../src/Mailbox.ts'
import { parseFact } from '../src/facts.ts'
import { ModelClient } from '../../testkit/src/ModelClient.ts'
import { diff, foreignContents, writeRawItem } from './helpers/rawItems.ts'
import { rawMessage } from './helpers/SimCluster.ts'

const SEED = Number(process.env.MAILWEAVE_EDGE_FUZZ_SEED ?? 0) || Math.floor(Math.random() * 0x7fffffff)
const COUNT = Number(process.env.MAILWEAVE_EDGE_FUZZ_COUNT ?? 250)
/** Updates per cluster: a fresh pair of nodes after this many keeps a run linear in COUNT. */
const PER_WORLD = 40

function docWith(client: number, from?: Y.Doc): Y.Doc {
  const d = new Y.Doc()
  d.clientID = client
  if (from !== undefined) Y.applyUpdate(d, Y.encodeStateAsUpdate(from))
  return d
}

const hex = (g: prng.PRNG, n: number) => Array.from({ length: n }, () => '0123456789abcdef'[prng.int32(g, 0, 15)]).join('')
const FLAGS = ['\\Seen', '\\Flagged', '\\Deleted', '$Junk', 'bad flag', '\\Recent', '']
const NUMBERS = [0, 1, 2, 7, 1000, 0xffffffff, 2 ** 32, -1, 1.5, Date.UTC(2100, 0, 1), Number.MAX_SAFE_INTEGER, 1e300]

/** The node context for one fuzz run: two nodes, their clients, what was acknowledged. */
class World {
  A: Mailbox
  B: Mailbox
  readonly shown = new Map<number, string>()
  readonly clientA = new ModelClient('a', this.shown)
  readonly clientB = new ModelClient('b', this.shown)
  readonly acked = new Set<string>()
  constructor() {
    this.A = openMailbox(docWith(nodeClientId()), { replica: 'A', slot: 0, stride: 2, uidValidity: 77 })
    this.B = openMailbox(docWith(nodeClientId()), { replica: 'B', slot: 1, stride: 2, create: false })
    this.syncNodes()
  }
  syncNodes(): void {
    Y.applyUpdate(this.B.doc, diff(this.A.doc, this.B.doc))
    Y.applyUpdate(this.A.doc, diff(this.B.doc, this.A.doc))
  }
  guids(): string[] {
    return [...this.acked]
  }
}

/** One random fact: valid edge facts, node-only facts, and mutations of both. */
function randomFact(g: prng.PRNG, w: World): unknown {
  const known = w.guids()
  const guid = known.length > 0 && prng.bool(g) ? prng.oneOf(g, known) : hex(g, 32)
  const num = () => prng.oneOf(g, NUMBERS)
  const ms = () => (prng.bool(g) ? Date.now() + prng.int32(g, -1000, 1000) : num())
  const header = () => prng.oneOf(g, [{}, { subject: 'hi' }, { subject: 42 }, { other: 'x' }, [], null])
  const facts: (() => unknown)[] = [
    () => [
      'm',
      prng.bool(g) ? hex(g, 32) : guid,
      'edge',
      hex(g, 64),
      prng.int32(g, 0, 1000),
      Date.now(),
      ms(),
      prng.oneOf(g, [0, 1, 0xffffffff]),
      prng.bool(g) ? [] : [prng.oneOf(g, FLAGS)],
      header(),
    ],
    () => ['m', hex(g, 32), 'edge', hex(g, 64), 5, 0, ms(), 0, [], {}, 'k'.repeat(64)],
    () => ['f', guid, prng.oneOf(g, FLAGS), prng.oneOf(g, [0, 1, 2]), ms(), prng.oneOf(g, [0, 1, 0xffffffff, 2 ** 32]), 'edge'],
    () => ['x', guid, 'edge'],
    () => ['b', num(), guid, prng.oneOf(g, ['A', 'B', 'edge'])],
    () => ['e', prng.oneOf(g, ['A', 'B', 'X']), 0, num(), []],
    () => ['r', prng.oneOf(g, ['A', 'B', 'X']), num()],
    () => ['c', prng.int32(g, 0, 3), prng.oneOf(g, ['A', 'X'])],
    () => ['v', 1, num(), prng.int32(g, 1, 3), 'X'],
    () => ['mb', prng.oneOf(g, [hex(g, 24), '../../x', 'INBOX']), prng.oneOf(g, ['Work', 42, 'INBOX', '']), num(), ms(), 'edge'],
    () => ['sub', prng.oneOf(g, ['Work', 42]), 1, ms(), 'edge'],
    () => prng.oneOf(g, [42, 'm', null, {}, [], ['m'], ['z', 1]]),
  ]
  return prng.oneOf(g, facts)()
}

/** Builds one update an edge replica synced with node A could send. */
function randomUpdate(g: prng.PRNG, w: World): Uint8Array {
  const E = docWith(edgeClientId(), w.A.doc)
  const ops = prng.int32(g, 1, 4)
  // four in ten updates are what a real browser sends; the rest mix in forged structs
  const genuine = prng.int32(g, 0, 9) < 4
  for (let i = 0; i < ops; i++) {
    const kind = prng.int32(g, 0, genuine ? 2 : 9)
    if (kind <= 2) {
      // what a real browser writes, through the edge replica API
      let edge: Mailbox
      try {
        edge = openMailbox(E, { replica: 'edge', stride: 2, create: false })
      } catch {
        continue // an earlier raw op of this update forged a config: the browser would refuse to open it
      }
      const known = edge.view().messages.map((m) => m.guid)
      if (kind === 0 || known.length === 0)
        edge.append(rawMessage(`edge ${prng.uint32(g, 0, 0x7fffffff)}`), prng.bool(g) ? { flags: ['\\Seen'] } : {})
      else if (kind === 1) edge.setFlags(prng.oneOf(g, known), { add: [prng.oneOf(g, ['\\Seen', '\\Flagged'])] })
      else edge.expunge([prng.oneOf(g, known)])
      edge.destroy()
      continue
    }
    const client = prng.oneOf(g, [E.clientID, E.clientID, edgeClientId(), w.A.doc.clientID, w.B.doc.clientID, nodeClientId()])
    const root = prng.oneOf(g, [MAILBOX_LOG, MAILBOX_LOG, MAILBOX_LOG, SEGMENTS, ACCOUNT_LOG, 'elsewhere'])
    const fact = randomFact(g, w)
    if (kind === 9 && E.getArray(MAILBOX_LOG).length > 0) {
      E.getArray(MAILBOX_LOG).delete(prng.int32(g, 0, E.getArray(MAILBOX_LOG).length - 1), 1)
      continue
    }
    const content =
      kind <= 6
        ? new Y.ContentAny(root === SEGMENTS && prng.bool(g) ? [0] : [fact])
        : prng.oneOf(g, foreignContents(fact as unknown[]))[1]()
    writeRawItem(E, root, content, { client, parentSub: prng.int32(g, 0, 15) === 0 ? 'key' : undefined })
  }
  let update = diff(E, w.A.doc)
  // byte-level mutations of a structurally built update
  const mutation = genuine ? 9 : prng.int32(g, 0, 9)
  if (mutation === 0 && update.length > 0) {
    update = update.slice()
    const at = prng.int32(g, 0, update.length - 1)
    update[at] = update[at]! ^ (1 << prng.int32(g, 0, 7))
  } else if (mutation === 1) update = update.slice(0, prng.int32(g, 0, update.length))
  else if (mutation === 2) update = Y.mergeUpdates([update, diff(docWith(edgeClientId(), w.A.doc), w.A.doc)])
  return update
}

function checkHealthy(w: World, g: prng.PRNG, step: number): void {
  const where = `seed ${SEED} step ${step}`
  const A = w.A
  // APPEND: bound at once and shown
  const guid = A.append(rawMessage(`node ${step}`))
  const v = A.expose()
  w.clientA.sync(v)
  w.acked.add(guid)
  const shown = v.messages.find((m) => m.guid === guid)
  expect(shown, `${where}: APPEND not shown`).toBeDefined()
  // FETCH and STORE
  expect(A.message(guid)?.uid, where).toBe(shown!.uid)
  A.setFlags(guid, { add: ['\\Flagged'] })
  expect(A.view().messages.find((m) => m.guid === guid)?.flags, where).toContain('\\Flagged')
  const st = A.inspect()
  expect(st.malformedFacts, `${where}: a malformed fact got in`).toBe(0)
  expect(
    st.bindings.filter((b) => b.conflicted),
    `${where}: S1`,
  ).toEqual([])
  // the other node follows
  w.syncNodes()
  w.clientB.sync(w.B.expose())
  w.syncNodes()
  // acknowledged messages stay unless an edge expunged them
  for (const g2 of w.acked) {
    const info = A.message(g2)
    expect(info, `${where}: acknowledged ${g2} lost`).toBeDefined()
    if (!info!.expunged) expect(info!.uid, `${where}: acknowledged ${g2} has no UID`).toBeDefined()
  }
  // restart: a fresh load of A's document shows the same view, and A goes on in it
  if (prng.int32(g, 0, 9) === 0) {
    const reloaded = openMailbox(docWith(nodeClientId(), A.doc), { replica: 'A', slot: 0, stride: 2 })
    expect(reloaded.view().messages, `${where}: reload differs`).toEqual(A.view().messages)
    for (const f of reloaded.doc.getArray(MAILBOX_LOG).toArray()) expect(parseFact(f), `${where}: ${JSON.stringify(f)}`).toBeDefined()
    A.destroy()
    w.A = reloaded
  }
}

describe(`edge-update fuzzer (seed ${SEED}, ${COUNT} updates)`, () => {
  it('every edge update is refused, or leaves every node healthy and S1..S5 intact', () => {
    const g = prng.create(SEED)
    let w = new World()
    let accepted = 0
    let step = 0
    try {
      for (step = 0; step < COUNT; step++) {
        if (step > 0 && step % PER_WORLD === 0) {
          w.syncNodes()
          expect(w.B.view().messages).toEqual(w.A.view().messages) // C1
          w = new World()
        }
        const update = randomUpdate(g, w)
        const ctxGuids = new Set<string>()
        for (const f of w.A.doc.getArray(MAILBOX_LOG).toArray())
          if (Array.isArray(f) && (f[0] === 'm' || f[0] === 'b')) ctxGuids.add(String(f[f[0] === 'm' ? 1 : 2]))
        const ctx: EdgeUpdateContext = { doc: w.A.doc, kind: 'mailbox', knowsGuid: (x) => ctxGuids.has(x) }
        if (checkEdgeUpdate(update, ctx) === undefined) {
          accepted++
          Y.applyUpdate(w.A.doc, update)
        }
        checkHealthy(w, g, step)
      }
      w.syncNodes()
      expect(w.B.view().messages).toEqual(w.A.view().messages) // C1
    } catch (e) {
      console.error(`edge fuzzer failed at step ${step}: replay with MAILWEAVE_EDGE_FUZZ_SEED=${SEED}`)
      throw e
    }
    console.log(`edge fuzzer seed ${SEED}: ${COUNT} updates, ${accepted} accepted, ${COUNT - accepted} refused`)
    expect(accepted).toBeGreaterThan(0)
    expect(accepted).toBeLessThan(COUNT)
  })
})
