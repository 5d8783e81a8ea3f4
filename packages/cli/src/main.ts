import { readFileSync } from 'node:fs'
import { Command, InvalidArgumentError } from 'commander'
import { SingleBar, Presets } from 'cli-progress'
import type { MailboxInspection } from '@mailweave/core'
import { MailNode, type NodeConfig, type PeerConfig } from '@mailweave/server'
import { ApiError, NodeApi } from '@mailweave/client'
import { adminApi, explain, httpUrl, readSecret } from './client.ts'
import { openS3Blobs } from './openS3Blobs.ts'
import { openPgStorage, type RegionProcess } from './openPgStorage.ts'
import { countMessages, detectSource, importKey, readMessages } from './importMail.ts'

const int = (name: string) => (v: string) => {
  const n = Number(v)
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`${name} must be an integer`)
  return n
}

function hostPort(v: string): { host: string; port: number } {
  const m = /^(?:\[?([^\]]*)\]?:)?(\d+)$/.exec(v)
  if (m === null) throw new InvalidArgumentError(`expected host:port, got ${v}`)
  return { host: m[1] || '127.0.0.1', port: Number(m[2]) }
}

function peer(v: string, prev: PeerConfig[] = []): PeerConfig[] {
  const i = v.indexOf('=')
  if (i <= 0) throw new InvalidArgumentError(`peer must be id=url, got ${v}`)
  return [...prev, { id: v.slice(0, i), url: v.slice(i + 1) }]
}

interface ServeOptions {
  config?: string
  nodeId?: string
  slot?: number
  stride?: number
  data?: string
  store?: string
  blobs?: string
  listen?: { host: string; port: number }
  peer?: PeerConfig[]
  secretFile?: string
  imap?: { host: string; port: number }
  lmtp?: { host: string; port: number }
  maxMessageSize?: number
  allowPlaintextAuth?: boolean
  verifyTimeout?: number
  bodyWait?: number
  docBudget?: number
  rejoin?: boolean
  tlsCert?: string
  tlsKey?: string
  process?: string
  leaseTtl?: number
  maxAccounts?: number
  advertiseHost?: string
}

const kebab = (k: string) => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)

/** Checks the multi-process options of `serve`: a process name, a postgres store, sane lease figures. */
function regionProcess(name: string, store: string, o: { leaseTtlMs?: number; maxAccounts?: number }): RegionProcess {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name))
    throw new InvalidArgumentError(`--process ${JSON.stringify(name)} must be 1-64 characters of A-Z a-z 0-9 . _ -`)
  if (store === 'files')
    throw new InvalidArgumentError(
      '--process needs --store postgres://…: the processes of a region share one database (the file store serves one process)',
    )
  const leaseTtlMs = o.leaseTtlMs ?? 10_000
  if (leaseTtlMs < 500 || leaseTtlMs > 600_000) throw new InvalidArgumentError(`--lease-ttl must be in [500, 600000] ms, got ${leaseTtlMs}`)
  if (o.maxAccounts !== undefined && o.maxAccounts < 1)
    throw new InvalidArgumentError(`--max-accounts must be at least 1, got ${o.maxAccounts}`)
  return { process: name, leaseTtlMs, maxAccounts: o.maxAccounts }
}

/** The `mailweave` command line. */
export async function main(argv: string[]): Promise<void> {
  const program = new Command('mailweave').description('mailweave: replicated mailboxes with valid IMAP UIDs').showHelpAfterError()

  program
    .command('serve')
    .description('run a node')
    .option('--config <file>', 'JSON config file (keys as the long options, camelCased)')
    .option('--node-id <id>', 'stable node id (default: N0)')
    .option('--slot <n>', 'UID residue class of this node (default: 0)', int('slot'))
    .option('--stride <k>', 'number of slots, fixed per cluster (default: 1)', int('stride'))
    .option(
      '--data <dir>',
      'data directory (default: .data/node; all data with the file store; only the IMAP cache with --store postgres://…)',
    )
    .option(
      '--store <where>',
      "'files' (the embedded store in --data, the default) or a PostgreSQL URL postgres://user@host:port/db (password from $PGPASSWORD)",
    )
    .option(
      '--blobs <url>',
      'keep message bodies in an S3 bucket instead of the --store: s3://bucket/prefix[?endpoint=http://host:port&region=…] (credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the AWS SDK chain)',
    )
    .option('--listen <host:port>', 'HTTP/WebSocket listen address (default: 127.0.0.1:7100)', hostPort)
    .option('--peer <id=url>', 'a peer node (repeatable)', peer)
    .option('--secret-file <file>', 'cluster secret file (required)')
    .option('--imap <host:port>', 'also serve IMAP on this address', hostPort)
    .option('--lmtp <host:port>', 'also accept deliveries from an MTA over LMTP on this address (loopback or a private network)', hostPort)
    .option(
      '--max-message-size <bytes>',
      'largest message taken by IMAP APPEND, LMTP and the API (default 52428800)',
      int('max-message-size'),
    )
    .option('--allow-plaintext-auth', 'allow LOGIN without TLS from non-loopback clients')
    .option('--tls-cert <file>', 'PEM certificate for IMAP STARTTLS')
    .option('--tls-key <file>', 'PEM private key for IMAP STARTTLS')
    .option('--verify-timeout <ms>', 'bound of the fast path wait for peers before an exposure', int('verify-timeout'))
    .option('--body-wait <ms>', 'how long a FETCH waits for a peer to send a body this node lacks (default 5000)', int('body-wait'))
    .option(
      '--doc-budget <MiB>',
      'memory budget for loaded documents, in MiB of estimated heap (3.5x their encoded size plus 8 KiB each): past it the least recently used idle ones unload at once (default: none, idle ones unload after 60 s)',
      int('doc-budget'),
    )
    .option(
      '--process <name>',
      'run as one of several processes of the region sharing the --store postgres:// database (each account is served by one process at a time; the others forward to it); needs a postgres store',
    )
    .option('--lease-ttl <ms>', 'with --process: how long an account lease lasts without renewal (default 10000)', int('lease-ttl'))
    .option('--max-accounts <n>', 'with --process: the most accounts this process owns at once (default: no cap)', int('max-accounts'))
    .option(
      '--advertise-host <host>',
      'with --process: the host the other processes of the region dial for this one (default: the listen host; needed when listening on 0.0.0.0)',
    )
    .option(
      '--rejoin',
      "after this node's data was damaged or lost: set it aside and fetch everything again from the peers under a new replica id; needs a --slot this node never used (see docs/deployment.md)",
    )
    .action(async (opts: ServeOptions) => {
      const file = opts.config !== undefined ? (JSON.parse(readFileSync(opts.config, 'utf8')) as Record<string, unknown>) : {}
      const pick = <T>(k: string, v: T | undefined): T | undefined => v ?? (file[k] as T | undefined)
      const listen = pick('listen', opts.listen) ?? { host: '127.0.0.1', port: 7100 }
      const secretFile = pick<string>('secretFile', opts.secretFile)
      if (secretFile === undefined) throw new InvalidArgumentError('--secret-file is required (the cluster secret shared by every node)')
      const imapAddr = pick<string | { host: string; port: number }>('imap', opts.imap)
      const tlsCert = pick<string>('tlsCert', opts.tlsCert)
      const lmtpAddr = pick<string | { host: string; port: number }>('lmtp', opts.lmtp)
      const config: NodeConfig = {
        nodeId: pick<string>('nodeId', opts.nodeId) ?? 'N0',
        slot: pick<number>('slot', opts.slot) ?? 0,
        stride: pick<number>('stride', opts.stride) ?? 1,
        dataDir: pick<string>('data', opts.data) ?? '.data/node',
        host: typeof listen === 'string' ? hostPort(listen).host : listen.host,
        port: typeof listen === 'string' ? hostPort(listen).port : listen.port,
        peers: pick<PeerConfig[]>('peers', opts.peer) ?? [],
        secret: readSecret(secretFile),
        verifyTimeoutMs: pick<number>('verifyTimeout', opts.verifyTimeout),
        maxMessageBytes: pick<number>('maxMessageSize', opts.maxMessageSize),
        imap:
          imapAddr === undefined
            ? undefined
            : {
                ...(typeof imapAddr === 'string' ? hostPort(imapAddr) : imapAddr),
                allowPlaintextAuth: opts.allowPlaintextAuth === true || file.allowPlaintextAuth === true,
                tls: tlsCert !== undefined ? { certFile: tlsCert, keyFile: pick<string>('tlsKey', opts.tlsKey) ?? '' } : undefined,
              },
        bodyWaitMs: pick<number>('bodyWait', opts.bodyWait),
        docBudgetBytes: ((mib) => (mib === undefined ? undefined : mib * 1024 * 1024))(pick<number>('docBudget', opts.docBudget)),
        lmtp: lmtpAddr === undefined ? undefined : typeof lmtpAddr === 'string' ? hostPort(lmtpAddr) : lmtpAddr,
        rejoin: opts.rejoin === true,
      }
      const store = pick<string>('store', opts.store) ?? 'files'
      const processName = pick<string>('process', opts.process)
      const region =
        processName === undefined
          ? undefined
          : regionProcess(processName, store, {
              leaseTtlMs: pick<number>('leaseTtl', opts.leaseTtl),
              maxAccounts: pick<number>('maxAccounts', opts.maxAccounts),
            })
      if (processName === undefined)
        for (const k of ['leaseTtl', 'maxAccounts', 'advertiseHost'] as const)
          if (pick(k, opts[k]) !== undefined) throw new InvalidArgumentError(`--${kebab(k)} needs --process`)
      config.advertiseHost = pick<string>('advertiseHost', opts.advertiseHost)
      const blobs = pick<string>('blobs', opts.blobs)
      if (blobs !== undefined) config.blobs = await openS3Blobs(blobs)
      if (store !== 'files') config.storage = await openPgStorage(store, region)
      // a listener that cannot bind fails the start (MailNode.start rejects): no half-running node
      const node = await MailNode.start(config)
      console.log(`mailweave node ${config.nodeId} http ${node.url}`)
      if (node.imapUrl !== undefined) console.log(`mailweave node ${config.nodeId} imap ${node.imapUrl}`)
      if (node.lmtpUrl !== undefined) console.log(`mailweave node ${config.nodeId} lmtp ${node.lmtpUrl}`)
      // scripts and the test harness wait for this line: every listener accepts connections
      console.log(`mailweave node ${config.nodeId} ready`)
      let stopping = false
      const stop = async () => {
        if (stopping) return
        stopping = true
        await node.stop()
        process.exit(0)
      }
      process.on('SIGINT', () => void stop())
      process.on('SIGTERM', () => void stop())
    })

  const admin = (cmd: Command) =>
    cmd.requiredOption('--url <url>', 'node HTTP URL', httpUrl).requiredOption('--secret-file <file>', 'cluster secret file')
  /** Runs an admin command's calls; errors come out as causes (see explain). */
  const asAdmin = async <T>(o: { url: string; secretFile: string }, fn: (api: NodeApi) => Promise<T>): Promise<T> => {
    try {
      return await fn(adminApi(o.url, o.secretFile))
    } catch (e) {
      throw explain(e, o.url, 'admin')
    }
  }

  admin(program.command('status').description('show a node as JSON: peers, storage, exposures'))
    .option(
      '--wait [seconds]',
      'first wait (default 30 s) until the node answers and every peer link is open; exit 1 if not (for readiness checks)',
      int('wait'),
    )
    .action(async (o: { url: string; secretFile: string; wait?: number | true }) => {
      const status = await asAdmin(o, (api) => (o.wait === undefined ? api.status() : waitReady(api, o.url, o.wait === true ? 30 : o.wait)))
      console.log(JSON.stringify(status, null, 2))
    })

  admin(
    program.command('inspect <mailbox>').description('protocol state of <user>/<mailbox>: bindings, W, Seen, R, fixups, stranded'),
  ).action(async (target: string, o: { url: string; secretFile: string }) => {
    const i = target.indexOf('/')
    if (i <= 0) throw new InvalidArgumentError('expected <user>/<mailbox>')
    const data = await asAdmin(o, (api) =>
      api.request<Inspection>('GET', `/api/inspect/${encodeURIComponent(target.slice(0, i))}/${encodeURIComponent(target.slice(i + 1))}`),
    )
    printInspection(data)
  })

  const user = program.command('user').description('manage users (saved at one node; they spread to the others asynchronously)')
  admin(
    user
      .command('add <name>')
      .description(
        'create a user or set its password at the node of --url; the other nodes learn it once replication reaches them (seconds; later while a link is down)',
      )
      .option('--password <password>', 'password (default: $MAILWEAVE_PASSWORD)'),
  ).action(async (name: string, o: { url: string; secretFile: string; password?: string }) => {
    const password = o.password ?? process.env.MAILWEAVE_PASSWORD
    if (password === undefined) throw new InvalidArgumentError('give --password or set MAILWEAVE_PASSWORD')
    await asAdmin(o, (api) => api.setPassword(name, password))
    console.log(`user ${name} saved`)
  })

  program
    .command('import <mailbox> <path>')
    .description('import an mbox file or a Maildir into <user>/<mailbox>')
    .requiredOption('--url <url>', 'node HTTP URL', httpUrl)
    .option('--password <password>', "the user's password (default: $MAILWEAVE_PASSWORD)")
    .action(async (target: string, path: string, o: { url: string; password?: string }) => {
      const i = target.indexOf('/')
      if (i <= 0) throw new InvalidArgumentError('expected <user>/<mailbox>')
      const user = target.slice(0, i)
      const mailbox = target.slice(i + 1)
      const password = o.password ?? process.env.MAILWEAVE_PASSWORD
      if (password === undefined) throw new InvalidArgumentError('give --password or set MAILWEAVE_PASSWORD')
      // what the path is, before anything is created: no empty mailbox left behind for a wrong path
      const source = await detectSource(path)
      const total = await countMessages(source)
      const token = await new NodeApi(o.url, { user, password }).token().catch((e: unknown) => {
        throw explain(e, o.url, 'user')
      })
      const api = new NodeApi(o.url, { token })
      if (!(await api.mailboxes()).some((m) => m.name === mailbox)) await api.createMailbox(mailbox)
      // idempotent: a message whose content and INTERNALDATE are there already (as often as in the source) is skipped
      const present = new Map<string, number>()
      for (const e of await api.digests(mailbox)) {
        for (const k of [`${e.hash}/${e.internalDate === undefined ? '*' : Date.parse(e.internalDate)}`, `${e.hash}/*`])
          present.set(k, (present.get(k) ?? 0) + 1)
      }
      const bar = new SingleBar(
        { format: 'importing {bar} {value}/{total} messages | {eta}s left', stream: process.stderr },
        Presets.shades_classic,
      )
      bar.start(total, 0)
      let n = 0
      let skipped = 0
      for await (const m of readMessages(source)) {
        const key = importKey(m.raw, m.internalDate)
        const left = present.get(key) ?? 0
        if (left > 0) {
          present.set(key, left - 1)
          skipped++
          bar.update(n + skipped)
          continue
        }
        await api.append(mailbox, m.raw, { flags: m.flags, internalDate: m.internalDate })
        n++
        bar.update(n + skipped)
      }
      bar.stop()
      if (skipped > 0) console.log(`skipped ${skipped} messages already in ${target} (same content and date)`)
      console.log(`imported ${n} messages into ${target}`)
    })

  const control = (cmd: Command) =>
    cmd.option('--control <url>', 'link control of `pnpm start` (default: $MAILWEAVE_CONTROL or http://127.0.0.1:7190)')
  const link = program
    .command('link')
    .description('cut and heal the peer links of a local cluster started by `pnpm start` (watch the protocol live)')
  control(link.command('list', { isDefault: true }).description('list the links and whether each is cut')).action(
    async (o: { control?: string }) => {
      printLinks(await linkControl(o.control, 'GET', '/links'))
    },
  )
  for (const action of ['cut', 'heal'] as const) {
    control(link.command(`${action} <link>`).description(`${action} one link (<a>-<b>, e.g. eu-us) or every link (all)`)).action(
      async (name: string, o: { control?: string }) => {
        printLinks(await linkControl(o.control, 'POST', `/links/${encodeURIComponent(name)}/${action}`))
      },
    )
  }

  try {
    await program.parseAsync(argv)
  } catch (e) {
    console.error(`mailweave: ${e instanceof Error ? e.message : String(e)}`)
    process.exitCode = 1
  }
}

/** The JSON of `GET /api/inspect/:user/:name`: core's inspection plus the node, the mailbox entry and its stats. */
type Inspection = MailboxInspection & {
  node: { nodeId: string }
  mailbox: { name: string; uidValidity: number }
  stats: Record<string, number>
}

function printInspection(d: Inspection): void {
  console.log(`mailbox ${d.mailbox.name}  UIDVALIDITY ${d.mailbox.uidValidity}  at node ${d.node.nodeId}  ceiling ${d.ceiling}`)
  console.log('\nnode     slot  W (watermark)  R (reserved)  Seen (ranges)')
  const nodes = new Set([...Object.keys(d.watermarks), ...Object.keys(d.reservations), ...Object.values(d.claims).flat()])
  for (const n of [...nodes].sort()) {
    const slot = Object.entries(d.claims).find(([, ids]) => ids.includes(n))?.[0] ?? '-'
    const seen = d.seen[n] ?? []
    const ranges: string[] = []
    for (let i = 0; i < seen.length; i += 2) ranges.push(seen[i] === seen[i + 1] ? `${seen[i]}` : `${seen[i]}-${seen[i + 1]}`)
    const shown = ranges.length > 8 ? [...ranges.slice(0, 4), '…', ...ranges.slice(-3)] : ranges
    console.log(
      `${n.padEnd(8)} ${slot.padEnd(5)} ${String(d.watermarks[n] ?? 0).padEnd(14)} ${String(d.reservations[n] ?? 0).padEnd(13)} ${shown.join(',')}`,
    )
  }
  console.log(
    `\nfixups here: ${d.stats.fixupsSilent ?? 0} silent, ${d.stats.fixupsDuplicate ?? 0} duplicate-on-seen, ${d.stats.edgeBinds ?? 0} edge binds; stranded now: ${d.stranded.length}`,
  )
  console.log('\n     uid  guid              allocator  state')
  for (const b of d.bindings) console.log(`${String(b.uid).padStart(8)}  ${b.guid.slice(0, 16)}  ${b.allocator.padEnd(9)}  ${b.state}`)
  for (const g of d.stranded) console.log(`stranded (no valid uid): ${g}`)
}

interface LinkList {
  links: { id: string; cut: boolean }[]
}

/** Calls the link control of `pnpm start`; errors name an unreachable control and the control's own message. */
async function linkControl(url: string | undefined, method: 'GET' | 'POST', path: string): Promise<LinkList> {
  const base = httpUrl(url ?? process.env.MAILWEAVE_CONTROL ?? 'http://127.0.0.1:7190').replace(/\/+$/, '')
  const r = await new NodeApi(base).call(method, path).catch((e: unknown) => {
    throw explain(e, base, 'user', 'the link control (it runs with `pnpm start`)')
  })
  const data = r.data as Partial<LinkList> & { message?: string }
  if (r.status !== 200 || data.links === undefined) throw new Error(`${method} ${path}: ${r.status} ${data.message ?? ''}`)
  return data as LinkList
}

function printLinks(d: LinkList): void {
  for (const l of d.links) console.log(`${l.id.padEnd(12)} ${l.cut ? 'cut' : 'up'}`)
}

/** Polls a node's status until it answers and every peer link is open, for at most `seconds`; the last status, or an error naming what was missing. */
async function waitReady(api: NodeApi, url: string, seconds: number): Promise<unknown> {
  const deadline = Date.now() + seconds * 1000
  for (;;) {
    let why: string
    try {
      const s = await api.status<{ peers: { id: string; state: string }[] }>()
      const down = s.peers.filter((p) => p.state !== 'open')
      if (down.length === 0) return s
      why = `peer links not open: ${down.map((p) => `${p.id} (${p.state})`).join(', ')}`
    } catch (e) {
      // a wrong secret does not get better by waiting; an unreachable node may
      if (!(e instanceof ApiError) || e.code !== 'OFFLINE') throw e
      why = (explain(e, url, 'admin') as Error).message
    }
    if (Date.now() >= deadline) throw new Error(`not ready after ${seconds} s: ${why}`)
    await new Promise((r) => setTimeout(r, 250))
  }
}
