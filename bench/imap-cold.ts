/**
 * The slow paths of a mailbox listing that `bench/imap.ts` does not time (mailweave only):
 * SELECT + FETCH 1:* (UID FLAGS ENVELOPE) of a 10,000-message mailbox
 *  - right after the appends (envelopes parsed at APPEND, document in memory),
 *  - after the node unloaded the idle mailbox (document reloaded from disk),
 *  - after a restart of the node (document reloaded, envelopes from the node's envelope cache file).
 * `pnpm bench imap-cold` (not in the default suites: it waits ~65 s for the idle unload).
 * Writes bench/results/imap-cold.json. BENCH_IMAP_MESSAGES shrinks the run.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ImapFlow } from 'imapflow'
import { ProcessCluster } from '@mailweave/testkit-cluster'
import { benchMessage } from './lib/messages.ts'

const N = Number(process.env.BENCH_IMAP_MESSAGES ?? 10_000)
const USER = 'bench'
const PASS = 'bench-pass-1'
const IDLE_UNLOAD_MS = 60_000 // DocRegistry's default idleMs
const progress = (m: string) => process.stderr.write(`[bench imap-cold] ${m}\n`)

async function client(port: number): Promise<ImapFlow> {
  const c = new ImapFlow({ host: '127.0.0.1', port, secure: false, auth: { user: USER, pass: PASS }, logger: false, disableAutoIdle: true })
  await c.connect()
  return c
}

/** SELECT INBOX + FETCH 1:*; returns [select ms, total ms] and checks the count. */
async function listing(port: number): Promise<[number, number]> {
  const c = await client(port)
  const t0 = performance.now()
  await c.mailboxOpen('INBOX')
  const sel = performance.now() - t0
  let n = 0
  for await (const m of c.fetch('1:*', { uid: true, flags: true, envelope: true })) if (m.envelope?.messageId !== undefined) n++
  const total = performance.now() - t0
  await c.logout()
  if (n !== N) throw new Error(`listed ${n} envelopes, expected ${N}`)
  return [sel, total]
}

const root = mkdtempSync(join(tmpdir(), 'mailweave-bench-cold-'))
let cluster: ProcessCluster | undefined
try {
  cluster = await ProcessCluster.start({ nodes: ['bench'], logLevel: 'error', dataDir: root, imap: true })
  await cluster.addUser(USER, PASS)
  let port = cluster.nodes[0]!.imapPort
  progress(`appending ${N.toLocaleString('en')} messages over 8 connections`)
  const clients = await Promise.all(Array.from({ length: 8 }, () => client(port)))
  let next = 0
  await Promise.all(
    clients.map(async (c) => {
      while (next < N) if ((await c.append('INBOX', benchMessage(next++))) === false) throw new Error('APPEND failed')
    }),
  )
  await Promise.all(clients.map((c) => c.logout()))
  // warm the client's parser on the same listing, so each timed listing pays only the server's path
  await listing(port)
  const warm = await listing(port)
  progress(`in memory: SELECT ${Math.round(warm[0])} ms, SELECT + FETCH ${Math.round(warm[1])} ms; waiting for the idle unload`)
  await new Promise((r) => setTimeout(r, IDLE_UNLOAD_MS + 4_000)) // the unload is a timer in the node: nothing to poll from here
  const unloaded = await listing(port)
  progress(`after the idle unload: SELECT ${Math.round(unloaded[0])} ms, SELECT + FETCH ${Math.round(unloaded[1])} ms; restarting the node`)
  await cluster.stop()
  cluster = await ProcessCluster.start({ nodes: ['bench'], logLevel: 'error', dataDir: root, imap: true })
  port = cluster.nodes[0]!.imapPort
  const restarted = await listing(port)
  progress(`after a restart: SELECT ${Math.round(restarted[0])} ms, SELECT + FETCH ${Math.round(restarted[1])} ms`)
  const row = (name: string, [sel, total]: [number, number]) => ({ name, selectMs: Math.round(sel), selectFetchMs: Math.round(total) })
  mkdirSync('bench/results', { recursive: true })
  writeFileSync(
    'bench/results/imap-cold.json',
    JSON.stringify(
      {
        messages: N,
        rows: [
          row('in memory, envelopes cached (as in bench/imap.ts)', warm),
          row('after the idle unload (document reloaded from disk)', unloaded),
          row('after a restart (document reloaded, envelopes from the envelope cache file)', restarted),
        ],
      },
      null,
      2,
    ) + '\n',
  )
  progress('wrote bench/results/imap-cold.json')
} finally {
  await cluster?.stop()
  rmSync(root, { recursive: true, force: true })
}
