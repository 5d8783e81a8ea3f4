import * as Y from 'yjs'
import * as prng from 'lib0/prng'
import { DELIVERY_WINDOW_MS, MAILBOX_LOG, openMailbox, type Mailbox } from '../../src/index.ts'
import { InvariantViolation, ModelClient } from '../../../testkit/src/ModelClient.ts'

/** One replica of the simulation: a node (with slot) or an edge replica. */
export interface SimReplica {
  id: string
  slot: number | undefined
  doc: Y.Doc
  mailbox: Mailbox
  /** Every update this replica produced or integrated, as its durable store would hold. */
  durable: Uint8Array[]
  up: boolean
  /** Node exposures' UIDNEXT must be monotone per node (S5). */
  lastUidNext: number
}

interface Link {
  a: string
  b: string
  up: boolean
  /** Directed queues of update bytes in flight. */
  queues: Map<string, Uint8Array[]>
}

/** Options of a simulated cluster. */
export interface SimOptions {
  nodes: number
  edges: number
  /** Extra stride slots beyond the node count (unused slots are allowed). */
  spareSlots?: number
  seed: number
}

/**
 * A seeded multi-replica simulation in the style of yjs' testHelper: replicas are
 * Y.Docs linked in a mesh that relays updates; links can be cut, delayed, reordered and
 * healed; nodes can crash and restart from their durable updates into a new Y.Doc.
 */
export class SimCluster {
  readonly gen: prng.PRNG
  readonly replicas = new Map<string, SimReplica>()
  readonly links: Link[] = []
  readonly globalUids = new Map<number, string>()
  readonly clients: { client: ModelClient; node: string; roaming: boolean }[] = []
  readonly appended = new Set<string>()
  readonly expunged = new Set<string>()
  /** guid -> delivery key of every copy appended with one. */
  readonly delivered = new Map<string, string>()
  readonly stride: number
  private clock = 1_700_000_000_000
  log: string[] = []

  constructor(readonly opts: SimOptions) {
    this.gen = prng.create(opts.seed)
    this.stride = opts.nodes + (opts.spareSlots ?? 0)
    for (let i = 0; i < opts.nodes; i++) this.addReplica(`N${i}`, i)
    for (let i = 0; i < opts.edges; i++) this.addReplica(`E${i}`, undefined)
    const nodes = this.nodeIds()
    for (let i = 0; i < nodes.length; i++) for (let j = i + 1; j < nodes.length; j++) this.addLink(nodes[i]!, nodes[j]!)
    for (let i = 0; i < opts.edges; i++) this.addLink(`E${i}`, nodes[prng.uint32(this.gen, 0, nodes.length - 1)]!)
    // A new connection starts with sync step 1/2, as y-websocket does.
    for (const l of this.links) this.heal(l)
  }

  nodeIds(): string[] {
    return [...this.replicas.values()].filter((r) => r.slot !== undefined).map((r) => r.id)
  }

  edgeIds(): string[] {
    return [...this.replicas.values()].filter((r) => r.slot === undefined).map((r) => r.id)
  }

  private now = () => (this.clock += prng.uint32(this.gen, 0, 3))

  /** Moves the shared wall clock forward (deliveries further apart than the window). */
  advanceClock(ms: number): void {
    this.clock += ms
  }
  private randomBytes = (n: number) => {
    const out = new Uint8Array(n)
    for (let i = 0; i < n; i++) out[i] = prng.uint32(this.gen, 0, 255)
    return out
  }

  private newDoc(): Y.Doc {
    const doc = new Y.Doc({ gc: true })
    doc.clientID = prng.uint32(this.gen, 1, 0x7fffffff)
    return doc
  }

  private addReplica(id: string, slot: number | undefined): void {
    const doc = this.newDoc()
    const r: SimReplica = { id, slot, doc, mailbox: undefined as unknown as Mailbox, durable: [], up: true, lastUidNext: 0 }
    this.replicas.set(id, r)
    this.wire(r)
    r.mailbox = openMailbox(doc, {
      replica: id,
      slot,
      stride: this.stride,
      uidValidity: 4242,
      create: slot !== undefined,
      now: this.now,
      randomBytes: this.randomBytes,
    })
  }

  /** Durable-before-send: every update is stored, then relayed on each live link but its source. */
  private wire(r: SimReplica): void {
    r.doc.on('update', (update: Uint8Array, origin: unknown) => {
      r.durable.push(update)
      if (r.durable.length > 64) r.durable = [Y.mergeUpdates(r.durable)]
      for (const l of this.links) {
        if (!l.up || (l.a !== r.id && l.b !== r.id)) continue
        const peer = l.a === r.id ? l.b : l.a
        if (peer === origin) continue
        l.queues.get(peer)!.push(update)
      }
    })
  }

  private addLink(a: string, b: string): void {
    this.links.push({
      a,
      b,
      up: true,
      queues: new Map([
        [a, []],
        [b, []],
      ]),
    })
  }

  link(a: string, b: string): Link | undefined {
    return this.links.find((l) => (l.a === a && l.b === b) || (l.a === b && l.b === a))
  }

  /** Cuts a link: in-flight updates are lost (the socket dies). */
  cut(l: Link): void {
    l.up = false
    for (const q of l.queues.values()) q.length = 0
  }

  /** Restores a link: both sides exchange what the other misses (y-protocols step 1/2). */
  heal(l: Link): void {
    const A = this.replicas.get(l.a)!
    const B = this.replicas.get(l.b)!
    if (!A.up || !B.up) return
    l.up = true
    l.queues.get(l.b)!.push(Y.encodeStateAsUpdate(A.doc, Y.encodeStateVector(B.doc)))
    l.queues.get(l.a)!.push(Y.encodeStateAsUpdate(B.doc, Y.encodeStateVector(A.doc)))
  }

  /** Delivers one in-flight update (sometimes not the oldest: reordering). Returns false when idle. */
  deliverOne(reorder = true): boolean {
    const busy: [Link, string][] = []
    for (const l of this.links) for (const [to, q] of l.queues) if (q.length > 0) busy.push([l, to])
    if (busy.length === 0) return false
    const [l, to] = busy[prng.uint32(this.gen, 0, busy.length - 1)]!
    const q = l.queues.get(to)!
    const i =
      reorder && q.length > 1 && prng.bool(this.gen) && prng.uint32(this.gen, 0, 4) === 0 ? prng.uint32(this.gen, 1, q.length - 1) : 0
    const [u] = q.splice(i, 1)
    const from = l.a === to ? l.b : l.a
    Y.applyUpdate(this.replicas.get(to)!.doc, u!, from)
    return true
  }

  /** Delivers until every queue is empty (bounded). */
  deliverAll(reorder = false): void {
    for (let i = 0; i < 1_000_000 && this.deliverOne(reorder); i++);
  }

  /** Crashes a replica and restarts it from its durable updates into a new Y.Doc. */
  crashRestart(id: string): void {
    const r = this.replicas.get(id)!
    r.mailbox.destroy()
    r.doc.destroy()
    for (const l of this.links) if (l.a === id || l.b === id) for (const q of l.queues.values()) q.length = 0
    const doc = this.newDoc()
    const saved = Y.mergeUpdates(r.durable)
    r.doc = doc
    r.durable = []
    this.wire(r)
    Y.applyUpdate(doc, saved, 'disk')
    r.mailbox = openMailbox(doc, {
      replica: id,
      slot: r.slot,
      stride: this.stride,
      uidValidity: 4242,
      create: r.slot !== undefined,
      now: this.now,
      randomBytes: this.randomBytes,
    })
    for (const l of this.links) if ((l.a === id || l.b === id) && l.up) this.heal(l)
  }

  addClient(name: string, node: string, roaming = false): ModelClient {
    const client = new ModelClient(name, this.globalUids)
    this.clients.push({ client, node, roaming })
    return client
  }

  /** A client sync: the node exposes (rule 5), the model client checks S1..S5 and C3 (docs/protocol.md). */
  syncClient(c: { client: ModelClient; node: string }, fastPath = false): void {
    const r = this.replicas.get(c.node)!
    let view
    if (fastPath) {
      const res = r.mailbox.reserve()
      this.deliverAll()
      view = r.mailbox.expose({ below: res })
    } else view = r.mailbox.expose()
    if (view.uidNext < r.lastUidNext)
      throw new InvariantViolation('S5', `node ${r.id} UIDNEXT went back ${r.lastUidNext} -> ${view.uidNext}`)
    r.lastUidNext = view.uidNext
    const before = c.client.duplicates.length
    c.client.sync(view)
    for (const [guid, oldUid] of c.client.duplicates.slice(before)) {
      const info = r.mailbox.message(guid)!
      const old = info.bindings.find((b) => b.uid === oldUid)
      if (old === undefined || old.valid || old.seenBy.length === 0) {
        throw new InvariantViolation(
          'C3',
          `client ${c.client.name} re-downloaded ${guid} (${oldUid} -> ${info.uid}) without a duplicate-on-seen fixup`,
        )
      }
    }
  }

  /** S1 at every replica: no uid bound to two guids. */
  checkReplicas(): void {
    for (const r of this.replicas.values()) {
      const conflicts = r.mailbox.inspect().bindings.filter((b) => b.conflicted)
      if (conflicts.length > 0) throw new InvariantViolation('S1', `replica ${r.id}: uid ${conflicts[0]!.uid} bound to two guids`)
    }
  }

  /** Heals everything and runs fixup/exposure rounds until nothing is stranded anywhere. */
  healAll(): void {
    for (const l of this.links) if (!l.up) this.heal(l)
    for (let round = 0; round < 20; round++) {
      this.deliverAll()
      let fixed = 0
      for (const id of this.nodeIds()) fixed += this.replicas.get(id)!.mailbox.fixup()
      this.deliverAll()
      if (fixed === 0) return
    }
    throw new Error('fixups did not settle after 20 rounds')
  }

  /**
   * The delivery rule restated as a reference: a copy is superseded when another copy with
   * its key is earlier by (append ms, counter, guid) and at most DELIVERY_WINDOW_MS before it.
   * Read from N0's facts (after the final heal every replica holds them all).
   */
  supersededByOracle(): Set<string> {
    const stamp = new Map<string, [number, number]>()
    for (const f of this.replicas.get('N0')!.doc.getArray<unknown[]>(MAILBOX_LOG).toArray()) {
      if (Array.isArray(f) && f[0] === 'm' && this.delivered.has(f[1] as string))
        stamp.set(f[1] as string, [f[6] as number, f[7] as number])
    }
    const out = new Set<string>()
    for (const [g, key] of this.delivered) {
      const [ms, c] = stamp.get(g)!
      for (const [h, k2] of this.delivered) {
        if (h === g || k2 !== key) continue
        const [ms2, c2] = stamp.get(h)!
        const earlier = ms2 < ms || (ms2 === ms && (c2 < c || (c2 === c && h < g)))
        if (earlier && ms - ms2 <= DELIVERY_WINDOW_MS) out.add(g)
      }
    }
    return out
  }

  /**
   * After the final heal, each delivery key shows exactly one live copy per window of
   * deliveries (none when the user expunged the copy that stays), at every node.
   */
  checkDeliveries(superseded: Set<string>): void {
    const winners = new Map<string, string[]>()
    for (const [g, key] of this.delivered) if (!superseded.has(g)) winners.set(key, [...(winners.get(key) ?? []), g])
    for (const id of this.nodeIds()) {
      const shown = new Map<string, number>()
      for (const m of this.replicas.get(id)!.mailbox.view().messages) {
        const key = this.delivered.get(m.guid)
        if (key !== undefined) shown.set(key, (shown.get(key) ?? 0) + 1)
      }
      for (const [key, ws] of winners) {
        const want = ws.filter((g) => !this.expunged.has(g)).length
        if ((shown.get(key) ?? 0) !== want)
          throw new InvariantViolation(
            'C2',
            `node ${id}: delivery key ${key.slice(0, 12)} shows ${shown.get(key) ?? 0} live copies, want ${want}`,
          )
      }
    }
  }

  /** C1 + C2 after the final heal; every client syncs again and must hold every live message. */
  checkConvergence(): void {
    const superseded = this.supersededByOracle()
    this.checkDeliveries(superseded)
    const live = new Set([...this.appended].filter((g) => !this.expunged.has(g) && !superseded.has(g)))
    let reference: string | undefined
    for (const id of this.nodeIds()) {
      const v = this.replicas.get(id)!.mailbox.view()
      const repr = JSON.stringify(v.messages.map((m) => [m.uid, m.guid, m.flags]))
      if (reference === undefined) reference = repr
      else if (repr !== reference) throw new InvariantViolation('C1', `node ${id} view differs from N0`)
      const guids = v.messages.map((m) => m.guid)
      if (new Set(guids).size !== guids.length) throw new InvariantViolation('C2', `node ${id} shows a guid twice`)
      for (const g of live) if (!guids.includes(g)) throw new InvariantViolation('C2', `node ${id} lost ${g}`)
      for (const g of guids) if (!live.has(g)) throw new InvariantViolation('C2', `node ${id} shows ${g}, which is expunged or unknown`)
    }
    for (const c of this.clients) {
      this.syncClient(c)
      const held = c.client.guids()
      for (const g of live) if (!held.has(g)) throw new InvariantViolation('C2', `client ${c.client.name} misses ${g}`)
    }
  }

  /** The incremental index equals a from-scratch load of the same document. */
  checkIndexAgainstReload(id: string): void {
    const r = this.replicas.get(id)!
    const copy = new Y.Doc()
    Y.applyUpdate(copy, Y.encodeStateAsUpdate(r.doc))
    const fresh = openMailbox(copy, { replica: `${id}-check`, stride: this.stride, create: false })
    const a = JSON.stringify(r.mailbox.view().messages)
    const b = JSON.stringify(fresh.view().messages)
    fresh.destroy()
    copy.destroy()
    if (a !== b) throw new Error(`replica ${id}: incremental view differs from a reload\n${a}\n${b}`)
  }

  pick<T>(xs: readonly T[]): T {
    return xs[prng.uint32(this.gen, 0, xs.length - 1)]!
  }

  destroy(): void {
    for (const r of this.replicas.values()) {
      r.mailbox.destroy()
      r.doc.destroy()
    }
  }
}

/** A small RFC 5322 message. */
export function rawMessage(n: number | string): Uint8Array {
  return new TextEncoder().encode(`From: sim@example.org\r\nSubject: message ${n}\r\nMessage-ID: <${n}@sim>\r\n\r\nbody ${n}\r\n`)
}
