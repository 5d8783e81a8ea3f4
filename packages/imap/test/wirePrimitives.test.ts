import { describe, expect, it } from 'vitest'
import { SequenceSet } from '../src/wire/SequenceSet.ts'
import { decodeMutf7, encodeMutf7 } from '../src/wire/mutf7.ts'
import { formatDateTime, parseDateTime, parseSearchDate } from '../src/wire/dateTime.ts'
import { rng } from './wireFixtures.ts'

const set = (text: string): SequenceSet => {
  const s = SequenceSet.parse(text)
  if (s === undefined) throw new Error(`bad fixture ${text}`)
  return s
}

describe('SequenceSet', () => {
  it.each(['1', '*', '1:*', '2,4:7,9,12:*', '4294967295', '*:4', '3:1', '1,1,1'])('round-trips %s', (text) => {
    expect(set(text).toString()).toBe(text)
  })

  it.each(['', '0', '01', '1:', ':2', '1,,2', '1:2:3', '4294967296', 'a', '1 2', '-1', '1.5', '$', ','])('rejects %j', (text) => {
    expect(SequenceSet.parse(text)).toBeUndefined()
  })

  it('resolves * against the maximum and clamps to 1..max', () => {
    expect(set('2,4:7,9,12:*').expand(14)).toEqual([2, 4, 5, 6, 7, 9, 12, 13, 14])
    expect(set('5:*').expand(3)).toEqual([3]) // RFC 9051: n:* always includes the last message
    expect(set('*:5').resolve(3)).toEqual([[3, 3]])
    expect(set('7:3,1,2').resolve(10)).toEqual([[1, 7]])
    expect(set('1:4294967295').expand(3)).toEqual([1, 2, 3])
    expect(set('1:*').expand(0)).toEqual([])
    expect(set('*').hasStar).toBe(true)
    expect(set('1:5').hasStar).toBe(false)
  })

  it('answers contains consistently with expand', () => {
    const random = rng(42)
    const samples = ['1', '*', '1:*', '2,4:7,9,12:*', '*:4', '9:3,20', '100:200']
    for (const text of samples) {
      for (const max of [0, 1, 3, 10, 25]) {
        const members = new Set(set(text).expand(max))
        for (let n = 0; n <= max + 2; n++) expect(set(text).contains(n, max), `${text} ${n} ${max}`).toBe(members.has(n))
      }
    }
    for (let i = 0; i < 200; i++) {
      const numbers = Array.from({ length: 1 + Math.floor(random() * 20) }, () => 1 + Math.floor(random() * 40))
      const s = SequenceSet.fromNumbers(numbers)
      expect(s.expand(40)).toEqual([...new Set(numbers)].sort((a, b) => a - b))
      expect(SequenceSet.parse(s.toString())?.expand(40)).toEqual(s.expand(40))
    }
  })

  it('compresses numbers into ranges and validates its inputs', () => {
    expect(SequenceSet.fromNumbers([5, 1, 2, 3, 3, 9, 10]).toString()).toBe('1:3,5,9:10')
    expect(
      SequenceSet.fromRanges([
        { start: 304, end: 304 },
        { start: 319, end: 320 },
      ]).toString(),
    ).toBe('304,319:320')
    expect(() => SequenceSet.fromNumbers([0])).toThrow(RangeError)
    expect(() => SequenceSet.fromRanges([{ start: 1, end: 2 ** 32 }])).toThrow(RangeError)
  })
})

describe('modified UTF-7', () => {
  const pairs: Array<[string, string]> = [
    ['INBOX', 'INBOX'],
    ['~peter/mail/台北/日本語', '~peter/mail/&U,BTFw-/&ZeVnLIqe-'],
    ['&', '&-'],
    ['R&D', 'R&-D'],
    ['Entwürfe', 'Entw&APw-rfe'],
    ['Gelöschte Elemente', 'Gel&APY-schte Elemente'],
    ['Отправленные', '&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-'],
    ['📧 mail', '&2D3c5w- mail'],
    ['a\tb', 'a&AAk-b'],
    ['', ''],
  ]
  it.each(pairs)('%j <-> %s', (decoded, encoded) => {
    expect(encodeMutf7(decoded)).toBe(encoded)
    expect(decodeMutf7(encoded)).toBe(decoded)
  })

  it.each(['&', '&Jjo', '&U,BTFw', '&AEE-', '&A-', '&AG-', '&2D0-', '&3T0-', '&AGE=-', 'caf\u00e9', 'a\tb', '&U/BTFw-', '&AOQA-'])(
    'rejects %j',
    (text) => {
      expect(decodeMutf7(text)).toBeUndefined()
    },
  )

  it('round-trips random Unicode strings (seeded)', () => {
    const seed = Number(process.env.IMAP_FUZZ_SEED ?? 7)
    const random = rng(seed)
    const alphabet = ['a', 'Z', '&', '-', ' ', '/', '.', 'é', 'ß', '台', '日', '\u0000', '\u007f', '\uffff', '😀', '𝄞', ',', '+']
    for (let i = 0; i < 500; i++) {
      const s = Array.from({ length: Math.floor(random() * 12) }, () => alphabet[Math.floor(random() * alphabet.length)]).join('')
      const encoded = encodeMutf7(s)
      expect(encoded, `seed ${seed}`).toMatch(/^[\x20-\x7e]*$/)
      expect(decodeMutf7(encoded), `seed ${seed}: ${JSON.stringify(s)}`).toBe(s)
    }
  })
})

describe('dates', () => {
  it('parses SEARCH dates into calendar days', () => {
    expect(parseSearchDate('1-Feb-1994')).toBe('1994-02-01')
    expect(parseSearchDate('29-feb-2024')).toBe('2024-02-29')
    expect(parseSearchDate('29-Feb-2023')).toBeUndefined()
    expect(parseSearchDate('0-Jan-2020')).toBeUndefined()
    expect(parseSearchDate('1-Foo-2020')).toBeUndefined()
    expect(parseSearchDate('1-Jan-0050')).toBe('0050-01-01')
  })

  it('parses and formats date-time', () => {
    expect(parseDateTime('17-Jul-1996 02:44:25 -0700')?.toISOString()).toBe('1996-07-17T09:44:25.000Z')
    expect(parseDateTime(' 5-Jul-1996 09:44:25 +0130')?.toISOString()).toBe('1996-07-05T08:14:25.000Z')
    expect(parseDateTime('05-Jul-1996 24:00:00 +0000')).toBeUndefined()
    expect(parseDateTime('05-Jul-1996 09:44:25 +0060')).toBeUndefined()
    expect(parseDateTime('05-Jul-1996 09:44:25')).toBeUndefined()
    const d = new Date('2023-01-02T03:04:05Z')
    expect(formatDateTime(d)).toBe('02-Jan-2023 03:04:05 +0000')
    expect(parseDateTime(formatDateTime(d))?.getTime()).toBe(d.getTime())
  })
})
