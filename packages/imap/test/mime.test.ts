import { MemoryBlobStore, openMailbox } from '@mailweave/core'
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { ModSeqIndex } from '../src/index.ts'
import { encodeBodyStructure, encodeEnvelope, encodeToken } from '../src/wire/encode.ts'
import { parseMessage } from '../src/mime/parseMessage.ts'
import { bodySection } from '../src/mime/bodySection.ts'
import { bodyText } from '../src/mime/searchText.ts'

const text = (parts: string[], eol = '\r\n'): Buffer => Buffer.from(parts.join(eol))

describe('parseMessage and sections', () => {
  it('keeps exact offsets for nested multiparts with LF line ends, and a multipart part is its whole body', async () => {
    const raw = text(
      [
        'Content-Type: multipart/mixed; boundary=A',
        '',
        'pre',
        '--A',
        'Content-Type: multipart/alternative; boundary=B',
        '',
        '--B',
        '',
        'plain',
        '--B',
        'Content-Type: text/html',
        '',
        '<p>html</p>',
        '--B--',
        'epilogue B',
        '--A',
        'Content-Type: message/rfc822',
        '',
        'Subject: inner',
        'Content-Type: multipart/mixed; boundary=C',
        '',
        '--C',
        '',
        'deep',
        '--C--',
        '',
        '--A--',
        '',
      ],
      '\n',
    )
    const p = await parseMessage(raw)
    const sec = (part: number[], t?: 'HEADER' | 'TEXT' | 'MIME'): string | undefined =>
      bodySection(raw, p, { part, ...(t !== undefined ? { text: t } : {}) })?.toString()
    expect(sec([1, 1])).toBe('plain')
    expect(sec([1, 2])).toBe('<p>html</p>')
    expect(sec([1])).toBe('--B\n\nplain\n--B\nContent-Type: text/html\n\n<p>html</p>\n--B--\nepilogue B')
    expect(sec([1, 2], 'MIME')).toBe('Content-Type: text/html\n\n')
    expect(sec([2], 'HEADER')).toBe('Subject: inner\nContent-Type: multipart/mixed; boundary=C\n\n')
    expect(sec([2, 1])).toBe('deep')
    expect(sec([2, 1, 1])).toBeUndefined()
    expect(sec([3])).toBeUndefined()
    expect(encodeToken(encodeBodyStructure(p.structure, false)).toString()).toBe(
      '((("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 5 1)("text" "html" NIL NIL NIL "7BIT" 11 1) "alternative")' +
        '("message" "rfc822" NIL NIL NIL "7BIT" 74 (NIL "inner" NIL NIL NIL NIL NIL NIL NIL NIL) (("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 4 1) "mixed") 7) "mixed")',
    )
  })

  it('single-part messages: BODY[1] is the body; a message without a blank line is all header', async () => {
    const p = await parseMessage(text(['Subject: s', '', 'body']))
    expect(bodySection(text(['Subject: s', '', 'body']), p, { part: [1] })?.toString()).toBe('body')
    const headerOnly = text(['Subject: only a header'])
    const q = await parseMessage(headerOnly)
    expect(q.root.bodyStart).toBe(headerOnly.length)
    expect(encodeToken(encodeEnvelope(q.envelope)).toString()).toBe('(NIL "only a header" NIL NIL NIL NIL NIL NIL NIL NIL)')
  })

  it('decodes RFC 2231 parameters (re-encoded for the wire), digest defaults, groups and 8-bit names', async () => {
    const raw = Buffer.from(
      [
        'From: =?UTF-8?Q?J=C3=B6rg?= <j@example.com>',
        'To: List: a@x.org, "Ünï" <u@y.org>;',
        'Content-Type: multipart/digest; boundary=D',
        '',
        '--D',
        '',
        'Subject: digest part',
        '',
        'x',
        '--D',
        'Content-Type: application/octet-stream',
        "Content-Disposition: attachment; filename*=utf-8''%E2%82%AC.txt",
        '',
        'y',
        '--D--',
        '',
      ].join('\r\n'),
    )
    const p = await parseMessage(raw)
    const env = encodeToken(encodeEnvelope(p.envelope)).toString()
    expect(env).toContain('(("=?UTF-8?Q?J=C3=B6rg?=" NIL "j" "example.com"))')
    expect(env).toContain('((NIL NIL "List" NIL)(NIL NIL "a" "x.org")("=?UTF-8?Q?=C3=9Cn=C3=AF?=" NIL "u" "y.org")(NIL NIL NIL NIL))')
    const bs = encodeToken(encodeBodyStructure(p.structure, true)).toString()
    expect(bs).toMatch(/^\(\("message" "rfc822" NIL NIL NIL "7BIT" \d+ \(NIL "digest part"/)
    expect(bs).toContain('("attachment" ("filename*" "utf-8\'\'%E2%82%AC.txt"))')
  })

  it('never rejects: a message over the part limit is one opaque part', async () => {
    const parts = Array.from({ length: 2100 }, (_, i) => `--Z\r\n\r\n${i}`).join('\r\n')
    const raw = Buffer.from(`Subject: many\r\nContent-Type: multipart/mixed; boundary=Z\r\n\r\n${parts}\r\n--Z--\r\n`)
    const p = await parseMessage(raw)
    expect(p.structure).toMatchObject({ type: 'application', subtype: 'octet-stream' })
    expect(p.envelope.subject).toBe('many')
    const garbage = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7919) % 256))
    await expect(parseMessage(garbage)).resolves.toBeDefined()
  })

  it('search text decodes transfer and charset encodings', async () => {
    const raw = text([
      'Content-Type: text/plain; charset=iso-8859-1',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      'Gr=FC=DFe, caf=E9',
    ])
    const p = await parseMessage(raw)
    expect(bodyText(raw, p.root)).toBe('Grüße, café')
    const b64 = text([
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: base64',
      '',
      Buffer.from('naïve text').toString('base64'),
    ])
    expect(bodyText(b64, (await parseMessage(b64)).root)).toBe('naïve text')
  })
})

describe('ModSeqIndex', () => {
  it('raises HIGHESTMODSEQ per view change, records vanished UIDs, and starts above an earlier incarnation', () => {
    const doc = new Y.Doc()
    let now = 1_000
    const mb = openMailbox(doc, { replica: 'n', slot: 0, stride: 1, blobs: new MemoryBlobStore(), now: () => now })
    const g1 = mb.append(Buffer.from('Subject: 1\r\n\r\n1'))
    const idx = new ModSeqIndex(mb, { now: () => now })
    const base = idx.highest
    expect(idx.of(1)).toBe(base)
    const g2 = mb.append(Buffer.from('Subject: 2\r\n\r\n2'))
    expect(idx.highest).toBe(base + 1n)
    expect(idx.of(2)).toBe(base + 1n)
    mb.setFlags(g1, { add: ['\\Seen'] })
    expect(idx.of(1)).toBe(base + 2n)
    mb.expunge([g2])
    expect(idx.vanishedSince(base + 2n)).toEqual([[2, 2]])
    expect(idx.vanishedSince(base + 3n)).toEqual([])
    expect(idx.vanishedSince(base - 1n)).toBeUndefined()
    now += 1
    const restarted = new ModSeqIndex(mb, { now: () => now })
    expect(restarted.highest).toBeGreaterThan(idx.highest)
    const small = new ModSeqIndex(mb, { now: () => now, maxVanished: 2 })
    for (let i = 0; i < 4; i++) mb.expunge([mb.append(Buffer.from(`Subject: x${i}\r\n\r\n`))])
    // Eight changes (append, expunge) x 4; the first two expunge records were summarised away.
    expect(small.vanishedSince(small.highest - 1n)).toEqual([[6, 6]])
    expect(small.vanishedSince(small.highest - 4n)).toEqual([[5, 6]])
    expect(small.vanishedSince(small.highest - 5n)).toBeUndefined()
  })
})
