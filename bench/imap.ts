/**
 * IMAP speed against Dovecot (issue 4), measured in one run on the same machine with the
 * same messages and the same client library (imapflow) for both servers:
 * APPEND throughput over 1 connection and over 8 connections, then SELECT + FETCH 1:*
 * (UID FLAGS ENVELOPE) of the resulting mailbox (10,000 messages by default).
 * mailweave is one `mailweave serve` process (ProcessCluster, one region, durable appends);
 * Dovecot 2.3 is a private instance (Maildir, default mail_fsync=optimized).
 * Writes bench/results/imap.json as { rows: [{ name, ours, dovecot, ratio }], notes };
 * ratio > 1 means mailweave is faster. BENCH_IMAP_MESSAGES shrinks the run.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { ImapFlow } from 'imapflow'
import { ProcessCluster } from '@mailweave/testkit-cluster'
import { Dovecot, requireDovecot } from './lib/dovecot.ts'
import { benchMessage } from './lib/messages.ts'
import { rawListing } from './lib/rawListing.ts'

const bins = requireDovecot('bench/imap.ts')
const N = Number(process.env.BENCH_IMAP_MESSAGES ?? 10_000)
const ONE_CONN = Math.max(1, Math.round(N / 10))
// the single-connection APPENDs run in rounds that alternate between the servers: a few
// hundred ms of disk or CPU noise on this shared machine then hits both, not one
const ONE_CONN_ROUNDS = 5
const CONNS = 8
const FETCH_RUNS = 6
const WARMUP = 300
const USER = 'bench'
const PASS = 'bench-pass-1'
const progress = (m: string) => process.stderr.write(`[bench imap] ${m}\n`)

const message = (i: number): Buffer => benchMessage(i, USER)

interface Target {
  name: 'mailweave' | 'dovecot'
  port: number
}

async function client(t: Target): Promise<ImapFlow> {
  const c = new ImapFlow({
    host: '127.0.0.1',
    port: t.port,
    secure: false,
    auth: { user: USER, pass: PASS },
    logger: false,
    disableAutoIdle: true,
  })
  await c.connect()
  return c
}

/** Appends messages [from, to) over `conns` connections sharing one queue; returns msg/s. */
async function appendPhase(t: Target, from: number, to: number, conns: number): Promise<number> {
  const clients = await Promise.all(Array.from({ length: conns }, () => client(t)))
  let next = from
  let done = 0
  const total = to - from
  const every = Math.max(1, Math.round(total / 4))
  const t0 = performance.now()
  await Promise.all(
    clients.map(async (c) => {
      while (next < to) {
        const i = next++
        const r = await c.append('INBOX', message(i))
        if (r === false) throw new Error(`${t.name}: APPEND of message ${i} failed`)
        if (++done % every === 0) progress(`  ${t.name}: ${done}/${total} appended over ${conns} connection(s)`)
      }
    }),
  )
  const ms = performance.now() - t0
  await Promise.all(clients.map((c) => c.logout()))
  return (total / ms) * 1000
}

/** Fills mailbox Warmup with WARMUP messages and fetches them twice: warms up imapflow, not the server's INBOX. */
async function warmClient(t: Target): Promise<void> {
  const c = await client(t)
  await c.mailboxCreate('Warmup')
  for (let i = 0; i < WARMUP; i++) await c.append('Warmup', message(N + i))
  await c.mailboxOpen('Warmup')
  for (let k = 0; k < 2; k++) for await (const m of c.fetch('1:*', { uid: true, flags: true, envelope: true })) void m
  await c.logout()
}

/** SELECT INBOX + FETCH 1:* (UID FLAGS ENVELOPE) on a fresh session; returns ms and checks the content. */
async function selectFetch(t: Target): Promise<number> {
  const c = await client(t)
  const t0 = performance.now()
  const box = await c.mailboxOpen('INBOX')
  const ids = new Set<string>()
  let count = 0
  for await (const m of c.fetch('1:*', { uid: true, flags: true, envelope: true })) {
    count++
    ids.add(m.envelope?.messageId ?? '')
  }
  const ms = performance.now() - t0
  await c.logout()
  if (box.exists !== N || count !== N || ids.size !== N)
    throw new Error(`${t.name}: SELECT said ${box.exists}, FETCH returned ${count} messages (${ids.size} distinct), expected ${N}`)
  for (let i = 0; i < N; i += Math.max(1, Math.floor(N / 50)))
    if (!ids.has(`<${i}.imap-bench@example.org>`)) throw new Error(`${t.name}: message ${i} missing from FETCH`)
  return ms
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const rate = (x: number) => `${Math.round(x).toLocaleString('en')} msg/s`
const r2 = (x: number) => Math.round(x * 100) / 100

const loadBefore = loadavg()[0]!
const root = mkdtempSync(join(tmpdir(), 'mailweave-bench-imap-'))
let cluster: ProcessCluster | undefined
let dovecot: Dovecot | undefined
try {
  progress(`starting mailweave (one region) and Dovecot ${bins.version} on loopback; ${N.toLocaleString('en')} messages`)
  mkdirSync(join(root, 'mailweave'))
  cluster = await ProcessCluster.start({ nodes: ['bench'], logLevel: 'error', dataDir: join(root, 'mailweave'), imap: true })
  await cluster.addUser(USER, PASS)
  dovecot = await Dovecot.start({ dir: join(root, 'dovecot'), name: `mailweave-bench-${process.pid}`, user: USER, password: PASS })
  const targets: Target[] = [
    { name: 'mailweave', port: cluster.nodes[0]!.imapPort },
    { name: 'dovecot', port: dovecot.port },
  ]

  const res: Record<string, Record<Target['name'], number>> = {
    one: { mailweave: 0, dovecot: 0 },
    eight: { mailweave: 0, dovecot: 0 },
    fetch: { mailweave: 0, dovecot: 0 },
    fetchFirst: { mailweave: 0, dovecot: 0 },
    raw: { mailweave: 0, dovecot: 0 },
  }
  // the client's own parser must be warm for both servers alike (its first FETCH pays for JIT
  // compilation): fetch a separate mailbox of each server before anything is timed
  for (const t of targets) await warmClient(t)
  const oneRounds: Record<Target['name'], number[]> = { mailweave: [], dovecot: [] }
  const perRound = Math.ceil(ONE_CONN / ONE_CONN_ROUNDS)
  for (let r = 0; r < ONE_CONN_ROUNDS; r++) {
    const from = r * perRound
    const to = Math.min(ONE_CONN, from + perRound)
    for (const t of targets) oneRounds[t.name].push(await appendPhase(t, from, to, 1))
    progress(
      `APPEND over 1 connection, round ${r + 1}/${ONE_CONN_ROUNDS}: ${targets.map((t) => `${t.name} ${rate(oneRounds[t.name].at(-1)!)}`).join(', ')}`,
    )
  }
  for (const t of targets) res.one![t.name] = median(oneRounds[t.name])
  for (const t of targets) {
    progress(`${t.name}: APPEND ${N - ONE_CONN} messages over ${CONNS} connections`)
    res.eight![t.name] = await appendPhase(t, ONE_CONN, N, CONNS)
    progress(`${t.name}: ${rate(res.eight![t.name])}; SELECT + FETCH 1:* x${FETCH_RUNS}`)
    const runs: number[] = []
    for (let k = 0; k < FETCH_RUNS; k++) runs.push(await selectFetch(t))
    res.fetchFirst![t.name] = runs[0]!
    res.fetch![t.name] = median(runs.slice(1))
    progress(`${t.name}: SELECT + FETCH ${runs.map((x) => `${Math.round(x)} ms`).join(', ')}`)
    const raws: number[] = []
    for (let k = 0; k < FETCH_RUNS - 1; k++) {
      const r = await rawListing(t.port, USER, PASS)
      if (r.fetched !== N) throw new Error(`${t.name}: the raw listing got ${r.fetched} FETCH responses, expected ${N}`)
      raws.push(r.ms)
    }
    res.raw![t.name] = median(raws)
    progress(`${t.name}: the same listing read by a raw socket (server side only): ${raws.map((x) => `${Math.round(x)} ms`).join(', ')}`)
  }
  const k = N.toLocaleString('en')
  const rows = [
    {
      name: `APPEND, 1 connection (${ONE_CONN.toLocaleString('en')} msgs, median of ${ONE_CONN_ROUNDS} alternating rounds)`,
      ours: rate(res.one!.mailweave),
      dovecot: rate(res.one!.dovecot),
      ratio: r2(res.one!.mailweave / res.one!.dovecot),
    },
    {
      name: `APPEND, ${CONNS} connections (${(N - ONE_CONN).toLocaleString('en')} msgs)`,
      ours: rate(res.eight!.mailweave),
      dovecot: rate(res.eight!.dovecot),
      ratio: r2(res.eight!.mailweave / res.eight!.dovecot),
    },
    {
      name: `SELECT + FETCH 1:* (UID FLAGS ENVELOPE), ${k} msgs, first`,
      ours: `${Math.round(res.fetchFirst!.mailweave)} ms`,
      dovecot: `${Math.round(res.fetchFirst!.dovecot)} ms`,
      ratio: r2(res.fetchFirst!.dovecot / res.fetchFirst!.mailweave),
    },
    {
      name: `SELECT + FETCH 1:* (UID FLAGS ENVELOPE), ${k} msgs, median of the next ${FETCH_RUNS - 1}`,
      ours: `${Math.round(res.fetch!.mailweave)} ms`,
      dovecot: `${Math.round(res.fetch!.dovecot)} ms`,
      ratio: r2(res.fetch!.dovecot / res.fetch!.mailweave),
    },
    {
      name: `the same listing, server side only (raw socket, no client parsing), median of ${FETCH_RUNS - 1}`,
      ours: `${Math.round(res.raw!.mailweave)} ms`,
      dovecot: `${Math.round(res.raw!.dovecot)} ms`,
      ratio: r2(res.raw!.dovecot / res.raw!.mailweave),
    },
  ]
  const notes =
    `Same machine (${cpus().length} cores), same run, same ${k} messages (1-6 KB), same client: imapflow 2.10.2 ` +
    '(APPEND with LITERAL+, one APPEND in flight per connection, each awaited; FETCH parsed by imapflow, which dominates the ' +
    'listing rows for both servers (hence the raw-socket row), and whose parser is ' +
    `warmed on a separate ${WARMUP}-message mailbox of each server before anything is timed). ` +
    `mailweave: one \`mailweave serve\` process, IMAP on loopback, appends durable before the tagged OK; its FETCHes follow ` +
    'its appends (a mailbox idle for 60 s is unloaded from memory; the first SELECT after that reloads it, see docs/benchmarks.md). ' +
    `Dovecot: ${bins.version}, private instance, Maildir, default mail_fsync=optimized (an fsync per saved message, ` +
    "each save commits under the Maildir's dovecot-uidlist lock; mailweave group-commits the fsyncs of concurrent appends). " +
    `Load average ${loadBefore.toFixed(1)} before, ${loadavg()[0]!.toFixed(1)} after. ratio > 1: mailweave faster.`
  mkdirSync('bench/results', { recursive: true })
  writeFileSync('bench/results/imap.json', JSON.stringify({ messages: N, rows, notes }, null, 2) + '\n')
  for (const r of rows) progress(`${r.name}: mailweave ${r.ours}, Dovecot ${r.dovecot}, ratio ${r.ratio}`)
  progress('wrote bench/results/imap.json')
} finally {
  await cluster?.stop()
  await dovecot?.stop()
  rmSync(root, { recursive: true, force: true })
}
