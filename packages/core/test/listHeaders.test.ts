import { describe, expect, it } from 'vitest'
import { listHeaders } from '../src/index.ts'

const enc = (s: string) => new TextEncoder().encode(s)

describe('listHeaders', () => {
  it('reads the list fields, unfolds continuation lines, stops at the body', () => {
    const h = listHeaders(
      enc(
        'Received: x\r\nSubject: Hello\r\n  world\r\nFROM: A <a@x>\r\nTo: b@x\r\nMessage-ID: <1@x>\r\nDate: Sun, 29 Nov 2026 00:00:00 +0000\r\n\r\nSubject: not a header\r\n',
      ),
    )
    expect(h).toEqual({ subject: 'Hello world', from: 'A <a@x>', to: 'b@x', messageId: '<1@x>', date: 'Sun, 29 Nov 2026 00:00:00 +0000' })
  })
  it('accepts bare LF, keeps the first occurrence, never throws on garbage', () => {
    expect(listHeaders(enc('Subject: one\nSubject: two\n\nbody'))).toEqual({ subject: 'one' })
    expect(listHeaders(new Uint8Array([0xff, 0xfe, 58, 10, 13]))).toEqual({})
    expect(listHeaders(new Uint8Array())).toEqual({})
    expect(listHeaders(enc('no colon line\r\nsubject:x'))).toEqual({ subject: 'x' })
  })
})
