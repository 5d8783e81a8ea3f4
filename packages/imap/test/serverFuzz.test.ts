// Seeded fuzzing of a live server: random and mutated command lines and literals over real
// sockets. The server must answer every batch, never log an unexpected error, keep answering
// NOOP, and leave the mailbox exactly as it was. Replay with IMAP_SERVER_FUZZ_SEED=<seed>.
import { afterAll, expect, it } from 'vitest'
import { RawClient, message, startServer } from './serverHelpers.ts'
import type { TestServer } from './serverHelpers.ts'
import { CORPUS, rng } from './wireFixtures.ts'

const SEED =
  process.env.IMAP_SERVER_FUZZ_SEED !== undefined ? Number(process.env.IMAP_SERVER_FUZZ_SEED) : Math.floor(Math.random() * 2 ** 32)
const BATCHES = Number(process.env.IMAP_SERVER_FUZZ_BATCHES ?? 60)
const PER_BATCH = 50
const MAX_LITERAL = 1024

const TOKENS = [
  '{',
  '}',
  '{5}\r\n',
  '{3+}\r\n',
  '{0}\r\n',
  '{70}\r\n',
  '{2000}\r\n',
  '{2000+}\r\n',
  '{99999999999}\r\n',
  '~{2}\r\n',
  '"',
  '\\',
  '(',
  ')',
  '[',
  ']',
  '<',
  '>',
  '\r\n',
  '\n',
  '\r',
  ' ',
  '*',
  ':',
  ',',
  '.',
  'NIL',
  '0',
  '4294967296',
  '9223372036854775808',
  '&',
  '&AOQ-',
  '\u0000',
  '\u00ff',
  'é',
  'BODY[',
  'BODY.PEEK[',
  'HEADER.FIELDS (',
  'UID ',
  'NOT ',
  'OR ',
  '(CHANGEDSINCE 1 VANISHED)',
  '(QRESYNC (1 2 ',
  '%',
  '+',
  '=',
  'DONE\r\n',
]
const WORDS = [
  'A1 ',
  'a ',
  'EXAMINE ',
  'FETCH ',
  'UID ',
  'SEARCH ',
  'STORE ',
  'STATUS ',
  'LIST ',
  'LSUB ',
  'ID ',
  'IDLE',
  'NOOP',
  'CHECK',
  'CLOSE',
  'EXPUNGE',
  'INBOX',
  '1:*',
  '*',
  '5',
  '1,2',
  'FLAGS',
  '\\Seen',
  'CHARSET ',
  'ENABLE QRESYNC',
  'NAMESPACE',
  'MOVE ',
  'RETURN (ALL) ',
  'MODSEQ ',
  'BODYSTRUCTURE',
]
const EXTRA = [
  'f1 UID FETCH 1:* (UID FLAGS ENVELOPE BODYSTRUCTURE BODY[] BODY.PEEK[1.MIME] BODY[2.HEADER.FIELDS (SUBJECT)]<0.5> RFC822.TEXT MODSEQ) (CHANGEDSINCE 1 VANISHED)',
  'f2 FETCH 1:* FULL',
  'f3 SEARCH OR TEXT a NOT BODY b',
  'f4 UID SEARCH RETURN (MIN MAX COUNT ALL) MODSEQ 1',
  'f5 STORE 1:* +FLAGS (\\Deleted)',
  'f6 EXPUNGE',
  'f7 UID MOVE 1:* Trash',
  'f8 EXAMINE INBOX (QRESYNC (1 1 1:9))',
  'f9 STATUS INBOX (MESSAGES UIDNEXT HIGHESTMODSEQ SIZE)',
  'f10 IDLE',
  'f11 CLOSE',
]
// Commands that may legitimately change the account or the mailbox (the fuzzed session only EXAMINEs).
const MUTATING = /APPEND|SELECT|RENAME|DELETE|CREATE|SUBSCRIBE|COPY|LOGOUT|STARTTLS|LOGIN|AUTHENTICATE/i

function generate(random: () => number): Buffer {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T
  const strategy = random()
  if (strategy < 0.1)
    return Buffer.from(
      Array.from({ length: Math.floor(random() * 200) }, () =>
        random() < 0.08 ? 0x0a : random() < 0.7 ? 0x20 + Math.floor(random() * 95) : Math.floor(random() * 256),
      ),
    )
  if (strategy < 0.25)
    return Buffer.from(
      `${Array.from({ length: 1 + Math.floor(random() * 12) }, () => (random() < 0.5 ? pick(WORDS) : pick(TOKENS))).join('')}\r\n`,
      'utf8',
    )
  if (strategy < 0.35) {
    // A literal whose announced size and actual bytes may disagree.
    const size = Math.floor(random() * (random() < 0.8 ? 64 : MAX_LITERAL * 2))
    const body = Buffer.from(Array.from({ length: Math.floor(random() < 0.7 ? size : random() * 80) }, () => Math.floor(random() * 256)))
    return Buffer.concat([
      Buffer.from(
        `${pick(['L1 STATUS ', 'L2 SEARCH TEXT ', 'L3 LIST "" ', 'L4 EXAMINE ', 'L5 FETCH 1 '])}{${size}${random() < 0.5 ? '+' : ''}}\r\n`,
      ),
      body,
      Buffer.from('\r\n'),
    ])
  }
  let bytes = Buffer.from(`${pick(random() < 0.3 ? EXTRA : CORPUS)}\r\n`, 'utf8')
  if (strategy < 0.5) return bytes
  const mutations = 1 + Math.floor(random() * 4)
  for (let m = 0; m < mutations; m++) {
    const at = Math.floor(random() * (bytes.length + 1))
    const kind = random()
    if (kind < 0.3) bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from(pick(TOKENS), 'utf8'), bytes.subarray(at)])
    else if (kind < 0.5)
      bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(Math.min(bytes.length, at + 1 + Math.floor(random() * 8)))])
    else if (kind < 0.7) {
      const copy = Buffer.from(bytes)
      if (at < copy.length) copy[at] = Math.floor(random() * 256)
      bytes = copy
    } else if (kind < 0.85) bytes = Buffer.concat([bytes, bytes.subarray(at, at + Math.floor(random() * 40))])
    else bytes = Buffer.concat([bytes.subarray(0, at), Buffer.alloc(Math.floor(random() * 300), 0x78), bytes.subarray(at)])
  }
  return bytes
}

let srv: TestServer | undefined
afterAll(async () => {
  await srv?.close()
})

it(`survives random and mutated input without changing the mailbox (seed ${SEED})`, async () => {
  console.log(`imap server fuzz seed: ${SEED} (replay with IMAP_SERVER_FUZZ_SEED=${SEED})`)
  const random = rng(SEED)
  srv = await startServer({ maxLiteralSize: MAX_LITERAL, maxLineLength: 4096 })
  const setup = await RawClient.connect(srv.port)
  await setup.login()
  for (const s of ['one', 'two', 'three']) {
    const m = message(s, 'plain body\r\n', 'Content-Type: text/plain; charset=utf-8\r\n')
    await setup.append(m, { flags: '(\\Flagged $Tag)' })
  }
  await setup.command('CREATE Trash')
  setup.close()
  const inbox = srv.backend.mailbox('alice', 'INBOX')!
  const state = (): string => JSON.stringify(inbox.view().messages)
  const before = state()

  const open = async (authenticated: boolean): Promise<RawClient> => {
    const c = await RawClient.connect(srv!.port)
    if (authenticated) {
      await c.login()
      await c.command('EXAMINE INBOX')
    }
    return c
  }
  const conns = [await open(false), await open(true)]
  let inputs = 0
  for (let batch = 0; batch < BATCHES; batch++) {
    const which = batch % 2
    const c = conns[which]!
    const chunks: Buffer[] = []
    let announced = 0
    while (chunks.length < PER_BATCH) {
      const input = generate(random)
      const text = input.toString('latin1')
      if (MUTATING.test(text)) continue
      // The server skips the bytes of an over-sized LITERAL+ exactly; keep what it may still
      // wait for within what the resync padding below supplies.
      const sizes = [...text.matchAll(/\{(\d{1,10})\+?\}/g)].map((m) => Number(m[1])).filter((n) => n <= 0xffffffff)
      const total = sizes.reduce((a, b) => a + b, 0)
      if (total > 20_000) continue
      announced += total
      chunks.push(input)
    }
    inputs += chunks.length
    for (const chunk of chunks) c.write(chunk)
    // Resynchronise: supply every literal byte the noise announced, end an IDLE, then a NOOP
    // that must be answered.
    const padLines = Math.ceil((announced + MAX_LITERAL + 16) / 1000)
    // The authenticated session goes back to EXAMINE INBOX for its next batch.
    c.write(`\r\n${`${'x'.repeat(998)}\r\n`.repeat(padLines)}DONE\r\n${which === 1 ? 'ZZE EXAMINE INBOX\r\n' : ''}ZZ${batch} NOOP\r\n`)
    try {
      await c.until((l) => l.startsWith(`ZZ${batch} OK`), 10_000)
    } catch (e) {
      throw new Error(`batch ${batch} (seed ${SEED}): ${(e as Error).message}`)
    }
  }
  expect(inputs).toBeGreaterThanOrEqual(BATCHES * PER_BATCH)
  for (const c of conns) c.close()
  const after = await RawClient.connect(srv.port)
  await after.login()
  expect((await after.command('NOOP')).pop()).toMatch(/OK/)
  expect((await after.command('LIST "" *')).slice(0, -1).sort()).toEqual([
    '* LIST (\\HasNoChildren) "/" "INBOX"',
    '* LIST (\\HasNoChildren) "/" "Trash"',
  ])
  after.close()
  expect(state()).toBe(before)
  expect(srv.errors.map((e) => `${e.context}: ${String(e.error)}`)).toEqual([])
})
