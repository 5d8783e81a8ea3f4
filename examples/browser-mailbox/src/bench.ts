/**
 * In-page benchmark (run by bench/browser.ts): opens one stored mailbox document from
 * IndexedDB to a rendered list, with @mailweave/browser and with raw Yjs, alternately.
 */
import * as Y from 'yjs'
import { createStore, promisifyRequest } from 'idb-keyval'
import { openAccount } from '@mailweave/browser'

interface Row {
  uid: number
  subject: string
  from: string
}

interface BenchResult {
  messages: number
  rawYjsMs: number[]
  mailweaveMs: number[]
  storedBytes: number
}

declare global {
  interface Window {
    __bench: Promise<BenchResult>
  }
}

const q = new URLSearchParams(location.search)
const namespace = q.get('namespace') ?? ''
const user = q.get('user') ?? 'alice'
const mailbox = q.get('mailbox') ?? 'INBOX'
const runs = Number(q.get('runs') ?? 3)
const rowsEl = document.getElementById('rows')!
const SHOWN = 30

function render(rows: Row[]): void {
  rowsEl.replaceChildren(
    ...rows.map((r) => {
      const d = document.createElement('div')
      d.textContent = `${r.uid}  ${r.from}  ${r.subject}`
      return d
    }),
  )
  void rowsEl.offsetHeight // force layout: "rendered"
}

/** Raw Yjs: read the stored entries, apply them, scan the facts, list the newest by UID. */
async function rawYjs(): Promise<{ ms: number; messages: number; bytes: number }> {
  const t0 = performance.now()
  const store = createStore(`mailweave:${namespace}/docs`, 'updates')
  const docName = `mbox/${user}/${mailbox}`
  const values = await store('readonly', (s: IDBObjectStore) => promisifyRequest(s.getAll(IDBKeyRange.bound([docName], [docName, []]))))
  const doc = new Y.Doc()
  doc.transact(() => {
    for (const v of values as Uint8Array[]) Y.applyUpdate(doc, v)
  })
  const facts = doc.getArray<unknown[]>('mailweave.log').toArray()
  const meta = new Map<string, { subject?: string; from?: string }>()
  const uidOf = new Map<string, number>()
  for (const f of facts) {
    if (f[0] === 'm') meta.set(f[1] as string, f[9] as { subject?: string; from?: string })
    else if (f[0] === 'b') {
      const cur = uidOf.get(f[2] as string)
      if (cur === undefined || (f[1] as number) < cur) uidOf.set(f[2] as string, f[1] as number)
    }
  }
  const list = [...uidOf].sort((a, b) => b[1] - a[1])
  render(list.slice(0, SHOWN).map(([guid, uid]) => ({ uid, subject: meta.get(guid)?.subject ?? '', from: meta.get(guid)?.from ?? '' })))
  const ms = performance.now() - t0
  const bytes = (values as Uint8Array[]).reduce((n, v) => n + v.byteLength, 0)
  doc.destroy()
  return { ms, messages: list.length, bytes }
}

/** @mailweave/browser: open the account offline from IndexedDB, open the mailbox, render its view. */
async function edge(): Promise<{ ms: number; messages: number }> {
  const t0 = performance.now()
  const account = await openAccount({
    nodeUrl: 'http://127.0.0.1:9',
    token: 'offline',
    user,
    replica: 'bench',
    online: false,
    idb: { namespace },
  })
  const mb = await account.mailbox(mailbox)
  const view = mb.view()
  const rows: Row[] = []
  for (let seq = view.size; seq >= 1 && rows.length < SHOWN; seq--) {
    const e = view.atSeq(seq)!
    const info = mb.message(e.guid)
    rows.push({ uid: e.uid, subject: info?.headers.subject ?? '', from: info?.headers.from ?? '' })
  }
  render(rows)
  const ms = performance.now() - t0
  await account.close()
  return { ms, messages: view.size }
}

async function run(): Promise<BenchResult> {
  const out: BenchResult = { messages: 0, rawYjsMs: [], mailweaveMs: [], storedBytes: 0 }
  const runRaw = async () => {
    const r = await rawYjs()
    out.rawYjsMs.push(r.ms)
    out.storedBytes = r.bytes
    out.messages = Math.max(out.messages, r.messages)
  }
  const runEdge = async () => {
    const r = await edge()
    out.mailweaveMs.push(r.ms)
    out.messages = Math.max(out.messages, r.messages)
  }
  for (let i = 0; i < runs; i++) {
    // alternate the order so caches and JIT warm-up favour neither
    for (const f of i % 2 === 0 ? [runRaw, runEdge] : [runEdge, runRaw]) await f()
  }
  document.getElementById('out')!.textContent = JSON.stringify(out, null, 2)
  return out
}

window.__bench = run()
