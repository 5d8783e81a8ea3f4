import type { CommandFrame } from './CommandReader.ts'

/** A syntax error found by the parser; `parseCommand` turns it into a `{ ok: false }` result. */
export class ParseError extends Error {
  override readonly name = 'ParseError'
  constructor(
    message: string,
    readonly code?: 'BADCHARSET',
  ) {
    super(message)
  }
}

const EMPTY = Buffer.alloc(0)
const SP = 0x20
const DQUOTE = 0x22
const BACKSLASH = 0x5c

/** ATOM-CHAR: any CHAR except atom-specials `( ) { SP CTL % * " \ ]`. */
const ATOM_CHAR = new Uint8Array(256)
for (let c = 0x21; c < 0x7f; c++) ATOM_CHAR[c] = 1
for (const ch of '(){%*"\\]') ATOM_CHAR[ch.charCodeAt(0)] = 0

/** Whether `c` is an ATOM-CHAR (RFC 9051). */
export const isAtomChar = (c: number): boolean => ATOM_CHAR[c] === 1
/** ASTRING-CHAR: ATOM-CHAR or `]`. */
export const isAstringChar = (c: number): boolean => ATOM_CHAR[c] === 1 || c === 0x5d
/** list-char: ASTRING-CHAR or a list wildcard. */
export const isListChar = (c: number): boolean => isAstringChar(c) || c === 0x25 || c === 0x2a
const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39

const utf8 = new TextDecoder('utf-8', { fatal: false })

/**
 * The tokenizer under `parseCommand`: a cursor over a {@link CommandFrame} that reads the
 * RFC 9051 lexical primitives (SP, atom, number, quoted, literal, astring, nstring) and throws
 * {@link ParseError} with a readable message on the first mismatch. A literal is only read
 * where its `{n}` marker ends a frame line, and then yields the frame's matching literal bytes.
 */
export class WireCursor {
  readonly #lines: readonly Buffer[]
  readonly #literals: readonly Buffer[]
  #li = 0
  #pos = 0

  constructor(frame: CommandFrame) {
    this.#lines = frame.lines
    this.#literals = frame.literals
  }

  get #line(): Buffer {
    return this.#lines[this.#li] ?? EMPTY
  }

  /** The next byte, or -1 at the end of the current line. */
  peek(offset = 0): number {
    return this.#line[this.#pos + offset] ?? -1
  }

  /** The next `n` bytes as upper-case ASCII (shorter at the end of the line). */
  peekUpper(n: number): string {
    return this.#line.toString('latin1', this.#pos, Math.min(this.#line.length, this.#pos + n)).toUpperCase()
  }

  /** Whether the whole frame has been consumed. */
  atEnd(): boolean {
    return this.#pos >= this.#line.length && this.#li >= this.#lines.length - 1
  }

  fail(message: string): never {
    const at =
      this.#pos >= this.#line.length ? 'at end of line' : `at "${printable(this.#line.toString('latin1', this.#pos, this.#pos + 12))}"`
    throw new ParseError(`${message} ${at}`)
  }

  expectEnd(): void {
    if (!this.atEnd()) this.fail('Unexpected extra arguments')
  }

  /** Consumes `ch` (a single ASCII character) or fails. */
  char(ch: string): void {
    if (!this.tryChar(ch)) this.fail(ch === ' ' ? 'Expected a space' : `Expected "${ch}"`)
  }

  /** Consumes `ch` when it is next (case-insensitively for letters). */
  tryChar(ch: string): boolean {
    const c = this.peek()
    if (c < 0 || String.fromCharCode(c).toUpperCase() !== ch.toUpperCase()) return false
    this.#pos++
    return true
  }

  sp(): void {
    if (this.peek() !== SP) this.fail('Expected a space')
    this.#pos++
  }

  trySp(): boolean {
    if (this.peek() !== SP) return false
    this.#pos++
    return true
  }

  /** Reads one or more bytes matching `accept` as ASCII text; fails with `what` if there are none. */
  take(accept: (c: number) => boolean, what: string): string {
    const start = this.#pos
    const line = this.#line
    while (this.#pos < line.length && accept(line[this.#pos] ?? -1)) this.#pos++
    if (this.#pos === start) this.fail(`Expected ${what}`)
    return line.toString('latin1', start, this.#pos)
  }

  atom(what = 'an atom'): string {
    return this.take(isAtomChar, what)
  }

  /** An atom used as a keyword, upper-cased. */
  keyword(what = 'a keyword'): string {
    return this.atom(what).toUpperCase()
  }

  /** `number`: an unsigned 32-bit decimal. */
  number(what = 'a number'): number {
    const text = this.take(isDigit, what)
    const n = Number(text)
    if (text.length > 10 || n > 0xffff_ffff) this.fail(`${what} out of range`)
    return n
  }

  /** `nz-number`: a non-zero unsigned 32-bit decimal. */
  nzNumber(what = 'a non-zero number'): number {
    const n = this.number(what)
    if (n === 0) this.fail(`${what} must not be zero`)
    return n
  }

  /** `mod-sequence-value` (1..2^63-1) or, with `allowZero`, `mod-sequence-valzer`. */
  modSeq(allowZero = false): bigint {
    const text = this.take(isDigit, 'a mod-sequence')
    const n = text.length > 20 ? -1n : BigInt(text)
    if (n < (allowZero ? 0n : 1n) || n > 0x7fff_ffff_ffff_ffffn) this.fail('mod-sequence out of range')
    return n
  }

  /** `quoted` or `literal` bytes (`string` in RFC 9051). `literal8` (`~{n}`) only when allowed. */
  stringBytes(allowLiteral8 = false): Buffer {
    const c = this.peek()
    if (c === DQUOTE) return this.#quoted()
    if (c === 0x7b || (allowLiteral8 && c === 0x7e)) return this.literal(allowLiteral8)
    return this.fail('Expected a quoted string or literal')
  }

  /** `astring`: an atom (ASTRING-CHARs) or a string, as bytes. */
  astringBytes(): Buffer {
    const c = this.peek()
    if (c === DQUOTE || c === 0x7b) return this.stringBytes()
    const start = this.#pos
    this.take(isAstringChar, 'an atom or string')
    return this.#line.subarray(start, this.#pos)
  }

  /** `astring` decoded as UTF-8 (invalid sequences become U+FFFD). */
  astring(): string {
    return utf8.decode(this.astringBytes())
  }

  /** `string` decoded as UTF-8. */
  string(): string {
    return utf8.decode(this.stringBytes())
  }

  /** `nstring`: a string, or `undefined` for NIL. */
  nstring(): string | undefined {
    if (this.peekUpper(3) === 'NIL' && !isAstringChar(this.peek(3))) {
      this.#pos += 3
      return undefined
    }
    return this.string()
  }

  /** `literal` / `literal8`: the frame literal whose marker ends the current line. */
  literal(allowLiteral8 = false): Buffer {
    if (allowLiteral8) this.tryChar('~')
    this.char('{')
    const size = this.number('a literal size')
    this.tryChar('+')
    this.char('}')
    if (this.#pos !== this.#line.length || this.#li >= this.#literals.length) this.fail('Literal marker must end the line')
    const bytes = this.#literals[this.#li] ?? EMPTY
    if (bytes.length !== size) this.fail('Literal size does not match its marker')
    this.#li++
    this.#pos = 0
    return bytes
  }

  #quoted(): Buffer {
    this.#pos++ // opening DQUOTE
    const line = this.#line
    const parts: Buffer[] = []
    let start = this.#pos
    for (;;) {
      const c = line[this.#pos] ?? -1
      if (c < 0) this.fail('Unterminated quoted string')
      if (c === DQUOTE) break
      if (c === 0x00 || c === 0x0d || c === 0x0a) this.fail('Invalid character in quoted string')
      if (c === BACKSLASH) {
        const next = line[this.#pos + 1] ?? -1
        if (next !== DQUOTE && next !== BACKSLASH) this.fail('Invalid escape in quoted string')
        parts.push(line.subarray(start, this.#pos))
        start = this.#pos + 1
        this.#pos += 2
        continue
      }
      this.#pos++
    }
    parts.push(line.subarray(start, this.#pos))
    this.#pos++ // closing DQUOTE
    return parts.length === 1 ? (parts[0] ?? EMPTY) : Buffer.concat(parts)
  }
}

function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?')
}
