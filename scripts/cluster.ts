/**
 * `pnpm start`: a local three-region cluster. Starts three node processes on loopback
 * (data under .data/cluster), creates a demo user, prints where everything listens, and
 * stops every node cleanly on Ctrl-C.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { adminToken } from '@mailweave/server'

const REGIONS = ['eu', 'us', 'ap']
const root = resolve(process.env.MAILWEAVE_DATA ?? '.data/cluster')
const withImap = process.env.MAILWEAVE_IMAP !== '0'

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer()
    s.once('error', rej)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => res(port))
    })
  })
}

mkdirSync(root, { recursive: true })
const secretFile = join(root, 'secret')
if (!existsSync(secretFile)) writeFileSync(secretFile, randomBytes(32).toString('hex') + '\n', { mode: 0o600 })
const http = await Promise.all(REGIONS.map(() => freePort()))
const imap = await Promise.all(REGIONS.map(() => freePort()))
const children: ChildProcess[] = []
const ready: Promise<void>[] = []
const bin = resolve('packages/cli/bin/mailweave.mjs')

REGIONS.forEach((region, i) => {
  const args = [bin, 'serve', '--node-id', region, '--slot', String(i), '--stride', String(REGIONS.length), '--data', join(root, region), '--listen', `127.0.0.1:${http[i]}`, '--secret-file', secretFile]
  REGIONS.forEach((peer, j) => {
    if (j !== i) args.push('--peer', `${peer}=http://127.0.0.1:${http[j]}`)
  })
  if (withImap) args.push('--imap', `127.0.0.1:${imap[i]}`)
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MAILWEAVE_LOG_LEVEL: process.env.MAILWEAVE_LOG_LEVEL ?? 'error' } })
  children.push(child)
  child.stderr!.on('data', (d: Buffer) => process.stderr.write(`[${region}] ${d}`))
  ready.push(
    new Promise((res, rej) => {
      const lines = createInterface({ input: child.stdout! })
      let need = withImap ? 2 : 1
      lines.on('line', (l) => {
        if (/ (http|imap) /.test(l) && --need === 0) res()
      })
      child.once('exit', (code) => rej(new Error(`region ${region} exited with code ${code} before it was ready`)))
    }),
  )
})

let stopping = false
async function stop(code = 0): Promise<never> {
  if (!stopping) {
    stopping = true
    console.log('\nstopping the cluster…')
    await Promise.all(children.map((c) => new Promise<void>((res) => {
      if (c.exitCode !== null) return res()
      c.once('exit', () => res())
      c.kill('SIGTERM')
    })))
    console.log('all regions stopped')
  }
  process.exit(code)
}
process.on('SIGINT', () => void stop())
process.on('SIGTERM', () => void stop())

try {
  await Promise.all(ready)
} catch (e) {
  console.error(String(e))
  await stop(1)
}

// A demo account, created at one region and replicated to the others.
const user = 'alice'
const password = 'wonderland'
const res = await fetch(`http://127.0.0.1:${http[0]}/api/admin/users`, {
  method: 'POST',
  headers: { authorization: `Bearer ${adminToken(new TextEncoder().encode((await import('node:fs')).readFileSync(secretFile, 'utf8').trim()))}`, 'content-type': 'application/json' },
  body: JSON.stringify({ name: user, password }),
})
if (!res.ok) console.error(`could not create the demo user: ${res.status} ${await res.text()}`)

console.log('\nmailweave: a local three-region cluster is running (data in ' + root + ')\n')
console.log('region  slot  HTTP / WebSocket               IMAP')
REGIONS.forEach((r, i) => console.log(`${r.padEnd(7)} ${String(i).padEnd(5)} http://127.0.0.1:${String(http[i]).padEnd(6)}         ${withImap ? `imap://127.0.0.1:${imap[i]}` : '-'}`))
console.log(`\ndemo account: ${user} / ${password}`)
console.log(`try: curl -u ${user}:${password} -X POST --data-binary $'Subject: hi\\r\\n\\r\\nhello\\r\\n' http://127.0.0.1:${http[0]}/api/mailboxes/INBOX/messages`)
console.log(`     curl -u ${user}:${password} http://127.0.0.1:${http[1]}/api/mailboxes/INBOX`)
console.log(`     node packages/cli/bin/mailweave.mjs inspect ${user}/INBOX --url http://127.0.0.1:${http[1]} --secret-file ${secretFile}`)
console.log('\nCtrl-C stops every region.')
