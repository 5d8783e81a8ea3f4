/**
 * `pnpm start`: a local three-region cluster. Starts three node processes on loopback
 * (data under .data/cluster), creates a demo user, serves the browser example, prints
 * where everything listens, and stops every region cleanly on Ctrl-C.
 * `pnpm start:pg` (MAILWEAVE_STORE=postgres): every region keeps its data in a private
 * PostgreSQL server initialised in a temporary directory, stopped and removed on Ctrl-C.
 */
import { resolve } from 'node:path'
import { PostgresServer } from '@mailweave/testkit'
import { ProcessCluster } from '@mailweave/testkit/cluster'

const root = resolve(process.env.MAILWEAVE_DATA ?? '.data/cluster')
const withImap = process.env.MAILWEAVE_IMAP !== '0'
const onPostgres = process.env.MAILWEAVE_STORE === 'postgres'
const databases: PostgresServer[] = []
const stopDatabases = async () => {
  for (const db of databases.splice(0)) await db.stop()
}
if (onPostgres) {
  console.log('initialising a private PostgreSQL per region (initdb in a temporary directory)…')
  try {
    for (let i = 0; i < 3; i++) databases.push(await PostgresServer.start())
  } catch (e) {
    await stopDatabases()
    throw e
  }
}
const storeArgs = (i: number) => (onPostgres ? ['--store', databases[i]!.url()] : [])
console.log('starting three regions (eu, us, ap)…')
const cluster = await ProcessCluster.start({ nodes: ['eu', 'us', 'ap'], dataDir: root, imap: withImap, node: (i) => ({ args: ['--lmtp', '127.0.0.1:0', ...storeArgs(i)] }), logLevel: process.env.MAILWEAVE_LOG_LEVEL ?? 'error', onLog: (r, l) => process.stderr.write(`[${r}] ${l}\n`) }).catch(async (e: unknown) => {
  await stopDatabases() // a region that cannot start leaves no database behind
  throw e
})

let stopping = false
async function stop(code = 0): Promise<never> {
  if (!stopping) {
    stopping = true
    console.log('\nstopping the cluster…')
    await cluster.stop()
    await browser?.close()
    await stopDatabases()
    console.log('all regions stopped')
  }
  process.exit(code)
}
process.on('SIGINT', () => void stop())
process.on('SIGTERM', () => void stop())

const user = 'alice'
const password = 'wonderland'
await cluster.addUser(user, password)

let browser: { url: string; close(): Promise<void> } | undefined
if (process.env.MAILWEAVE_BROWSER !== '0') {
  try {
    const { serveExample } = await import('@mailweave/example-browser-mailbox/serve')
    browser = await serveExample({ config: { regions: cluster.nodes.map((r) => ({ id: r.id, url: r.url, label: r.id })), cluster: root, user, password } })
  } catch (e) {
    console.error(`(the browser example could not start: ${e instanceof Error ? e.message : String(e)})`)
  }
}

console.log(`\nmailweave: a local three-region cluster is running (data in ${onPostgres ? `private PostgreSQL servers: ${databases.map((d) => d.url()).join(', ')}; IMAP cache in ${root}` : root})\n`)
console.log('region  slot  HTTP / WebSocket            IMAP                   LMTP (for an MTA)')
for (const r of cluster.nodes) console.log(`${r.id.padEnd(7)} ${String(r.o.slot).padEnd(5)} ${r.url.padEnd(27)} ${(withImap ? `imap://127.0.0.1:${r.imapPort}` : '-').padEnd(22)} ${r.listeners.get('lmtp') ?? '-'}`)
if (browser !== undefined) console.log(`\nbrowser mailbox: open ${browser.url}`)
console.log(`\ndemo account: ${user} / ${password}`)
const [a, b] = cluster.nodes
console.log(`try: curl -u ${user}:${password} -X POST --data-binary $'Subject: hi\\r\\n\\r\\nhello\\r\\n' ${a!.url}/api/mailboxes/INBOX/messages`)
console.log(`     curl -u ${user}:${password} ${b!.url}/api/mailboxes/INBOX`)
if (withImap) console.log(`     curl -u ${user}:${password} 'imap://127.0.0.1:${b!.imapPort}/INBOX' -X 'UID FETCH 1:* (FLAGS ENVELOPE)'`)
console.log(`     swaks --protocol LMTP --server 127.0.0.1 --port ${a!.lmtpPort} --to ${user}@example.org   # deliver as an MTA would`)
console.log(`     node packages/cli/bin/mailweave.mjs inspect ${user}/INBOX --url ${b!.url} --secret-file ${cluster.secretFile}`)
console.log('\nCtrl-C stops every region.')
