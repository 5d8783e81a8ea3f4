import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve, parse } from 'node:path'
import { ApiError, NodeApi } from '@mailweave/client'
import type { MailboxInspection } from '@mailweave/core'
import { InvariantViolation, waitFor } from '@mailweave/testkit'
import { ProcessCluster } from '@mailweave/testkit-cluster'
import { renderReport } from './renderReport.ts'
import { TourClient, type HeldMessage, type SyncResult } from './TourClient.ts'
import { TourLog } from './TourLog.ts'
import { swaksLmtp } from '../lib/swaksLmtp.ts'
import { labelOf, type ClientOutcome, type ClientSnapshot, type MessageFate, type TourRecord, type TourStep } from './TourRecord.ts'

/** Options of {@link runTour}. */
export interface TourOptions {
  /** Where the regions keep their data and the report is written; emptied first. */
  dataDir: string
  /** No progress lines on stdout (the summary still carries them). */
  quiet?: boolean
}

/** What {@link runTour} returns on success: the record, the printed lines and the report's path. */
export interface TourSummary extends TourRecord {
  reportPath: string
  lines: string[]
}

/** A step of the tour that could not complete (a timeout, a refused request, a broken C-invariant). */
export class TourFailure extends Error {
  override readonly name = 'TourFailure'
}

const USER = 'tourist'
const PASS = 'uid-tour-pass'
const REGIONS = ['eu', 'us', 'ap']
const MAILBOX = 'INBOX'

/** The story: who appends what, and when. Labels become Message-IDs `<label>@tour.mailweave`. */
const CONNECTED: Record<string, [string, string]> = {
  eu: ['eu-1', 'Standup moved to 9:30'],
  us: ['us-1', 'Lunch on Friday?'],
  ap: ['ap-1', 'Release notes 1.4'],
}
const SPLIT: Record<string, [string, string][]> = {
  eu: [
    ['eu-2', 'Budget draft'],
    ['eu-3', 'Budget v2'],
    ['eu-4', 'Budget final'],
  ],
  us: [['us-2', 'Customer call notes']],
  ap: [['ap-2', 'Build is green']],
}
const DELIVERED: Record<string, [string, string]> = {
  eu: ['eu-5', 'Newsletter'],
  us: ['us-3', 'Invoice #42'],
  ap: ['ap-3', 'Server alert'],
}
/** Delivered by an MTA at us, then (no reply in time: us is cut off) again at eu. */
const FAILOVER = { label: 'mta-1', subject: 'Your order has shipped', regions: ['us', 'eu'] }

const raw = (label: string, subject: string, region: string) =>
  `From: ${region}@tour.mailweave\r\nTo: ${USER}@tour.mailweave\r\nSubject: ${label} ${subject}\r\nMessage-ID: <${label}@tour.mailweave>\r\nDate: ${new Date().toUTCString()}\r\n\r\n${subject} (appended at ${region})\r\n`

/** The part of `GET /api/inspect/:user/:name` the tour reads. */
type Inspection = Pick<MailboxInspection, 'watermarks' | 'seen' | 'reservations' | 'bindings' | 'stranded' | 'superseded'>

interface MessageInfoJson {
  guid: string
  origin: string
  uid?: number
  headers: { subject?: string; messageId?: string }
  bindings: { uid: number; allocator: string; valid: boolean; seenBy: string[] }[]
}

/**
 * Runs the UID tour: three real regions with IMAP, one imapflow client each, appends while
 * connected, a partition with appends on every side, a heal and an RFC 4549 resync of every
 * client. Every sync is checked by a ModelClient (S1..S5); the end state is checked for C1..C3
 * against the nodes' UID history. Writes `<dataDir>/report.html` (also when it fails) and
 * resolves with the summary; rejects with InvariantViolation or TourFailure when a promise broke.
 */
export async function runTour(o: TourOptions): Promise<TourSummary> {
  const dataDir = resolve(o.dataDir)
  if (parse(dataDir).root === dataDir || existsSync(join(dataDir, 'package.json')))
    throw new TourFailure(`refusing to empty ${dataDir}: not a data directory`)
  rmSync(dataDir, { recursive: true, force: true })
  mkdirSync(dataDir, { recursive: true })
  const reportPath = join(dataDir, 'report.html')
  const log = new TourLog(o.quiet === true)
  const rec: TourRecord = {
    regions: REGIONS,
    steps: log.steps,
    snapshots: [],
    appends: [],
    fates: [],
    clients: [],
    cutStep: 0,
    healStep: 0,
    total: 0,
    everyClientHoldsAll: false,
    fixupsWhileConnected: 0,
    elapsedMs: 0,
  }
  const nodeLog: string[] = []
  let cluster: ProcessCluster | undefined
  const clients: TourClient[] = []
  try {
    let step: TourStep
    log.step('setup', 'start', `start three regions ${REGIONS.join(', ')} (stride ${REGIONS.length}, peer links through fault proxies)`)
    cluster = await ProcessCluster.start({
      nodes: REGIONS,
      dataDir,
      imap: true,
      logLevel: 'error',
      onLog: (r, l) => nodeLog.push(`[${r}] ${l}`),
      node: () => ({ args: ['--lmtp', '127.0.0.1:0'] }),
    })
    const c = cluster
    const lmtp = c.nodes.map((n) => n.lmtpPort)
    await c.linksAre('open')
    await c.addUser(USER, PASS)
    for (const [i, r] of c.nodes.entries())
      log.note(`${r.id}  slot ${r.o.slot}  ${r.url}  imap://127.0.0.1:${r.imapPort}  lmtp 127.0.0.1:${lmtp[i]}`)

    const api = new Api(c, USER, PASS)
    const globalUids = new Map<number, string>()
    step = log.step('setup', 'connect', 'one imapflow client per region connects and selects INBOX (empty)')
    for (const r of c.nodes) clients.push(new TourClient(r.id, r.imapPort, { user: USER, pass: PASS }, globalUids))
    await Promise.all(clients.map((cl) => cl.connect()))
    for (const cl of clients) await syncAndShow(cl, step, false)

    step = log.step('connected', 'APPEND ×3', 'connected: every client APPENDs one message at the same moment')
    await Promise.all(
      clients.map(async (cl) => {
        const [label, subject] = CONNECTED[cl.region]!
        const uid = await cl.append(raw(label, subject, cl.region))
        rec.appends.push({ step: step.n, region: cl.region, id: `${label}@tour.mailweave`, label, uid, via: 'imap' })
      }),
    )
    for (const a of rec.appends) log.note(`${a.region} APPEND ${a.label} → APPENDUID ${a.uid ?? '-'}`)
    await waitFor(
      async () => (await Promise.all(c.nodes.map((_, i) => api.inspect(i)))).every((s) => distinctGuids(s) === 3),
      20_000,
      'the three connected appends at every region',
    )
    step = log.step('connected', 'resync', 'every client resyncs: the same three UIDs everywhere')
    for (const cl of clients) await syncAndShow(cl, step, true)
    rec.fixupsWhileConnected = (await Promise.all(c.nodes.map((_, i) => api.fixups(i)))).reduce((a, b) => a + b, 0)
    log.note(`rule 4 fixups so far: ${rec.fixupsWhileConnected} (the connected fast path needs none)`)

    step = log.step('partition', 'cut', 'cut: every peer link is cut at its fault proxy')
    c.cutAll()
    await c.linksAre('down')
    rec.cutStep = step.n

    step = log.step('partition', 'APPEND ×5', 'partition: eu APPENDs three messages, us and ap one each')
    for (const cl of clients) {
      for (const [label, subject] of SPLIT[cl.region]!) {
        const uid = await cl.append(raw(label, subject, cl.region))
        rec.appends.push({ step: step.n, region: cl.region, id: `${label}@tour.mailweave`, label, uid, via: 'imap' })
        log.note(`${cl.region} APPEND ${label} → APPENDUID ${uid ?? '-'}`)
      }
    }

    step = log.step(
      'partition',
      'failover',
      `an MTA delivers ${FAILOVER.label} at ${FAILOVER.regions[0]} (LMTP), gets no reply in time and delivers it again at ${FAILOVER.regions[1]}; each client resyncs`,
    )
    const failoverId = `${FAILOVER.label}@tour.mailweave`
    const failoverRaw = raw(FAILOVER.label, FAILOVER.subject, 'mta')
    rec.failover = { id: failoverId, label: FAILOVER.label, regions: FAILOVER.regions }
    for (const region of FAILOVER.regions) {
      const i = REGIONS.indexOf(region)
      await swaksLmtp(lmtp[i]!, `${USER}@tour.mailweave`, failoverRaw)
      const guid = await api.guidByMessageId(i, failoverId)
      const uid = (await api.message(i, guid)).bindings[0]?.uid
      rec.appends.push({ step: step.n, region, id: failoverId, label: FAILOVER.label, uid, via: 'failover' })
      log.note(`${region} LMTP delivery of ${FAILOVER.label}: 250, bound to UID ${uid ?? '-'} at ${region}`)
    }
    for (const cl of clients) await syncAndShow(cl, step, true)

    step = log.step('partition', 'deliveries', 'mail is delivered at each region while nobody is looking (no client is told)')
    for (const [i, r] of c.nodes.entries()) {
      const [label, subject] = DELIVERED[r.id]!
      const guid = await api.deliver(i, raw(label, subject, r.id))
      const info = await api.message(i, guid)
      const uid = info.bindings[0]?.uid
      rec.appends.push({ step: step.n, region: r.id, id: `${label}@tour.mailweave`, label, uid, via: 'delivery' })
      log.note(`${r.id} delivers ${label}: bound to UID ${uid ?? '-'} at ${r.id}, shown to nobody`)
    }
    rec.total = new Set(rec.appends.map((a) => a.id)).size

    step = log.step('healed', 'heal', 'heal: the fault proxies forward again')
    c.healAll()
    await c.linksAre('open')
    rec.healStep = step.n

    step = log.step('healed', 'converged', 'converge: wait until every region holds the identical protocol state')
    let stranded = 0
    let differs = ''
    await waitFor(
      async () => {
        const all = await Promise.all(c.nodes.map((_, i) => api.inspect(i)))
        stranded = all[0]!.stranded.length
        differs = stateDifference(all, rec.appends.length)
        return differs === ''
      },
      30_000,
      `all ${rec.appends.length} copies of ${rec.total} messages and the same state at every region`,
    ).catch((e: unknown) => {
      throw new TourFailure(`C1: the regions did not converge after the heal (${differs}): ${e instanceof Error ? e.message : String(e)}`)
    })
    const w = (await api.inspect(0)).watermarks
    log.note(
      `${rec.total} messages everywhere; watermarks ${REGIONS.map((r) => `W[${r}]=${w[r] ?? 0}`).join(' ')}; ${stranded} stranded (bound below a watermark nobody there showed)`,
    )
    const merged = (await api.inspect(0)).superseded
    if (merged.length !== 1)
      throw new TourFailure(`one copy per delivery: ${FAILOVER.label} was delivered twice, ${merged.length} copies superseded (want 1)`)
    const dropped = await api.message(0, merged[0]!.guid)
    const droppedAt = dropped.origin
    rec.failover.kept = (await api.message(0, merged[0]!.by)).origin
    rec.failover.dropped = { region: droppedAt, uid: dropped.bindings[0]!.uid, seenBy: [...dropped.bindings[0]!.seenBy].sort() }
    log.note(
      `${FAILOVER.label}: ${rec.failover.kept}'s copy stays (delivered first), ${droppedAt}'s copy (UID ${rec.failover.dropped.uid}) is superseded at every region`,
    )

    for (const cl of clients) {
      step = log.step(
        'healed',
        `${cl.region} resync`,
        `${cl.region} client resyncs (SELECT, UID FETCH 1:${cl.model.uidNext - 1}, UID FETCH ${cl.model.uidNext}:*)`,
      )
      await syncAndShow(cl, step, true)
    }
    // A client whose node had not yet integrated a peer's fixup would miss it: sync until done (bounded).
    await waitFor(
      async () => {
        if (clients.every((cl) => cl.model.cache.size === rec.total)) return true
        step = log.step('healed', 'resync', 'another resync round (some client does not hold everything yet)')
        for (const cl of clients) await syncAndShow(cl, step, true)
        return false
      },
      20_000,
      'every client holding every message',
    )

    step = log.step('healed', 'check', 'check: UID history at the nodes against what each client saw')
    rec.fates = await fates(api, rec)
    rec.clients = clients.map((cl) => outcome(cl))
    checkEnd(rec)
    rec.everyClientHoldsAll = true
    timeline(rec, log)
  } catch (e) {
    rec.failure = e instanceof Error ? `${e.name}: ${e.message}` : String(e)
    if (!(e instanceof InvariantViolation) && nodeLog.length > 0) rec.failure += `\nlast node log lines:\n${nodeLog.slice(-10).join('\n')}`
    throw e
  } finally {
    rec.elapsedMs = log.elapsed
    if (rec.clients.length === 0) rec.clients = clients.map((cl) => outcome(cl))
    await Promise.all(clients.map((cl) => cl.close()))
    await cluster?.stop().catch(() => undefined)
    // the report is written on failure too: it shows how far the tour got
    writeFileSync(reportPath, renderReport(rec))
    writeFileSync(join(dataDir, 'tour.json'), JSON.stringify(rec, null, 1))
  }
  return { ...rec, reportPath, lines: log.lines }

  async function syncAndShow(cl: TourClient, step: TourStep, show: boolean): Promise<SyncResult> {
    const r = await cl.sync()
    rec.snapshots.push({
      step: step.n,
      region: cl.region,
      uidNext: r.uidNext,
      messages: r.messages,
      removed: r.removed,
      duplicates: r.duplicates,
    } satisfies ClientSnapshot)
    if (show) {
      log.note(`${cl.region}  UIDNEXT ${String(r.uidNext).padEnd(3)} ${viewLine(r.messages)}`)
      const changes = [
        ...r.removed.map((u) => `EXPUNGE ${u}`),
        ...r.duplicates.map(
          (d) =>
            `${labelOf(d.id)} again at ${d.newUid} (was ${d.oldUid}: ${isMerge(rec, d) ? 'its other copy, superseded: one copy per delivery' : 'duplicate-on-seen'})`,
        ),
      ]
      if (changes.length > 0) log.note(`    ${changes.join(', ')}`)
    }
    return r
  }
}

/** Whether a client's re-download is the failover delivery's superseded copy giving way to the one kept. */
const isMerge = (rec: TourRecord, d: { id: string; oldUid: number }) => d.id === rec.failover?.id && d.oldUid === rec.failover.dropped?.uid

const distinctGuids = (s: Inspection) => new Set(s.bindings.map((b) => b.guid)).size

/** '' when every region knows `total` messages and the same protocol state; else what differs. */
function stateDifference(all: Inspection[], total: number): string {
  const out: string[] = []
  all.forEach((s, i) => {
    if (distinctGuids(s) !== total) out.push(`${REGIONS[i]} knows ${distinctGuids(s)} of ${total} messages`)
  })
  for (const part of ['bindings', 'watermarks', 'seen', 'reservations', 'stranded'] as const) {
    const first = JSON.stringify(all[0]![part])
    all.forEach((s, i) => {
      if (i > 0 && JSON.stringify(s[part]) !== first)
        out.push(`${part} at ${REGIONS[i]} ${JSON.stringify(s[part])} vs ${REGIONS[0]} ${first}`)
    })
  }
  return out.join('; ')
}
const viewLine = (ms: HeldMessage[]) => (ms.length === 0 ? '(empty)' : ms.map((m) => `${m.uid} ${labelOf(m.id)}`).join(' · '))

/** Reads every message's UID history from the first region (all regions agree by now). */
async function fates(api: Api, rec: TourRecord): Promise<MessageFate[]> {
  const s = await api.inspect(0)
  // a superseded copy of a delivery is out of the view for good: its fate is rec.failover's
  const superseded = new Set(s.superseded.map((x) => x.guid))
  const guids = [...new Set(s.bindings.map((b) => b.guid))].filter((g) => !superseded.has(g))
  const out: MessageFate[] = []
  for (const guid of guids) {
    const info = await api.message(0, guid)
    const id = (info.headers.messageId ?? guid).replace(/[<>]/g, '')
    const first = info.bindings[0]
    const last = info.bindings.find((b) => b.uid === info.uid)
    if (first === undefined || last === undefined || info.uid === undefined)
      throw new TourFailure(`C2: message ${id} has no UID in the final view`)
    const kind = first.uid === info.uid ? 'kept' : first.seenBy.length === 0 ? 'silent' : 'duplicate'
    const origin = rec.appends.find((a) => a.id === id)?.region ?? info.origin
    out.push({
      id,
      label: labelOf(id),
      subject: (info.headers.subject ?? '').replace(/^\S+ /, ''),
      origin,
      firstUid: first.uid,
      finalUid: info.uid,
      kind,
      seenBy: [...first.seenBy].sort(),
      allocator: last.allocator,
    })
  }
  return out.sort((a, b) => a.finalUid - b.finalUid)
}

function outcome(cl: TourClient): ClientOutcome {
  return {
    region: cl.region,
    uidNext: cl.model.uidNext,
    messages: cl.held(),
    duplicates: cl.model.duplicates.map(([id, oldUid, newUid]) => ({ id, label: labelOf(id), oldUid, newUid })),
    everShown: [...cl.model.everShown.keys()].sort((a, b) => a - b),
  }
}

/** C1 (same view everywhere), C2 (nothing lost), C3 (a duplicate only where the old UID had been shown). */
function checkEnd(rec: TourRecord): void {
  const all = new Set(rec.appends.map((a) => a.id))
  const first = JSON.stringify(rec.clients[0]!.messages.map((m) => [m.uid, m.id]))
  for (const c of rec.clients) {
    const ids = new Set(c.messages.map((m) => m.id))
    const missing = [...all].filter((id) => !ids.has(id))
    if (missing.length > 0 || ids.size !== all.size)
      throw new TourFailure(
        `C2: client ${c.region} holds ${ids.size} of ${all.size} messages (missing ${missing.map(labelOf).join(', ') || 'none'})`,
      )
    if (JSON.stringify(c.messages.map((m) => [m.uid, m.id])) !== first)
      throw new TourFailure(`C1: client ${c.region} ends with a different view than ${rec.clients[0]!.region}`)
    const expected = rec.fates
      .filter((f) => f.kind === 'duplicate' && f.seenBy.includes(c.region))
      .map((f) => `${f.id} ${f.firstUid}->${f.finalUid}`)
    // a client that had the superseded copy of the failover delivery: EXPUNGE, then the copy that stays
    const fo = rec.failover
    const kept = rec.fates.find((f) => f.id === fo?.id)
    if (fo?.dropped !== undefined && kept !== undefined && fo.dropped.seenBy.includes(c.region))
      expected.push(`${fo.id} ${fo.dropped.uid}->${kept.finalUid}`)
    expected.sort()
    const got = c.duplicates.map((d) => `${d.id} ${d.oldUid}->${d.newUid}`).sort()
    if (JSON.stringify(got) !== JSON.stringify(expected))
      throw new TourFailure(`C3: client ${c.region} re-downloaded [${got.join(', ')}], the UID history predicts [${expected.join(', ')}]`)
    for (const d of c.duplicates)
      if (!c.everShown.includes(d.oldUid))
        throw new TourFailure(`C3: client ${c.region} got ${d.label} again at ${d.newUid} although it was never shown ${d.oldUid}`)
  }
  if (rec.fixupsWhileConnected !== 0)
    throw new TourFailure(`C3: ${rec.fixupsWhileConnected} fixups while every region was connected (the fast path promises none)`)
}

/** The closing summary: each message's fate, each client's re-downloads, the final check. */
function timeline(rec: TourRecord, log: TourLog): void {
  log.print('')
  log.print('What happened to each message (UID history at the nodes)')
  for (const f of rec.fates) {
    const uids = f.kind === 'kept' ? `UID ${f.firstUid}` : `UID ${f.firstUid} → ${f.finalUid}`
    const what =
      f.kind === 'kept'
        ? 'kept its UID'
        : f.kind === 'silent'
          ? `renumbered silently (nobody had been shown ${f.firstUid}; new UID from ${f.allocator})`
          : `duplicate-on-seen for ${f.seenBy.join(', ')} (whose client had been shown ${f.firstUid}; new UID from ${f.allocator})`
    log.print(`  ${f.label.padEnd(5)} ${f.origin}  ${uids.padEnd(13)} ${what}`)
  }
  log.print('What each client saw after the heal (old UID → new UID)')
  for (const c of rec.clients) {
    const d = c.duplicates
      .filter((x) => !isMerge(rec, x))
      .map((x) => `${x.label} ${x.oldUid} → ${x.newUid}`)
      .join(', ')
    const m = c.duplicates
      .filter((x) => isMerge(rec, x))
      .map((x) => `${x.label} ${x.oldUid} → ${x.newUid}`)
      .join(', ')
    log.print(
      `  ${c.region}  ${d === '' ? 'no duplicates; new mail only above its UIDNEXT' : `duplicate-on-seen: ${d}`}${m === '' ? '' : `; one copy per delivery: ${m}`}`,
    )
  }
  const silent = rec.fates.filter((f) => f.kind === 'silent').length
  const dups = rec.fates.filter((f) => f.kind === 'duplicate').length
  const fo = rec.failover
  if (fo?.dropped !== undefined) {
    const kept = rec.fates.find((f) => f.id === fo.id)
    log.print(
      `One copy per delivery: ${fo.label} was delivered at ${fo.regions.join(' and ')}; ${fo.kept}'s copy stays at UID ${kept?.finalUid ?? '-'}, ${fo.dropped.region}'s copy (UID ${fo.dropped.uid}) is gone everywhere` +
        (fo.dropped.seenBy.length > 0 ? ` (${fo.dropped.seenBy.join(', ')}'s client saw EXPUNGE ${fo.dropped.uid})` : ''),
    )
  }
  log.print(
    `  ${rec.fates.length - silent - dups} kept, ${silent} renumbered silently, ${dups} duplicated-on-seen; S1..S5 held at every sync of every client`,
  )
  log.print(`every client holds all ${rec.total} messages: yes`)
}

/** The node HTTP API, as the tour uses it (none of these calls is an exposure); failures are TourFailures naming the node. */
class Api {
  constructor(
    private readonly c: ProcessCluster,
    private readonly user: string,
    private readonly pass: string,
  ) {}

  private async at<T>(i: number, call: (user: NodeApi, admin: NodeApi) => Promise<T>): Promise<T> {
    const n = this.c.nodes[i]!
    try {
      return await call(new NodeApi(n.url, { user: this.user, password: this.pass }), new NodeApi(n.url, { token: this.c.adminToken }))
    } catch (e) {
      throw e instanceof ApiError ? new TourFailure(`at ${n.id}: ${e.message}`) : e
    }
  }

  inspect(i: number): Promise<Inspection> {
    return this.at(i, (_, admin) => admin.inspect(USER, MAILBOX))
  }

  /** The guid of the copy of Message-ID `id` that region `i` itself stored (the delivery it just took). */
  async guidByMessageId(i: number, id: string): Promise<string> {
    for (const g of new Set((await this.inspect(i)).bindings.map((b) => b.guid))) {
      const m = await this.message(i, g)
      if (m.headers.messageId === `<${id}>` && m.origin === REGIONS[i]) return g
    }
    throw new TourFailure(`no copy of ${id} stored at ${REGIONS[i]}`)
  }

  async message(i: number, guid: string): Promise<MessageInfoJson> {
    const m = await this.at(i, (user) => user.message(MAILBOX, guid))
    if (m === undefined) throw new TourFailure(`no message ${guid} at ${this.c.nodes[i]!.id}`)
    return m
  }

  /** Appends through HTTP, as a delivery agent would: durable, and no client is told anything. */
  deliver(i: number, body: string): Promise<string> {
    return this.at(i, (user) => user.append(MAILBOX, body))
  }

  /** Rule 4 (docs/protocol.md) rebindings this node made (silent + duplicate), from /metrics. */
  async fixups(i: number): Promise<number> {
    let n = 0
    for (const m of (await this.at(i, (user) => user.metrics())).matchAll(/^mailweave_fixups_total\{[^}]*\} (\d+)/gm)) n += Number(m[1])
    return n
  }
}
