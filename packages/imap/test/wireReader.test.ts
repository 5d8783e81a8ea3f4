import { describe, expect, it } from 'vitest'
import { CommandReader, isIdleDone } from '../src/wire/CommandReader.ts'
import { parseCommand } from '../src/wire/parseCommand.ts'
import type { CommandFrame, CommandReaderOptions, ReaderEvent } from '../src/wire/CommandReader.ts'
import { CORPUS, describeEvents, lit, randomChunks, rng } from './wireFixtures.ts'

function feed(
  input: string | Buffer | readonly Buffer[],
  options?: CommandReaderOptions,
): { events: ReaderEvent[]; reader: CommandReader } {
  const reader = new CommandReader(options)
  const chunks = Array.isArray(input) ? input : [typeof input === 'string' ? Buffer.from(input, 'utf8') : (input as Buffer)]
  const events: ReaderEvent[] = []
  for (const chunk of chunks) events.push(...reader.push(chunk))
  return { events, reader }
}

function frameAt(events: readonly ReaderEvent[], i: number): CommandFrame {
  const e = events[i]
  if (e?.kind !== 'command') throw new Error(`event ${i} is not a command`)
  return e.frame
}

const text = (e: ReaderEvent | undefined): string =>
  e?.kind === 'command' ? e.frame.lines.map((l) => l.toString('latin1')).join('|') : `<${e?.kind}>`

describe('CommandReader framing', () => {
  it('splits pipelined lines, accepts bare LF and keeps empty lines as frames', () => {
    const { events, reader } = feed('a1 NOOP\r\na2 CHECK\nDONE\r\n\r\na3 LOG')
    expect(events.map(text)).toEqual(['a1 NOOP', 'a2 CHECK', 'DONE', ''])
    expect(reader.inCommand).toBe(true)
    expect(isIdleDone(frameAt(events, 2))).toBe(true)
    expect(isIdleDone(frameAt(events, 0))).toBe(false)
    expect(reader.push(Buffer.from('OUT\r')).length).toBe(0)
    expect(reader.push(Buffer.from('\n')).map(text)).toEqual(['a3 LOGOUT'])
    expect(reader.inCommand).toBe(false)
  })

  it('asks for a continuation before a synchronizing literal, not for LITERAL+', () => {
    const sync = feed(`A1 LOGIN ${lit('user')} ${lit('pass', true)}\r\n`).events
    expect(sync.map((e) => e.kind)).toEqual(['needContinuation', 'command'])
    expect(sync[0]).toEqual({ kind: 'needContinuation', tag: 'A1', size: 4 })
    const frame = sync[1]?.kind === 'command' ? sync[1].frame : undefined
    expect(frame?.lines.map(String)).toEqual(['A1 LOGIN {4}', ' {4+}', ''])
    expect(frame?.literals.map(String)).toEqual(['user', 'pass'])
  })

  it('emits the continuation as soon as the marker line is complete', () => {
    const reader = new CommandReader()
    expect(reader.push(Buffer.from('A2 APPEND INBOX {5}\r'))).toEqual([])
    expect(reader.push(Buffer.from('\n'))).toEqual([{ kind: 'needContinuation', tag: 'A2', size: 5 }])
    expect(reader.push(Buffer.from('he\r\n'))).toEqual([])
    const done = reader.push(Buffer.from('o\r\nA3 NOOP\r\n'))
    expect(done.map(text)).toEqual(['A2 APPEND INBOX {5}|', 'A3 NOOP'])
    expect(done[0]?.kind === 'command' && done[0].frame.literals[0]?.toString()).toBe('he\r\no')
  })

  it('handles zero-length literals and literal bytes that look like commands or markers', () => {
    const { events } = feed(`A1 LOGIN {0}\r\n {0+}\r\n\r\nA2 APPEND x ${lit('a\r\nA3 NOOP {5}\r\n', true)}\r\n`)
    expect(events.map((e) => e.kind)).toEqual(['needContinuation', 'command', 'command'])
    const login = events[1]?.kind === 'command' ? parseCommand(events[1].frame) : undefined
    expect(login).toEqual({ ok: true, command: { tag: 'A1', name: 'LOGIN', username: '', password: '' } })
    expect(events[2]?.kind === 'command' && events[2].frame.literals[0]?.toString()).toBe('a\r\nA3 NOOP {5}\r\n')
  })

  it('produces the same frames for every split point of every corpus command', () => {
    for (const command of CORPUS) {
      const bytes = Buffer.from(`${command}\r\n`, 'utf8')
      const whole = describeEvents(feed(bytes).events)
      expect(whole.at(-1)).toMatch(/^command /)
      for (let cut = 1; cut < bytes.length; cut++) {
        expect(describeEvents(feed([bytes.subarray(0, cut), bytes.subarray(cut)]).events)).toEqual(whole)
      }
    }
  })

  it('produces the same frames for random chunkings of the whole corpus as one stream', () => {
    const seed = Number(process.env.IMAP_FUZZ_SEED ?? 0xc0ffee)
    const random = rng(seed)
    const stream = Buffer.from(CORPUS.map((c) => `${c}\r\n`).join(''), 'utf8')
    const whole = describeEvents(feed(stream).events)
    expect(whole.filter((e) => e.startsWith('command '))).toHaveLength(CORPUS.length)
    for (let round = 0; round < 50; round++) {
      expect(describeEvents(feed(randomChunks(stream, random, 1 + round * 3)).events), `seed ${seed} round ${round}`).toEqual(whole)
    }
  })

  it('lets the server refuse a pending synchronizing literal instead of sending "+"', () => {
    const reader = new CommandReader()
    expect(reader.refuseLiteral()).toBe(false)
    expect(reader.push(Buffer.from('A1 APPEND Nonexistent {5}\r\n'))).toEqual([{ kind: 'needContinuation', tag: 'A1', size: 5 }])
    expect(reader.refuseLiteral()).toBe(true)
    expect(reader.inCommand).toBe(false)
    expect(reader.push(Buffer.from('A2 NOOP\r\n')).map(text)).toEqual(['A2 NOOP'])
    // Too late once literal bytes have arrived.
    reader.push(Buffer.from('A3 APPEND x {5}\r\n'))
    reader.push(Buffer.from('ab'))
    expect(reader.refuseLiteral()).toBe(false)
    expect(reader.push(Buffer.from('cde\r\n')).map(text)).toEqual(['A3 APPEND x {5}|'])
    expect(reader.push(Buffer.from('A4 LOGIN {1}\r\nx'))[0]?.kind).toBe('needContinuation')
    expect(reader.refuseLiteral()).toBe(false)
  })

  it('applies new limits from the next line on', () => {
    const reader = new CommandReader({ maxLiteralSize: 10 })
    expect(reader.push(Buffer.from('A1 APPEND x {20}\r\n'))[0]).toMatchObject({ kind: 'error', error: { code: 'LITERAL_TOO_BIG' } })
    reader.setLimits({ maxLiteralSize: 100 })
    expect(reader.push(Buffer.from('A2 APPEND x {20}\r\n'))[0]).toMatchObject({ kind: 'needContinuation', size: 20 })
  })

  it('copies input so callers can reuse their chunk buffers', () => {
    const reader = new CommandReader()
    const chunk = Buffer.from('A1 LOGIN {3}\r\nabc')
    reader.push(chunk)
    chunk.fill(0x21)
    const events = reader.push(Buffer.from(' x\r\n'))
    expect(events[0]?.kind === 'command' && parseCommand(events[0].frame)).toMatchObject({
      ok: true,
      command: { username: 'abc', password: 'x' },
    })
  })
})

describe('CommandReader limits', () => {
  const limits = { maxLineLength: 100, maxLiteralSize: 50, maxCommandSize: 200 }

  it('assembles a big literal arriving one byte per chunk', () => {
    const reader = new CommandReader()
    reader.push(Buffer.from('A1 APPEND x {100000+}\r\n'))
    const one = Buffer.alloc(1, 0x61)
    for (let i = 0; i < 99_999; i++) reader.push(one)
    expect(reader.bufferedBytes).toBe(99_999 + 'A1 APPEND x {100000+}'.length)
    const events = reader.push(Buffer.from('a\r\n'))
    expect(events[0]?.kind === 'command' && events[0].frame.literals[0]?.equals(Buffer.alloc(100_000, 0x61))).toBe(true)
  })

  it('drops an over-long line without buffering it, reports it with the tag, then resumes', () => {
    const reader = new CommandReader(limits)
    const events: ReaderEvent[] = []
    events.push(...reader.push(Buffer.from('T7 SEARCH TEXT ')))
    for (let i = 0; i < 1000; i++) {
      events.push(...reader.push(Buffer.from('xxxxxxxxxx')))
      expect(reader.bufferedBytes).toBeLessThanOrEqual(101)
    }
    events.push(...reader.push(Buffer.from('\r\nT8 NOOP\r\n')))
    expect(events.map((e) => (e.kind === 'error' ? `${e.error.code} ${e.error.tag}` : text(e)))).toEqual(['LINE_TOO_LONG T7', 'T8 NOOP'])
  })

  it('treats a line one byte over the limit as too long and one at the limit as fine', () => {
    const at = `A1 LOGIN a ${'b'.repeat(100 - 11)}`
    expect(at.length).toBe(100)
    expect(feed(`${at}\r\n${at}b\r\n${at}\n`, limits).events.map((e) => e.kind)).toEqual(['command', 'error', 'command'])
    expect(feed([Buffer.from(`${at}`), Buffer.from('\r'), Buffer.from('\n')], limits).events.map((e) => e.kind)).toEqual(['command'])
  })

  it('skips the literal announced at the end of an over-long line', () => {
    const long = `A1 APPEND INBOX ${'x'.repeat(200)} {10+}\r\n0123456789\r\nA2 NOOP\r\n`
    const { events } = feed(long, limits)
    expect(events.map((e) => (e.kind === 'error' ? e.error.code : text(e)))).toEqual(['LINE_TOO_LONG', 'A2 NOOP'])
    const sync = feed(`A1 APPEND INBOX ${'x'.repeat(200)} {10}\r\nA2 NOOP\r\n`, limits).events
    expect(sync.map((e) => (e.kind === 'error' ? e.error.code : text(e)))).toEqual(['LINE_TOO_LONG', 'A2 NOOP'])
  })

  it('refuses an oversized synchronizing literal without waiting for it', () => {
    const { events } = feed('A1 APPEND INBOX {51}\r\nA2 NOOP\r\n', limits)
    expect(events).toEqual([
      { kind: 'error', error: { code: 'LITERAL_TOO_BIG', tag: 'A1', synchronizing: true, message: expect.stringMatching(/51/) } },
      { kind: 'command', frame: { lines: [Buffer.from('A2 NOOP')], literals: [] } },
    ])
  })

  it('skips exactly n bytes of an oversized non-synchronizing literal, then reports', () => {
    const reader = new CommandReader(limits)
    const first = reader.push(Buffer.from('A1 APPEND INBOX {1000+}\r\n'))
    expect(first).toEqual([])
    for (let i = 0; i < 100; i++) {
      expect(reader.push(Buffer.alloc(10, 0x41))).toEqual([])
      expect(reader.bufferedBytes).toBe(0)
    }
    const rest = reader.push(Buffer.from(' {3+}\r\nabc\r\nA2 NOOP\r\n'))
    expect(rest.map((e) => (e.kind === 'error' ? `${e.error.code} ${e.error.tag} ${e.error.synchronizing}` : text(e)))).toEqual([
      'LITERAL_TOO_BIG A1 false',
      'A2 NOOP',
    ])
  })

  it('limits the total size of a command with many small literals', () => {
    const many = `A1 APPEND INBOX ${Array.from({ length: 10 }, () => lit('y'.repeat(40), true)).join(' ')}\r\nA2 NOOP\r\n`
    const { events } = feed(many, limits)
    expect(events.map((e) => (e.kind === 'error' ? e.error.code : text(e)))).toEqual(['COMMAND_TOO_BIG', 'A2 NOOP'])
    const four = Array.from({ length: 4 }, () => lit('y'.repeat(40))).join(' ')
    const sync = feed(`A1 APPEND INBOX ${four} {40}\r\nA2 NOOP\r\n`, limits).events
    // Four continuations are granted; the fifth literal would pass 200 bytes, so the client never sends it.
    expect(sync.map((e) => (e.kind === 'error' ? e.error.code : e.kind))).toEqual([
      'needContinuation',
      'needContinuation',
      'needContinuation',
      'needContinuation',
      'COMMAND_TOO_BIG',
      'command',
    ])
    expect(text(sync[5])).toBe('A2 NOOP')
  })

  it('has no tag for an over-long first line that never shows one', () => {
    const { events } = feed(`${'x'.repeat(300)}\r\n`, limits)
    expect(events).toEqual([{ kind: 'error', error: { code: 'LINE_TOO_LONG', message: expect.any(String) } }])
  })
})
