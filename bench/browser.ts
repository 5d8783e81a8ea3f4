/**
 * Browser benchmark (`node --import tsx bench/browser.ts`, ~1 minute): a 10,000-message
 * mailbox opened by the example app in headless Chromium.
 * - cold: first sign-in, the mailbox downloaded from the node over y-websocket;
 * - warm: page reload, the mailbox loaded from IndexedDB (time to the first rendered list,
 *   and the bytes the page downloads for it);
 * - in the same page (bench.html): @mailweave/browser opening the stored document to a
 *   rendered list vs raw Yjs loading the same stored bytes and listing the newest by UID.
 * Writes bench/results/browser.json and prints a one-line summary.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as Y from 'yjs'
import { chromium, type Page } from 'playwright-core'
import { openMailbox } from '@mailweave/core'
import { MailNode, silentLogger } from '@mailweave/server'
import { buildExample, previewExample } from '@mailweave/example-browser-mailbox/serve'

const MESSAGES = Number(process.env.MAILWEAVE_BENCH_BROWSER_MESSAGES ?? 10_000)
const WARM_RUNS = 3
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d
const started = performance.now()
const dirs: string[] = []
const temp = (p: string) => {
  const d = mkdtempSync(join(tmpdir(), p))
  dirs.push(d)
  return d
}

// ---------------------------------------------------------------- a node with a 10k mailbox
const node = await MailNode.start(
  {
    nodeId: 'eu',
    slot: 0,
    stride: 1,
    dataDir: temp('mw-bench-browser-'),
    host: '127.0.0.1',
    port: 0,
    peers: [],
    secret: new Uint8Array(32).fill(3),
  },
  silentLogger(),
)
await node.addUser('alice', 'wonderland')
const inbox = (await node.openMailbox('alice', 'INBOX'))!
const entry = inbox.entry
{
  // the node's own facts, built in a side document (bodies are not needed for a list)
  const side = new Y.Doc()
  const mb = openMailbox(side, { replica: 'eu', slot: 0, stride: 1, uidValidity: entry.uidValidity })
  const enc = new TextEncoder()
  const t0 = Date.parse('2026-01-01T00:00:00Z')
  for (let i = 0; i < MESSAGES; i++) {
    mb.append(
      enc.encode(
        `From: Sender ${i % 97} <sender${i % 97}@example.org>\r\nTo: alice@example.org\r\nSubject: Message number ${i} about topic ${i % 13}\r\nDate: ${new Date(t0 + i * 60_000).toUTCString()}\r\nMessage-ID: <m${i}@example.org>\r\n\r\nBody ${i}\r\n`,
      ),
      { internalDate: new Date(t0 + i * 60_000), flags: i % 3 === 0 ? ['\\Seen'] : [] },
    )
  }
  mb.destroy()
  Y.applyUpdate(inbox.mailbox.doc, Y.encodeStateAsUpdate(side))
  await inbox.flush()
  inbox.release()
}

// ---------------------------------------------------------------- the example, built and served
const outDir = temp('mw-bench-dist-')
await buildExample({ outDir })
const server = await previewExample({
  outDir,
  config: { regions: [{ id: 'eu', url: node.url }], cluster: 'bench', user: 'alice', password: 'wonderland' },
})
const browser = await chromium.launch({
  executablePath: process.env.MAILWEAVE_CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: CHROMIUM_ARGS,
})
const context = await browser.newContext({ viewport: { width: 1360, height: 900 } })
const page = await context.newPage()

const bytes = { ws: 0, http: 0 }
page.on('websocket', (ws) =>
  ws.on('framereceived', (f) => (bytes.ws += typeof f.payload === 'string' ? Buffer.byteLength(f.payload) : f.payload.length)),
)
page.on('requestfinished', (req) => {
  void req.sizes().then(
    (s) => (bytes.http += s.responseBodySize + s.responseHeadersSize),
    () => undefined,
  )
})
const reset = () => {
  bytes.ws = 0
  bytes.http = 0
}

interface Probe {
  startedAt: number
  accountOpenAt?: number
  firstListAt?: number
  firstListRows?: number
}
const probe = (p: Page) => p.evaluate(() => (window as unknown as { __mailweave: Probe }).__mailweave)
const waitProbe = (p: Page) =>
  p.waitForFunction(() => ((window as unknown as { __mailweave?: Probe }).__mailweave?.firstListRows ?? 0) > 0, undefined, {
    timeout: 60_000,
    polling: 20,
  })
const waitSaved = (p: Page) =>
  p.waitForFunction(
    () => {
      const s = document.querySelector<HTMLElement>('[data-testid=status]')
      return s?.dataset.synced === 'true' && s.dataset.pendingWrites === '0'
    },
    undefined,
    { timeout: 60_000, polling: 50 },
  )

// cold: sign in, the mailbox comes from the node
await page.goto(`${server.url}/?region=eu`)
await page.getByTestId('login-submit').waitFor()
reset()
const clickAt = await page.evaluate(() => performance.now())
await page.getByTestId('login-submit').click()
await waitProbe(page)
const cold = await probe(page)
await waitSaved(page)
const coldBytes = { ...bytes }

// warm: reload, the mailbox comes from IndexedDB
const warm: { firstListMs: number; accountOpenMs: number; ws: number; http: number; heapMB: number }[] = []
for (let i = 0; i < WARM_RUNS; i++) {
  reset()
  await page.reload()
  await waitProbe(page)
  const p = await probe(page)
  await waitSaved(page)
  const heap = await page.evaluate(() => (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize ?? 0)
  warm.push({ firstListMs: p.firstListAt!, accountOpenMs: p.accountOpenAt!, ws: bytes.ws, http: bytes.http, heapMB: heap / 2 ** 20 })
}

// the same stored document, in one page: @mailweave/browser vs raw Yjs
const bench = await context.newPage()
await bench.goto(`${server.url}/bench.html?namespace=${encodeURIComponent('bench/alice/eu')}&user=alice&mailbox=INBOX&runs=5`)
const inPage = await bench.evaluate(
  () =>
    (window as unknown as { __bench: Promise<{ messages: number; rawYjsMs: number[]; mailweaveMs: number[]; storedBytes: number }> })
      .__bench,
)
const version = browser.version()
await browser.close()
await server.close()
await node.stop()
for (const d of dirs) rmSync(d, { recursive: true, force: true })

const w = {
  firstListMs: round(median(warm.map((x) => x.firstListMs))),
  accountOpenMs: round(median(warm.map((x) => x.accountOpenMs))),
  wsBytes: median(warm.map((x) => x.ws)),
  httpBytes: median(warm.map((x) => x.http)),
  heapMB: round(median(warm.map((x) => x.heapMB))),
}
const ours = round(median(inPage.mailweaveMs))
const raw = round(median(inPage.rawYjsMs))
const result = {
  messages: MESSAGES,
  chromium: version,
  cold: { signInToFirstListMs: round(cold.firstListAt! - clickAt), wsBytes: coldBytes.ws, httpBytes: coldBytes.http },
  warm: { ...w, note: 'page reload: ms from navigation start (JS load included); bytes downloaded by the page until it is in sync again' },
  inPage: {
    mailweaveMs: ours,
    rawYjsMs: raw,
    ratio: round(ours / raw, 2),
    storedBytes: inPage.storedBytes,
    runs: { mailweave: inPage.mailweaveMs.map((x) => round(x)), rawYjs: inPage.rawYjsMs.map((x) => round(x)) },
  },
  seconds: round((performance.now() - started) / 1000),
  date: new Date().toISOString(),
  summary: '',
}
const kb = (b: number) => (b < 10_240 ? `${b} B` : `${round(b / 1024)} KiB`)
result.summary = [
  `| browser, ${MESSAGES.toLocaleString('en')}-message mailbox (headless Chromium) | mailweave | reference |`,
  '|---|---|---|',
  `| page reload to first rendered list (from IndexedDB) | ${w.firstListMs} ms (account open at ${w.accountOpenMs} ms) | |`,
  `| stored document to rendered list, same page | ${ours} ms | raw Yjs (apply + scan + list): ${raw} ms (${result.inPage.ratio}×) |`,
  `| bytes downloaded on reload | ${kb(w.wsBytes)} sync + ${kb(w.httpBytes)} HTTP | first sign-in: ${kb(coldBytes.ws)} sync + ${kb(coldBytes.http)} HTTP |`,
  `| first sign-in to first rendered list (from the node) | ${result.cold.signInToFirstListMs} ms | |`,
].join('\n')
mkdirSync('bench/results', { recursive: true })
writeFileSync('bench/results/browser.json', JSON.stringify(result, null, 2) + '\n')
console.log(
  `browser: ${MESSAGES} msgs — reload to first list ${w.firstListMs} ms (${kb(w.wsBytes)} sync + ${kb(w.httpBytes)} HTTP); IndexedDB→list ${ours} ms vs raw Yjs ${raw} ms (${result.inPage.ratio}×); cold sign-in ${result.cold.signInToFirstListMs} ms, ${kb(coldBytes.ws)} over the socket; ${result.seconds} s total`,
)
