import { connect } from 'node:net'

/**
 * LOGIN, ENABLE CONDSTORE, SELECT INBOX, then `FETCH 1:* (UID FLAGS ENVELOPE MODSEQ)` (what
 * imapflow asks for) over a plain socket that parses nothing until the tagged OK: the
 * server's side of a listing, without the client's parsing. Returns ms from SELECT to the
 * FETCH's tagged OK and the number of `* n FETCH` responses received.
 */
export async function rawListing(port: number, user: string, pass: string): Promise<{ ms: number; fetched: number }> {
  const sock = connect(port, '127.0.0.1')
  sock.setNoDelay(true)
  let chunks: string[] = []
  let recent = ''
  let waiting: { tag: string; resolve: () => void; reject: (e: Error) => void } | undefined
  sock.on('data', (d: Buffer) => {
    const text = d.toString('latin1')
    chunks.push(text)
    recent = (recent + text).slice(-512)
    if (waiting === undefined) return
    const m = new RegExp(`(^|\\n)${waiting.tag} (OK|NO|BAD)[^\\r]*\\r\\n$`).exec(recent)
    if (m === null) return
    const w = waiting
    waiting = undefined
    if (m[2] === 'OK') w.resolve()
    else w.reject(new Error(m[0].trim()))
  })
  const cmd = (tag: string, line: string) =>
    new Promise<void>((resolve, reject) => {
      waiting = { tag, resolve, reject }
      sock.write(`${tag} ${line}\r\n`)
    })
  await new Promise<void>((resolve, reject) => {
    sock.once('data', () => resolve())
    sock.once('error', reject)
  })
  await cmd('a', `LOGIN ${user} ${pass}`)
  await cmd('b', 'ENABLE CONDSTORE')
  const t0 = performance.now()
  await cmd('c', 'SELECT INBOX')
  chunks = []
  await cmd('d', 'FETCH 1:* (UID FLAGS ENVELOPE MODSEQ)')
  const ms = performance.now() - t0
  const fetched = ('\n' + chunks.join('')).match(/\n\* \d+ FETCH \(/g)?.length ?? 0
  sock.end('e LOGOUT\r\n')
  return { ms, fetched }
}
