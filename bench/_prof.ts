import * as Y from 'yjs'
import { openMailbox } from '@mailweave/core'
const N = 30000
const raw = (i: number) => new TextEncoder().encode(`From: Sender ${i % 97} <s${i % 97}@example.org>\r\nTo: you@example.org\r\nSubject: Benchmark message number ${i}\r\nDate: Sun, 29 Nov 2026 00:00:00 +0000\r\nMessage-ID: <${i}.bench@example.org>\r\n\r\nHello ${i}\r\n`)
const doc = new Y.Doc()
doc.on('update', () => {})
const mb = openMailbox(doc, { replica: 'N0', slot: 0, stride: 3, uidValidity: 1 })
let t = performance.now()
for (let i = 0; i < N; i++) { mb.append(raw(i)); mb.expose() }
console.log(((performance.now() - t) / N * 1000).toFixed(1), 'us per append+expose')
