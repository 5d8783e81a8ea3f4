/**
 * `pnpm compare dovecot`: the same split-brain on (a) two Dovecot instances replicated by
 * `doveadm sync` (dsync over a local pipe) and (b) a two-region mailweave cluster whose
 * peer link passes through a fault proxy. One imapflow client per side; both sides take
 * appends while partitioned; then heal; then everybody syncs again. mbsync pulls side A
 * into a local Maildir before the partition and after the heal. Prints what the clients
 * and mbsync saw, side by side, and writes .data/compare/compare-dovecot.json (with --save:
 * bench/results/compare-dovecot.json, the tracked copy the docs cite; a plain run changes no
 * tracked file). Needs Dovecot (Debian: dovecot-imapd) and mbsync (isync).
 *
 * During the partition an MTA also delivers COMPARE_DELIVERIES messages (default 3) to
 * both sides, as a failover or a retry does: Dovecot through its delivery agent
 * (dovecot-lda), mailweave through LMTP (swaks). Dovecot keeps both copies on each side
 * after the heal (`doveadm sync` matches by its own GUID, and each delivery has a new one);
 * mailweave's delivery rule keeps one (docs/protocol.md, "One message, one copy").
 *
 * Dovecot runs once per doveadm sync mode (COMPARE_DOVEADM_MODES, default
 * "fast,stateful": doveadm's default, and `-s` as its replicator does; "full" = `-f`).
 * COMPARE_MESSAGES (per side, during the partition; default 20) and COMPARE_ROUNDS
 * (client syncs during the partition; default 4) change the scenario.
 */
import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ImapFlow } from 'imapflow'
import { ModelClient, waitFor, type ExposureLike } from '@mailweave/testkit'
import { Dovecot, doveadmSync, requireDovecot } from '../bench/lib/dovecot.ts'
import { imapflowView, writeMbsyncrc } from './lib/imapClients.ts'
import { swaksLmtp } from './lib/swaksLmtp.ts'
import { ProcessCluster } from '@mailweave/testkit-cluster'

const system = process.argv[2]
const save = process.argv.slice(3).includes('--save')
if (system !== 'dovecot' || process.argv.slice(3).some((a) => a !== '--save')) {
  const why =
    system === 'dovecot'
      ? `unknown option; the only one is --save`
      : `${system === undefined ? 'no system given' : `unknown system "${system}"`}; the only one is "dovecot"`
  process.stderr.write(`usage: pnpm compare dovecot [--save]\n(${why})\n`)
  process.exit(2)
}
const bins = requireDovecot('pnpm compare dovecot')

const PER_SIDE = Number(process.env.COMPARE_MESSAGES ?? 20)
const DELIVERIES = Math.max(0, Number(process.env.COMPARE_DELIVERIES ?? 3))
const ROUNDS = Math.max(1, Math.min(PER_SIDE, Number(process.env.COMPARE_ROUNDS ?? 4)))
const BEFORE = 4
const USER = 'erin'
const PASS = 'compare-pass-1'
const CONVERGE_TIMEOUT_MS = 60_000
const MODES = (process.env.COMPARE_DOVEADM_MODES ?? 'fast,stateful')
  .split(',')
  .map((m) => m.trim())
  .filter((m): m is 'fast' | 'full' | 'stateful' => m === 'fast' || m === 'full' || m === 'stateful')
const progress = (m: string) => process.stderr.write(`[compare] ${m}\n`)
const raw = (id: string) =>
  `From: compare@example.org\r\nTo: ${USER}@example.org\r\nSubject: ${id}\r\nDate: ${new Date().toUTCString().replace('GMT', '+0000')}\r\nMessage-ID: <${id}>\r\n\r\nbody of ${id}\r\n`
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * What a client experienced, recorded rather than thrown (Dovecot is expected to break
 * some of the protocol's promises): the checks of ModelClient, per UIDVALIDITY; every
 * new (UIDVALIDITY, UID) at which it is shown a Message-ID it already had is a re-download.
 */
class Observer {
  cache = new Map<number, string>()
  uidNext = 0
  uidValidity = 0
  syncs = 0
  uidValidityChanges = 0
  reDownloads = 0
  /** Broken promises, each counted once (a client sees the same one on every sync). */
  readonly violations = new Map<string, string>()
  /** The strict oracle; dropped (with its first violation kept) once it throws. */
  oracle: ModelClient | undefined
  oracleViolation: string | undefined
  private everShown = new Map<number, string>()
  private gone = new Set<number>()
  private readonly heldAt = new Map<string, Set<string>>()

  constructor(
    readonly name: string,
    private readonly globalUids: Map<string, string>,
    oracleUids: Map<number, string>,
  ) {
    this.oracle = new ModelClient(name, oracleUids)
  }

  sync(v: ExposureLike): void {
    const where = `${this.name} sync #${this.syncs + 1}`
    if (this.oracle !== undefined) {
      try {
        this.oracle.sync(v)
      } catch (e) {
        this.oracleViolation = e instanceof Error ? e.message : String(e)
        this.oracle = undefined
      }
    }
    let fresh = this.syncs === 0
    if (this.uidValidity !== 0 && v.uidValidity !== this.uidValidity) {
      // the client must forget everything and download the mailbox again
      this.uidValidityChanges++
      this.violate(`UIDVALIDITY ${this.uidValidity}->${v.uidValidity}`, `${where}: UIDVALIDITY ${this.uidValidity} -> ${v.uidValidity}`)
      this.cache = new Map()
      this.everShown = new Map()
      this.gone = new Set()
      this.uidNext = 0
      fresh = true
    }
    let prev = 0
    const next = new Map<number, string>()
    for (const { uid, guid } of v.messages) {
      if (uid <= prev) this.violate(`S2 ${uid}`, `S2 ${where}: uid ${uid} follows ${prev}`)
      prev = uid
      const key = `${v.uidValidity}:${uid}`
      const g = this.globalUids.get(key)
      if (g !== undefined && g !== guid)
        this.violate(`S1 ${key} ${guid}`, `S1 ${where}: uid ${uid} names ${guid} here, ${g} at another client`)
      else this.globalUids.set(key, guid)
      const had = this.everShown.get(uid)
      if (had !== undefined && had !== guid) this.violate(`S4 ${uid} ${guid}`, `S4 ${where}: uid ${uid} named ${had}, now ${guid}`)
      // (a gone uid was always shown: `had` is set for it, so this must not require had === undefined)
      else if (this.gone.has(uid)) this.violate(`S4 back ${uid}`, `S4 ${where}: expunged uid ${uid} came back`)
      if (had === undefined && !fresh && uid < this.uidNext)
        this.violate(`S3 ${uid}`, `S3 ${where}: new uid ${uid} below the UIDNEXT ${this.uidNext} it was told`)
      if (uid >= v.uidNext)
        this.violate(`S3 next ${uid}`, `S3 ${where}: uid ${uid} at or above the UIDNEXT ${v.uidNext} of the same response`)
      const at = this.heldAt.get(guid) ?? new Set<string>()
      if (at.size > 0 && !at.has(key)) this.reDownloads++
      at.add(key)
      this.heldAt.set(guid, at)
      next.set(uid, guid)
    }
    if (v.uidNext < this.uidNext) this.violate(`S5 ${this.syncs}`, `S5 ${where}: UIDNEXT went back ${this.uidNext} -> ${v.uidNext}`)
    for (const uid of this.cache.keys()) if (!next.has(uid)) this.gone.add(uid)
    for (const [uid, guid] of next) this.everShown.set(uid, guid)
    this.cache = next
    this.uidNext = v.uidNext
    this.uidValidity = v.uidValidity
    this.syncs++
  }

  private violate(key: string, message: string): void {
    if (!this.violations.has(key)) this.violations.set(key, message)
  }
}

/** mbsync (isync) pulling INBOX of side A into a local Maildir; counts what landed there. */
async function mbsync(dir: string, port: number, expected: string[]) {
  const maildir = join(dir, 'Maildir')
  mkdirSync(maildir, { recursive: true })
  const rc = writeMbsyncrc(dir, maildir, { account: 'sideA', port, user: USER, pass: PASS })
  const r = await new Promise<{ code: number; stderr: string }>((res) => {
    execFile('mbsync', ['-c', rc, '-a'], { timeout: 60_000 }, (err, _stdout, stderr) =>
      res({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stderr }),
    )
  })
  const live: string[] = []
  let trashed = 0
  for (const sub of ['cur', 'new']) {
    const d = join(maildir, 'INBOX', sub)
    if (!existsSync(d)) continue
    for (const f of readdirSync(d)) {
      // mbsync marks a message that vanished from the server with the T (trashed) flag; Expunge None keeps the file
      if (/:2,[A-Z]*T/.test(f)) {
        trashed++
        continue
      }
      live.push(/Message-ID: <([^>]+)>/i.exec(readFileSync(join(d, f), 'utf8'))?.[1] ?? '?')
    }
  }
  const distinct = new Set(live)
  // the cleartext-password warning is expected on loopback without TLS
  const errors = r.stderr.split('\n').filter((l) => /error|warning|fatal|unexpected/i.test(l) && !/sent in the clear/i.test(l))
  return {
    exitCode: r.code,
    errors,
    files: live.length,
    trashedFiles: trashed,
    distinct: distinct.size,
    expected: expected.length,
    missing: expected.filter((g) => !distinct.has(g)).length,
    extraCopies: live.length - distinct.size,
  }
}

type MbsyncResult = Awaited<ReturnType<typeof mbsync>>

/** What a system under test offers the scenario. */
interface Sides {
  label: string
  ports: [number, number]
  /** Brings side B up to date after the connected appends. */
  replicate(): Promise<{ ms: number; detail?: string }>
  partition(): Promise<void>
  /** Delivers `raw` to the user at side `i` as an MTA does (not IMAP APPEND). */
  deliver(i: 0 | 1, raw: string): Promise<void>
  heal(): Promise<{ detail?: string }>
  /** How long clients keep polling after the heal for the sides to converge. */
  settleMs: number
  stop(): Promise<void>
}

interface Outcome {
  system: string
  expected: number
  lostAtClients: number[]
  lostInServerView: number[]
  duplicatesInServerView: number[]
  /** Copies of the messages delivered to both sides, per side's final view (the goal is one each). */
  deliveredCopies: number[]
  delivered: number
  serverViewsIdentical: boolean
  clientReDownloads: number[]
  uidValidityChanges: number[]
  protocolViolations: { count: number; byKind: Record<string, number>; examples: string[] }
  oracle: (string | 'ok')[]
  replicateConnectedMs: number
  convergeMs: number | undefined
  clientSyncsUntilConverged: number
  healDetail?: string
  mbsyncBefore: MbsyncResult
  mbsyncDuring: MbsyncResult
  mbsyncAfter: MbsyncResult
}

async function scenario(sides: Sides, work: string): Promise<Outcome> {
  progress(`== ${sides.label}`)
  const flows = sides.ports.map(
    (port) =>
      new ImapFlow({ host: '127.0.0.1', port, secure: false, auth: { user: USER, pass: PASS }, logger: false, disableAutoIdle: true }),
  )
  const globalUids = new Map<string, string>()
  const oracleUids = new Map<number, string>()
  const obs = ['client@A', 'client@B'].map((n) => new Observer(n, globalUids, oracleUids)) as [Observer, Observer]
  const expected: string[] = []
  const tag = sides.label.startsWith('Dovecot') ? 'dv' : 'mw'
  try {
    await flows[0]!.connect()
    for (let k = 0; k < BEFORE; k++) {
      const id = `before-${k}@${tag}`
      await flows[0]!.append('INBOX', raw(id))
      expected.push(id)
    }
    const rep = await sides.replicate()
    progress(`connected: ${BEFORE} appends at A, at B after ${Math.round(rep.ms)} ms${rep.detail !== undefined ? ` (${rep.detail})` : ''}`)
    await flows[1]!.connect()
    for (let i = 0; i < 2; i++) obs[i]!.sync(await imapflowView(flows[i]!))
    const mbsyncBefore = await mbsync(join(work, 'mbsync'), sides.ports[0], expected)
    progress(
      `mbsync before the partition: exit ${mbsyncBefore.exitCode}, ${mbsyncBefore.files} messages in the Maildir (expected ${mbsyncBefore.expected})`,
    )

    await sides.partition()
    progress(`partitioned; appending ${PER_SIDE} messages at each side in ${ROUNDS} rounds, each client syncing after every round`)
    for (let round = 0; round < ROUNDS; round++) {
      const per = Math.floor(PER_SIDE / ROUNDS) + (round < PER_SIDE % ROUNDS ? 1 : 0)
      for (let i = 0; i < 2; i++) {
        for (let k = 0; k < per; k++) {
          const id = `split-${'AB'[i]}-${round}-${k}@${tag}`
          await flows[i]!.append('INBOX', raw(id))
          expected.push(id)
        }
        obs[i]!.sync(await imapflowView(flows[i]!))
      }
    }
    const deliveredIds: string[] = []
    for (let k = 0; k < DELIVERIES; k++) {
      // the MTA delivers at B, gets no reply in time (B is cut off), fails over to A
      const id = `delivered-${k}@${tag}`
      const message = raw(id)
      await sides.deliver(1, message)
      await sides.deliver(0, message)
      deliveredIds.push(id)
      expected.push(id)
    }
    if (DELIVERIES > 0) {
      for (let i = 0; i < 2; i++) obs[i]!.sync(await imapflowView(flows[i]!))
      progress(`delivered ${DELIVERIES} messages to both sides (an MTA failover during the partition)`)
    }
    const mbsyncDuring = await mbsync(
      join(work, 'mbsync'),
      sides.ports[0],
      expected.filter((g) => !g.startsWith('split-B')),
    )
    progress(
      `mbsync during the partition: exit ${mbsyncDuring.exitCode}, ${mbsyncDuring.files} messages in the Maildir (expected ${mbsyncDuring.expected} on side A)`,
    )
    progress(
      `during the partition: A shows ${obs[0].cache.size}, B shows ${obs[1].cache.size} messages; UIDNEXT A=${obs[0].uidNext} B=${obs[1].uidNext}`,
    )

    progress('healing')
    const t0 = performance.now()
    const heal = await sides.heal()
    let convergeMs: number | undefined
    let syncsUntil = 0
    // every message there, the same at both sides (extra copies are reported, not waited out)
    const complete = (o: Observer) => expected.every((g) => [...o.cache.values()].includes(g))
    while (performance.now() - t0 < sides.settleMs) {
      for (let i = 0; i < 2; i++) obs[i]!.sync(await imapflowView(flows[i]!))
      syncsUntil++
      if (complete(obs[0]) && complete(obs[1]) && JSON.stringify([...obs[0].cache]) === JSON.stringify([...obs[1].cache])) {
        convergeMs = performance.now() - t0
        break
      }
      await sleep(100)
    }
    progress(
      convergeMs !== undefined
        ? `converged ${Math.round(convergeMs)} ms after the heal began (${syncsUntil} sync rounds per client)`
        : `NOT converged within ${sides.settleMs} ms of the heal`,
    )
    // each client syncs once more, then a fresh session per side reads the server's final view
    for (let i = 0; i < 2; i++) obs[i]!.sync(await imapflowView(flows[i]!))
    const finals: ExposureLike[] = []
    for (const port of sides.ports) {
      const c = new ImapFlow({
        host: '127.0.0.1',
        port,
        secure: false,
        auth: { user: USER, pass: PASS },
        logger: false,
        disableAutoIdle: true,
      })
      await c.connect()
      finals.push(await imapflowView(c))
      await c.logout()
    }
    const mbsyncAfter = await mbsync(join(work, 'mbsync'), sides.ports[0], expected)
    progress(
      `mbsync after the heal: exit ${mbsyncAfter.exitCode}, ${mbsyncAfter.files} live messages (${mbsyncAfter.distinct} distinct, ${mbsyncAfter.trashedFiles} marked trashed) for ${expected.length} expected`,
    )

    const byKind: Record<string, number> = {}
    const all = obs.flatMap((o) => [...o.violations.values()])
    for (const v of all) byKind[v.split(' ')[0]!] = (byKind[v.split(' ')[0]!] ?? 0) + 1
    return {
      system: sides.label,
      expected: expected.length,
      lostAtClients: obs.map((o) => expected.filter((g) => ![...o.cache.values()].includes(g)).length),
      lostInServerView: finals.map((f) => expected.filter((g) => !f.messages.some((m) => m.guid === g)).length),
      duplicatesInServerView: finals.map((f) => f.messages.length - new Set(f.messages.map((m) => m.guid)).size),
      deliveredCopies: finals.map((f) => f.messages.filter((m) => deliveredIds.includes(m.guid)).length),
      delivered: deliveredIds.length,
      serverViewsIdentical: JSON.stringify(finals[0]) === JSON.stringify(finals[1]),
      clientReDownloads: obs.map((o) => o.reDownloads),
      uidValidityChanges: obs.map((o) => o.uidValidityChanges),
      protocolViolations: { count: all.length, byKind, examples: all.slice(0, 4) },
      oracle: obs.map((o) => o.oracleViolation ?? 'ok'),
      replicateConnectedMs: Math.round(rep.ms),
      convergeMs: convergeMs === undefined ? undefined : Math.round(convergeMs),
      clientSyncsUntilConverged: syncsUntil,
      healDetail: heal.detail,
      mbsyncBefore,
      mbsyncDuring,
      mbsyncAfter,
    }
  } finally {
    await Promise.all(flows.map((f) => (f.usable ? f.logout().catch(() => undefined) : undefined)))
    await sides.stop()
  }
}

async function dovecotSides(work: string, mode: 'fast' | 'full' | 'stateful'): Promise<Sides> {
  const a = await Dovecot.start({ dir: join(work, 'A'), name: `mailweave-compare-a-${process.pid}`, user: USER, password: PASS })
  let b: Dovecot
  try {
    b = await Dovecot.start({ dir: join(work, 'B'), name: `mailweave-compare-b-${process.pid}`, user: USER, password: PASS })
  } catch (e) {
    await a.stop()
    throw e
  }
  let state = ''
  const sync = async () => {
    const r = await doveadmSync(a, b, USER, { mode, state })
    state = r.state ?? ''
    const err = r.stderr
      .trim()
      .split('\n')
      .filter((l) => l !== '')
    return { ms: r.ms, detail: `doveadm sync exit ${r.code}, ${r.runs} run(s)${err.length > 0 ? `, stderr: ${err[0]}` : ''}` }
  }
  return {
    label: `Dovecot + doveadm sync ${mode === 'fast' ? '(default)' : mode === 'full' ? '-f' : '-s (stateful)'}`,
    ports: [a.port, b.port],
    replicate: sync,
    // nothing to cut: no dsync runs while "partitioned" (the replicator could not reach the peer)
    partition: async () => undefined,
    deliver: (i, message) => [a, b][i]!.deliver(new TextEncoder().encode(message)),
    heal: async () => {
      const r = await sync()
      progress(`  ${r.detail} in ${Math.round(r.ms)} ms`)
      return { detail: r.detail }
    },
    // once doveadm sync returned nothing else will change: a short look suffices
    settleMs: 3000,
    stop: async () => {
      await a.stop()
      await b.stop()
    },
  }
}

async function mailweaveSides(work: string): Promise<Sides> {
  const cluster = await ProcessCluster.start({
    nodes: ['a', 'b'],
    dataDir: join(work, 'cluster'),
    imap: true,
    logLevel: 'error',
    node: () => ({ args: ['--lmtp', '127.0.0.1:0'] }),
  })
  const lmtpPorts = cluster.nodes.map((n) => n.lmtpPort)
  try {
    await cluster.addUser(USER, PASS)
    await cluster.linksAre('open')
  } catch (e) {
    await cluster.stop()
    throw e
  }
  const ports = cluster.nodes.map((r) => r.imapPort) as [number, number]
  return {
    label: 'mailweave x2 regions (fault proxy)',
    ports,
    replicate: async () => {
      // replication is continuous: wait until region B's IMAP shows A's appends
      const t = performance.now()
      const c = new ImapFlow({
        host: '127.0.0.1',
        port: ports[1],
        secure: false,
        auth: { user: USER, pass: PASS },
        logger: false,
        disableAutoIdle: true,
      })
      await c.connect()
      try {
        const count = async () => {
          const st = await c.status('INBOX', { messages: true })
          return st === false ? 0 : (st.messages ?? 0)
        }
        await waitFor(async () => (await count()) >= BEFORE, CONVERGE_TIMEOUT_MS, 'region b to receive the connected appends', 25)
      } finally {
        await c.logout()
      }
      return { ms: performance.now() - t, detail: 'continuous replication' }
    },
    deliver: (i, message) => swaksLmtp(lmtpPorts[i]!, `${USER}@example.org`, message),
    partition: async () => {
      cluster.cutAll()
      await cluster.linksAre('down')
    },
    heal: async () => {
      cluster.healAll()
      return { detail: 'proxy restored; clients poll every 100 ms' }
    },
    settleMs: CONVERGE_TIMEOUT_MS,
    stop: () => cluster.stop(),
  }
}

const root = mkdtempSync(join(tmpdir(), 'mailweave-compare-'))
const outcomes: Outcome[] = []
let failed = false
const runs: [string, (work: string) => Promise<Sides>][] = [
  ...MODES.map((m) => [`dovecot-${m}`, (w: string) => dovecotSides(w, m)] as [string, (work: string) => Promise<Sides>]),
  ['mailweave', mailweaveSides],
]
for (const [name, make] of runs) {
  const work = join(root, name)
  mkdirSync(work, { recursive: true })
  try {
    outcomes.push(await scenario(await make(work), work))
  } catch (e) {
    failed = true
    progress(`${name} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`)
  }
}
rmSync(root, { recursive: true, force: true })

const pair = (xs: (number | string)[]) => xs.join(' / ')
const mb = (m: MbsyncResult) =>
  `exit ${m.exitCode}${m.errors.length > 0 ? ` (${m.errors.length} errors)` : ''}, ${m.files}/${m.expected}${m.missing > 0 ? `, ${m.missing} missing` : ''}${m.extraCopies > 0 ? `, ${m.extraCopies} extra copies` : ''}${m.trashedFiles > 0 ? `, ${m.trashedFiles} trashed` : ''}`
const lines: [string, (o: Outcome) => string][] = [
  ['messages appended (expected live)', (o) => String(o.expected)],
  ['missing at client A / B', (o) => pair(o.lostAtClients)],
  ['missing in server view A / B', (o) => pair(o.lostInServerView)],
  ['server views A and B identical', (o) => (o.serverViewsIdentical ? 'yes' : 'NO')],
  ['one message at 2 UIDs in a view A / B', (o) => pair(o.duplicatesInServerView)],
  [
    'copies of each message delivered to both sides, view A / B',
    (o) =>
      o.delivered === 0
        ? '-'
        : `${pair(o.deliveredCopies.map((n) => +(n / o.delivered).toFixed(2)))}${o.serverViewsIdentical ? '' : ' (sides never converged)'}`,
  ],
  ['re-downloads by clients A / B', (o) => pair(o.clientReDownloads)],
  ['UIDVALIDITY changes at clients A / B', (o) => pair(o.uidValidityChanges)],
  [
    'broken UID promises (distinct, S1..S5)',
    (o) =>
      o.protocolViolations.count === 0
        ? '0'
        : `${o.protocolViolations.count} (${Object.entries(o.protocolViolations.byKind)
            .map(([k, n]) => `${k}: ${n}`)
            .join(', ')})`,
  ],
  ['replicate while connected', (o) => `${o.replicateConnectedMs} ms`],
  ['converged after heal', (o) => (o.convergeMs === undefined ? 'never' : `${o.convergeMs} ms`)],
  ['mbsync at A: files/expected, before', (o) => mb(o.mbsyncBefore)],
  ['  during the partition', (o) => mb(o.mbsyncDuring)],
  ['  after the heal', (o) => mb(o.mbsyncAfter)],
]
const w0 = Math.max(...lines.map(([l]) => l.length))
const cells = outcomes.map((o) => lines.map(([, f]) => f(o)))
const widths = outcomes.map((o, i) => Math.max(o.system.length, ...cells[i]!.map((c) => c.length)))
console.log(
  `\nsplit-brain: ${BEFORE} messages while connected, then ${PER_SIDE} per side while partitioned (${ROUNDS} client syncs) and ${DELIVERIES} delivered to both sides, then heal; one imapflow client per side\n`,
)
console.log(`${''.padEnd(w0)} | ${outcomes.map((o, i) => o.system.padEnd(widths[i]!)).join(' | ')}`)
console.log(`${'-'.repeat(w0)}-+-${widths.map((w) => '-'.repeat(w)).join('-+-')}`)
lines.forEach(([label], r) => console.log(`${label.padEnd(w0)} | ${outcomes.map((_, i) => cells[i]![r]!.padEnd(widths[i]!)).join(' | ')}`))
for (const o of outcomes) {
  if (o.protocolViolations.examples.length > 0)
    console.log(`\n${o.system}, first broken promises:\n  ${o.protocolViolations.examples.join('\n  ')}`)
  const oracle = o.oracle.filter((x) => x !== 'ok')
  if (oracle.length > 0) console.log(`${o.system}, ModelClient oracle stopped at: ${oracle.join('; ')}`)
  for (const m of [o.mbsyncBefore, o.mbsyncDuring, o.mbsyncAfter])
    if (m.errors.length > 0) console.log(`${o.system}, mbsync said: ${m.errors.slice(0, 3).join(' | ')}`)
  if (o.convergeMs === undefined) {
    console.log(
      `${o.system}: never converged; each side still holds only its own partition-time messages (nothing deleted, nothing replicated).` +
        (o.system.includes('(default)')
          ? ' doveadm-sync(1): the default fast sync compares only UIDNEXT and HIGHESTMODSEQ, and "if both sides do exactly the same number of changes" it misses them.'
          : ''),
    )
  }
}
console.log(
  '\nS1 across clients: the same UID named different messages at A and B during the partition (a client that stays on one side does not notice; one that moves between sides does).',
)
if (DELIVERIES > 0)
  console.log(
    `delivered to both sides: ${DELIVERIES} messages an MTA delivered at B and again at A during the partition (failover); Dovecot keeps both copies (doveadm sync matches its own GUIDs only), mailweave one (the delivery key rule).`,
  )
console.log(
  're-downloads: a Message-ID a client already had, shown again at a new UID (the old UID expunged): what a renumbering costs a client.',
)
// a plain run leaves tracked files alone; --save refreshes the copy in bench/results
const resultsDir = save ? 'bench/results' : '.data/compare'
mkdirSync(resultsDir, { recursive: true })
writeFileSync(
  join(resultsDir, 'compare-dovecot.json'),
  JSON.stringify(
    {
      when: new Date().toISOString(),
      dovecot: bins.version,
      before: BEFORE,
      perSide: PER_SIDE,
      rounds: ROUNDS,
      deliveries: DELIVERIES,
      outcomes,
    },
    null,
    2,
  ) + '\n',
)
console.log(`\nwrote ${join(resultsDir, 'compare-dovecot.json')}${save ? '' : ' (--save writes bench/results/compare-dovecot.json)'}`)
if (failed) process.exitCode = 1
