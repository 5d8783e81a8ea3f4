/**
 * `pnpm start`: a local three-region cluster. Starts three node processes on loopback
 * (data under .data/cluster) whose peer links pass through fault proxies, creates a demo
 * user, serves the browser example and a link control (cut/heal per link), prints where
 * everything listens, and stops every region cleanly on Ctrl-C (exit 0).
 * `pnpm start:pg` (MAILWEAVE_STORE=postgres): every region keeps its data in a private
 * PostgreSQL server initialised in a temporary directory, stopped and removed on Ctrl-C, and
 * runs MAILWEAVE_PROCESSES processes (`serve --process eu-1 …`) sharing it.
 *
 * Ports are stable across restarts so IMAP clients and browser tabs keep working; each
 * falls back to a free port when taken. Environment (README "Running a local cluster"):
 * MAILWEAVE_DATA, MAILWEAVE_LOG_LEVEL, MAILWEAVE_IMAP=0, MAILWEAVE_BROWSER=0, MAILWEAVE_PROCESSES,
 * MAILWEAVE_HTTP_PORT, MAILWEAVE_IMAP_PORT, MAILWEAVE_LMTP_PORT, MAILWEAVE_BROWSER_PORT,
 * MAILWEAVE_CONTROL_PORT.
 */
import { resolve } from 'node:path'
import { freePort } from '@mailweave/testkit'
import { ProcessCluster, serveLinkControl, type LinkControl } from '@mailweave/testkit-cluster'

const REGIONS = ['eu', 'us', 'ap']

/** A port from the environment (0: any free port), else the default. */
function portFrom(name: string, fallback: number): number {
  const v = process.env[name]
  if (v === undefined || v === '') return fallback
  const n = Number(v)
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    console.error(`${name} must be a port number (0-65535, 0 for any free port), got ${v}`)
    process.exit(2)
  }
  return n
}

const root = resolve(process.env.MAILWEAVE_DATA ?? '.data/cluster')
const withImap = process.env.MAILWEAVE_IMAP !== '0'
const withBrowser = process.env.MAILWEAVE_BROWSER !== '0'
const onPostgres = process.env.MAILWEAVE_STORE === 'postgres'
const perRegion = Number(process.env.MAILWEAVE_PROCESSES ?? '1')
if (!Number.isInteger(perRegion) || perRegion < 1 || perRegion > 8 || (perRegion > 1 && !onPostgres)) {
  console.error(`MAILWEAVE_PROCESSES must be 1-8 (more than 1 only with MAILWEAVE_STORE=postgres), got ${process.env.MAILWEAVE_PROCESSES}`)
  process.exit(2)
}
const httpBase = portFrom('MAILWEAVE_HTTP_PORT', 7101)
const imapBase = portFrom('MAILWEAVE_IMAP_PORT', 1143)
const lmtpBase = portFrom('MAILWEAVE_LMTP_PORT', 2424)
// one port per process: region i's process p at base + i × perRegion + p
const consecutive = (base: number) => Array.from({ length: REGIONS.length * perRegion }, (_, k) => (base === 0 ? 0 : base + k))

let cluster: ProcessCluster | undefined
// eslint-disable-next-line prefer-const -- assigned once the cluster is up; a Ctrl-C may call stop() before that
let control: LinkControl | undefined
let browser: { url: string; close(): Promise<void> } | undefined
let stopping = false
/** Stops everything once (Ctrl-C reaches this script and its regions alike) and exits. */
async function stop(code = 0): Promise<void> {
  // a second signal (Ctrl-C twice, or pnpm/npx relaying one) waits for the first stop
  if (stopping) return
  stopping = true
  console.log('\nstopping the cluster…')
  await browser?.close()
  await control?.close()
  // the cluster stops its processes, then each region's PostgreSQL, and removes their temporary directories
  await cluster?.stop()
  console.log('all regions stopped')
  process.exit(code)
}
// a Ctrl-C is a request to stop, not a failure: exit 0 once every region stopped cleanly
process.on('SIGINT', () => void stop(0))
process.on('SIGTERM', () => void stop(0))

try {
  if (onPostgres) console.log('initialising a private PostgreSQL per region (initdb in a temporary directory)…')
  console.log(`starting three regions (${REGIONS.join(', ')})${perRegion > 1 ? `, ${perRegion} processes each` : ''}…`)
  const taken = new Set<number>()
  const lmtpPorts: number[] = []
  for (const want of consecutive(lmtpBase)) {
    let port = await freePort(want)
    while (taken.has(port)) port = await freePort()
    taken.add(port)
    lmtpPorts.push(port)
  }
  cluster = await ProcessCluster.start({
    nodes: REGIONS,
    processes: perRegion,
    postgres: onPostgres,
    dataDir: root,
    imap: withImap,
    httpPorts: consecutive(httpBase),
    imapPorts: consecutive(imapBase),
    node: (i, _id, p) => ({ args: ['--lmtp', `127.0.0.1:${lmtpPorts[i * perRegion + p]}`] }),
    logLevel: process.env.MAILWEAVE_LOG_LEVEL ?? 'error',
    onLog: (r, l) => process.stderr.write(`[${r}] ${l}\n`),
  })
} catch (e) {
  // a region that cannot start leaves no region and no database behind
  console.error(`the cluster could not start: ${e instanceof Error ? e.message : String(e)}`)
  await stop(1)
}
const c = cluster!

const browserPort = withBrowser ? await freePort(portFrom('MAILWEAVE_BROWSER_PORT', 5173)) : 0
const origins = withBrowser ? [`http://127.0.0.1:${browserPort}`, `http://localhost:${browserPort}`] : []
control = await serveLinkControl(c, { port: await freePort(portFrom('MAILWEAVE_CONTROL_PORT', 7190)), origins })

const user = 'alice'
const password = 'wonderland'
await c.addUser(user, password)

if (withBrowser) {
  try {
    const { serveExample } = await import('@mailweave/example-browser-mailbox/serve')
    browser = await serveExample({
      port: browserPort,
      config: { regions: c.nodes.map((r) => ({ id: r.id, url: r.url, label: r.id })), cluster: root, user, password, control: control.url },
    })
  } catch (e) {
    console.error(`(the browser example could not start: ${e instanceof Error ? e.message : String(e)})`)
  }
}

const moved = (want: number, got: number) => (want !== 0 && want !== got ? `  (${want} was taken)` : '')
console.log(
  `\nmailweave: a local three-region cluster is running (data in ${onPostgres ? `private PostgreSQL servers: ${c.regions.map((r) => r.database!.url()).join(', ')}; IMAP cache in ${root}` : root})\n`,
)
// with several processes per region, a row per process (any one serves any account: it forwards to the owner)
console.log(`${perRegion > 1 ? 'process' : 'region '} slot  HTTP / WebSocket            IMAP                   LMTP (for an MTA)`)
c.processes().forEach((r, i) => {
  const wantHttp = consecutive(httpBase)[i]!
  const wantImap = consecutive(imapBase)[i]!
  const wantLmtp = consecutive(lmtpBase)[i]!
  const lmtp = r.listeners.get('lmtp')
  console.log(
    `${r.name.padEnd(7)} ${String(r.o.slot).padEnd(5)} ${r.url.padEnd(27)} ${(withImap ? `imap://127.0.0.1:${r.imapPort}` : '-').padEnd(22)} ${lmtp ?? '-'}${moved(wantHttp, Number(new URL(r.url).port))}${withImap ? moved(wantImap, r.imapPort) : ''}${lmtp !== undefined ? moved(wantLmtp, Number(new URL(lmtp).port)) : ''}`,
  )
})
if (browser !== undefined)
  console.log(`\nbrowser mailbox: open ${browser.url}${moved(portFrom('MAILWEAVE_BROWSER_PORT', 5173), browserPort)}`)
console.log(`link control: ${control.url}  (cut/heal per link: the page's Links panel, or \`pnpm mailweave link cut eu-us\`)`)
console.log(`\ndemo account: ${user} / ${password}`)
const [a, b] = c.nodes
console.log(
  `try: curl -u ${user}:${password} -X POST --data-binary $'Subject: hi\\r\\n\\r\\nhello\\r\\n' ${a!.url}/api/mailboxes/INBOX/messages`,
)
console.log(`     curl -u ${user}:${password} ${b!.url}/api/mailboxes/INBOX`)
if (withImap) console.log(`     curl -u ${user}:${password} 'imap://127.0.0.1:${b!.imapPort}/INBOX' -X 'UID FETCH 1:* (FLAGS ENVELOPE)'`)
console.log(`     swaks --protocol LMTP --server 127.0.0.1 --port ${a!.lmtpPort} --to ${user}@example.org   # deliver as an MTA would`)
console.log(`     pnpm mailweave inspect ${user}/INBOX --url ${b!.url} --secret-file ${c.secretFile}`)
console.log(`     pnpm mailweave link cut eu-us --control ${control.url}`)
console.log('\nCtrl-C stops every region.')
