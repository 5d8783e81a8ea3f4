/**
 * LMTP delivery benchmark: deliveries per second into one node (in process, real files,
 * every 250 after the fsync), from a raw LMTP client on one connection and on eight, with
 * ten recipients per message, and end to end from a private Postfix (`sendmail` -> queue ->
 * LMTP) when Postfix is installed and this runs as root. Writes bench/results/lmtp.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execFileSync } from 'node:child_process'
import { MailNode, silentLogger } from '@mailweave/server'
import { LmtpClient, PrivatePostfix, waitFor } from '@mailweave/testkit'

const N = Number(process.env.BENCH_LMTP_MESSAGES ?? 2000)
const POSTFIX_N = Number(process.env.BENCH_LMTP_POSTFIX_MESSAGES ?? 500)
const progress = (m: string) => process.stderr.write(`[bench lmtp] ${m}\n`)
const root = mkdtempSync(join(tmpdir(), 'mailweave-bench-lmtp-'))
const message = (i: number) =>
  `From: Sender <s${i % 97}@example.org>\r\nTo: you@example.org\r\nSubject: LMTP benchmark message ${i}\r\nDate: Sun, 29 Nov 2026 00:00:00 +0000\r\nMessage-ID: <${i}.lmtp.bench@example.org>\r\n\r\n${'Hello world. '.repeat(20)}${i}\r\n`

const node = await MailNode.start(
  {
    nodeId: 'L0',
    slot: 0,
    stride: 1,
    dataDir: join(root, 'L0'),
    host: '127.0.0.1',
    port: 0,
    peers: [],
    secret: new Uint8Array(32).fill(5),
    lmtp: { host: '127.0.0.1', port: 0 },
  },
  silentLogger(),
)
const lmtpPort = Number(new URL(node.lmtpUrl!).port)
const users = Array.from({ length: 10 }, (_, i) => `u${i}`)
for (const u of users) await node.addUser(u, 'bench-password')

/** `count` messages over `connections` connections to `rcpts`; deliveries (message x recipient) per second. */
async function run(
  label: string,
  count: number,
  connections: number,
  rcpts: string[],
  offset: number,
): Promise<{ messages: number; connections: number; recipients: number; deliveriesPerSec: number; messagesPerSec: number }> {
  let next = 0
  const t = performance.now()
  await Promise.all(
    Array.from({ length: connections }, async () => {
      const c = await LmtpClient.connect(lmtpPort)
      await c.command('LHLO bench.test')
      while (next < count) {
        const i = next++
        const r = await c.send(
          'bench@example.org',
          rcpts.map((u) => `${u}@example.org`),
          message(offset + i),
        )
        if (r.data.length !== rcpts.length || r.data.some((x) => x.code !== 250))
          throw new Error(`delivery ${i} failed: ${JSON.stringify(r)}`)
      }
      await c.quit()
    }),
  )
  const s = (performance.now() - t) / 1000
  const out = {
    messages: count,
    connections,
    recipients: rcpts.length,
    deliveriesPerSec: Math.round((count * rcpts.length) / s),
    messagesPerSec: Math.round(count / s),
  }
  progress(`${label}: ${JSON.stringify(out)}`)
  return out
}

const rows = [
  await run('1 connection, 1 recipient', N, 1, ['u0'], 0),
  await run('8 connections, 1 recipient', N, 8, ['u1'], N),
  await run('8 connections, 10 recipients per message', Math.round(N / 10), 8, users, 2 * N),
]

let postfix: { messages: number; seconds: number; messagesPerSec: number; injectSeconds: number } | string
const hasPostfix = (() => {
  try {
    execFileSync('postconf', ['-d', 'mail_version'], { stdio: 'ignore' })
    return process.getuid?.() === 0
  } catch {
    return false
  }
})()
if (hasPostfix) {
  const pf = await PrivatePostfix.start(lmtpPort)
  try {
    // the queue is filled first (one sendmail process per message, as local programs submit
    // mail, which is slow), then the deliveries alone are timed: Postfix's LMTP client at its defaults
    await pf.hold(true)
    const t0 = performance.now()
    for (let i = 0; i < POSTFIX_N; i++) await pf.sendmail('bench@example.org', ['u2@example.org'], message(10 * N + i))
    const injectSeconds = Math.round((performance.now() - t0) / 10) / 100
    await waitFor(() => pf.count('deferred') >= POSTFIX_N, 300_000, 'every message queued', 200)
    const t = performance.now()
    await pf.hold(false)
    await waitFor(() => pf.count('sent') >= POSTFIX_N, 300_000, 'postfix to deliver everything', 100)
    const s = (performance.now() - t) / 1000
    if (pf.count('bounced') > 0) throw new Error(`postfix bounced some:\n${pf.log()}`)
    postfix = { messages: POSTFIX_N, seconds: Math.round(s * 100) / 100, messagesPerSec: Math.round(POSTFIX_N / s), injectSeconds }
    progress(`postfix end to end: ${JSON.stringify(postfix)}`)
  } finally {
    await pf.stop()
  }
} else postfix = 'skipped: needs Postfix and root'

await node.stop()
rmSync(root, { recursive: true, force: true })
mkdirSync(new URL('./results/', import.meta.url), { recursive: true })
writeFileSync(new URL('./results/lmtp.json', import.meta.url), JSON.stringify({ rows, postfix }, null, 2) + '\n')
