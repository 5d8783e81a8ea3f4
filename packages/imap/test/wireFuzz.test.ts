import { describe, expect, it } from 'vitest'
import { CommandReader } from '../src/wire/CommandReader.ts'
import { encodeToken, mailboxName } from '../src/wire/encode.ts'
import { parseCommand } from '../src/wire/parseCommand.ts'
import type { ParseResult } from '../src/wire/parseCommand.ts'
import type { ReaderEvent } from '../src/wire/CommandReader.ts'
import { CORPUS, describeEvents, randomChunks, rng } from './wireFixtures.ts'

const SEED = process.env.IMAP_FUZZ_SEED !== undefined ? Number(process.env.IMAP_FUZZ_SEED) : Math.floor(Math.random() * 2 ** 32)
// IMAP_FUZZ_INPUTS raises the count for a long local run; CI keeps the fast default.
const INPUTS = Number(process.env.IMAP_FUZZ_INPUTS ?? 5000)
const LIMITS = { maxLineLength: 256, maxLiteralSize: 64, maxCommandSize: 512 }
// Lines plus literals of one command, plus the line in progress (and its CR).
const BUFFER_BOUND = LIMITS.maxCommandSize + LIMITS.maxLineLength + 1

const NAMES = new Set([
  'CAPABILITY',
  'NOOP',
  'LOGOUT',
  'STARTTLS',
  'CHECK',
  'CLOSE',
  'UNSELECT',
  'IDLE',
  'NAMESPACE',
  'AUTHENTICATE',
  'LOGIN',
  'SELECT',
  'EXAMINE',
  'CREATE',
  'DELETE',
  'SUBSCRIBE',
  'UNSUBSCRIBE',
  'RENAME',
  'LIST',
  'LSUB',
  'STATUS',
  'APPEND',
  'EXPUNGE',
  'SEARCH',
  'FETCH',
  'STORE',
  'COPY',
  'MOVE',
  'ENABLE',
  'ID',
])
const ERROR_CODES = new Set(['LINE_TOO_LONG', 'LITERAL_TOO_BIG', 'COMMAND_TOO_BIG'])
const TOKENS = [
  '{',
  '}',
  '{5}\r\n',
  '{3+}\r\n',
  '{0}\r\n',
  '{70}\r\n',
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
  '  ',
  '*',
  ':',
  ',',
  '.',
  'NIL',
  '0',
  '4294967296',
  '9223372036854775808',
  '&',
  '-',
  '&AOQ-',
  '&-',
  'BODY[',
  'BODY.PEEK[',
  'HEADER.FIELDS (',
  'UID ',
  'NOT ',
  'OR ',
  '(CHANGEDSINCE 1 VANISHED)',
  '(QRESYNC (1 2 ',
  '\u0000',
  '\u00ff',
  'é',
  '\t',
  '%',
  '+',
  '=',
]
const WORDS = [
  'A1 ',
  'a ',
  'SELECT ',
  'FETCH ',
  'UID ',
  'SEARCH ',
  'STORE ',
  'APPEND ',
  'LIST ',
  'STATUS ',
  'LOGIN ',
  'ID ',
  'INBOX',
  '1:*',
  '5',
  'FLAGS',
  '\\Seen',
  'CHARSET ',
]

function generate(random: () => number): Buffer {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T
  const strategy = random()
  if (strategy < 0.15) {
    // Raw bytes, biased towards the printable range and line ends.
    return Buffer.from(
      Array.from({ length: Math.floor(random() * 120) }, () =>
        random() < 0.1 ? 0x0a : random() < 0.7 ? 0x20 + Math.floor(random() * 95) : Math.floor(random() * 256),
      ),
    )
  }
  if (strategy < 0.3) {
    return Buffer.from(
      `${Array.from({ length: 1 + Math.floor(random() * 12) }, () => (random() < 0.5 ? pick(WORDS) : pick(TOKENS))).join('')}\r\n`,
      'utf8',
    )
  }
  let bytes = Buffer.from(`${pick(CORPUS)}\r\n`, 'utf8')
  if (strategy < 0.45) return bytes // intact, only chunked at random
  if (strategy < 0.55)
    bytes = Buffer.concat([
      bytes.subarray(0, Math.floor(random() * bytes.length)),
      Buffer.from(`${pick(CORPUS)}\r\n`).subarray(Math.floor(random() * 20)),
    ])
  const mutations = 1 + Math.floor(random() * 4)
  for (let m = 0; m < mutations; m++) {
    const at = Math.floor(random() * (bytes.length + 1))
    const kind = random()
    if (kind < 0.25) bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from(pick(TOKENS), 'utf8'), bytes.subarray(at)])
    else if (kind < 0.45)
      bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(Math.min(bytes.length, at + 1 + Math.floor(random() * 8)))])
    else if (kind < 0.65) {
      const copy = Buffer.from(bytes)
      if (at < copy.length) copy[at] = Math.floor(random() * 256)
      bytes = copy
    } else if (kind < 0.8) bytes = Buffer.concat([bytes, bytes.subarray(at, at + Math.floor(random() * 40))])
    else if (kind < 0.9) bytes = bytes.subarray(0, at)
    else bytes = Buffer.concat([bytes.subarray(0, at), Buffer.alloc(Math.floor(random() * 300), 0x78), bytes.subarray(at)])
  }
  return bytes
}

// Plain checks in the hot loop: expect() per value would dominate the run time.
function check(condition: boolean, what: string): void {
  if (!condition) throw new Error(`check failed: ${what}`)
}

function checkParse(result: ParseResult): void {
  check(typeof result.ok === 'boolean', 'ok is a boolean')
  if (result.ok) {
    check(typeof result.command.tag === 'string' && result.command.tag.length > 0, 'command has a tag')
    check(NAMES.has(result.command.name), `known command name ${result.command.name}`)
    // Whatever a client managed to name, we can send back without breaking the stream.
    if ('mailbox' in result.command) check(encodeToken(mailboxName(result.command.mailbox)).length > 0, 'mailbox encodes')
  } else {
    check(typeof result.message === 'string' && result.message.length > 0, 'failure has a message')
    check(result.tag === undefined || typeof result.tag === 'string', 'failure tag')
  }
}

describe('wire fuzz', () => {
  it(`never throws and only yields commands or typed errors (seed ${SEED})`, () => {
    console.log(`wire fuzz seed ${SEED} (replay with IMAP_FUZZ_SEED=${SEED})`)
    const random = rng(SEED)
    const stats = { ok: 0, bad: 0, readerErrors: 0 }
    for (let i = 0; i < INPUTS; i++) {
      const input = generate(random)
      const chunks = randomChunks(input, random, 1 + Math.floor(random() * 40))
      try {
        const whole = new CommandReader(LIMITS).push(input)
        const reader = new CommandReader(LIMITS)
        const events: ReaderEvent[] = []
        for (const chunk of chunks) {
          events.push(...reader.push(chunk))
          check(reader.bufferedBytes <= BUFFER_BOUND, `buffered ${reader.bufferedBytes} <= ${BUFFER_BOUND}`)
        }
        check(JSON.stringify(describeEvents(events)) === JSON.stringify(describeEvents(whole)), 'chunking does not change the events')
        for (const event of events) {
          if (event.kind === 'error') {
            stats.readerErrors++
            check(ERROR_CODES.has(event.error.code), `error code ${event.error.code}`)
          } else if (event.kind === 'needContinuation') {
            check(event.size <= LIMITS.maxLiteralSize, 'continuation only for acceptable literals')
          } else {
            for (const utf8 of [false, true]) {
              const result = parseCommand(event.frame, { utf8 })
              checkParse(result)
              if (!utf8) stats[result.ok ? 'ok' : 'bad']++
            }
          }
        }
      } catch (e) {
        throw new Error(`seed ${SEED} input #${i} (${input.toString('hex')}): ${e instanceof Error ? e.stack : String(e)}`)
      }
    }
    console.log(`wire fuzz: ${stats.ok} parsed, ${stats.bad} rejected, ${stats.readerErrors} framing errors`)
    // The generator must keep reaching every layer, or this test proves nothing.
    expect(stats.ok).toBeGreaterThan(INPUTS / 10)
    expect(stats.bad).toBeGreaterThan(INPUTS / 10)
    expect(stats.readerErrors).toBeGreaterThan(INPUTS / 100)
  })
})
