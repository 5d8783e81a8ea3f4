import { asBuffer } from '../bytes.ts'

/**
 * One complete client command as framed off the wire: `lines[i]` is the text (without CRLF)
 * that precedes `literals[i]`, so `lines.length === literals.length + 1`. Lines of a frame
 * that carries literals end with their `{n}` / `{n+}` marker, which the parser re-reads.
 * Non-command lines (IDLE's `DONE`, SASL responses) arrive as one-line frames too.
 */
export interface CommandFrame {
  readonly lines: readonly Buffer[]
  readonly literals: readonly Buffer[]
}

/** Why a command was refused by the framer, before any parsing. */
export type ReaderErrorCode =
  | 'LINE_TOO_LONG' // a line exceeded maxLineLength; the command was discarded
  | 'LITERAL_TOO_BIG' // a literal exceeded maxLiteralSize
  | 'COMMAND_TOO_BIG' // lines plus literals exceeded maxCommandSize

/**
 * A framing failure. `tag` is the command's tag when its first line started with a valid one;
 * `synchronizing` is set for a refused `{n}` literal, whose bytes the client will not send
 * (answer `tag NO [TOOBIG]` or `BAD` and carry on reading the next command).
 */
export interface ReaderError {
  readonly code: ReaderErrorCode
  readonly message: string
  readonly tag?: string
  readonly synchronizing?: boolean
}

/**
 * What the reader reports, in wire order:
 * - `command`: a complete frame, ready for `parseCommand`;
 * - `needContinuation`: a synchronizing literal was accepted: send `+ Ready` now, or call
 *   `refuseLiteral()` and answer the command with a tagged NO/BAD;
 * - `error`: a command was refused and its bytes are already accounted for (skipped or never sent).
 */
export type ReaderEvent =
  | { readonly kind: 'command'; readonly frame: CommandFrame }
  | { readonly kind: 'needContinuation'; readonly tag?: string; readonly size: number }
  | { readonly kind: 'error'; readonly error: ReaderError }

/** Limits for {@link CommandReader}; all in bytes. */
export interface CommandReaderOptions {
  /** Longest line, literal markers included, CRLF excluded (default 64 KiB). */
  readonly maxLineLength?: number
  /** Largest single literal (default 50 MiB). */
  readonly maxLiteralSize?: number
  /** Largest whole command, lines plus literals (default maxLiteralSize + 1 MiB). */
  readonly maxCommandSize?: number
}

const LF = 0x0a
const EMPTY = Buffer.alloc(0)
const CR = 0x0d
const MAX_LITERAL_MARKER = 14 // "{4294967295+}".length + 1 for slack
const LITERAL_MARKER = /\{([0-9]{1,10})(\+?)\}$/
const TAG_EXCLUDED = new Set([...'(){%*"\\+'].map((ch) => ch.charCodeAt(0)))

/**
 * Bytes appended piecewise into one contiguous buffer that grows by doubling up to `limit`,
 * so a client dribbling one byte per packet costs no per-chunk objects, and memory is only
 * committed as bytes actually arrive.
 */
class Accumulator {
  #buf: Buffer = EMPTY
  #length = 0

  get length(): number {
    return this.#length
  }

  append(src: Buffer, start: number, end: number, limit: number): void {
    const need = this.#length + (end - start)
    if (need > this.#buf.length) {
      const grown = Buffer.allocUnsafe(Math.min(limit, Math.max(need, 256, this.#buf.length * 2)))
      this.#buf.copy(grown, 0, 0, this.#length)
      this.#buf = grown
    }
    src.copy(this.#buf, this.#length, start, end)
    this.#length = need
  }

  /** The bytes so far, as an exact-size buffer the caller owns; the accumulator is emptied. */
  take(): Buffer {
    const out = this.#buf.length === this.#length ? this.#buf : Buffer.from(this.#buf.subarray(0, this.#length))
    this.clear()
    return out
  }

  /** The first `n` bytes, copied. */
  head(n: number): Buffer {
    return Buffer.from(this.#buf.subarray(0, Math.min(n, this.#length)))
  }

  clear(): void {
    this.#buf = EMPTY
    this.#length = 0
  }
}

/**
 * Incremental IMAP command framer (RFC 9051 section 2.2, LITERAL+ from RFC 7888).
 * Feed it socket chunks of any size with {@link push}; it returns the events completed by
 * that chunk. It never throws on input and never holds more than one command's worth of
 * bytes within the configured limits: over-long lines are dropped as they stream in,
 * oversized synchronizing literals are refused before the client sends them, and oversized
 * non-synchronizing literals are skipped byte-exactly before the error is reported, so the
 * stream stays in sync for the next command.
 */
export class CommandReader {
  #maxLine = 0
  #maxLiteral = 0
  #maxCommand = 0

  #mode: 'line' | 'literal' | 'discardLine' = 'line'
  readonly #line = new Accumulator()
  /** The last bytes of a line being discarded, to spot a trailing literal marker. */
  #discardTail = ''
  #literalRemaining = 0
  /** A `needContinuation` was just emitted and no literal byte has arrived since. */
  #awaitingSync = false
  readonly #literal = new Accumulator()
  #lines: Buffer[] = []
  #literals: Buffer[] = []
  #commandSize = 0
  #tag: string | undefined
  #firstLine = true
  /** Set while the rest of a refused command is being skipped. */
  #failure: ReaderError | undefined

  constructor(options: CommandReaderOptions = {}) {
    this.setLimits(options)
  }

  /**
   * Replaces the limits (e.g. larger ones after authentication); they apply to every line and
   * literal marker read from now on. Omitted values fall back to the defaults.
   */
  setLimits(options: CommandReaderOptions): void {
    this.#maxLine = options.maxLineLength ?? 64 * 1024
    this.#maxLiteral = options.maxLiteralSize ?? 50 * 1024 * 1024
    this.#maxCommand = options.maxCommandSize ?? this.#maxLiteral + 1024 * 1024
  }

  /** Bytes currently held for the command in progress. */
  get bufferedBytes(): number {
    return (
      this.#line.length +
      this.#literal.length +
      this.#lines.reduce((n, l) => n + l.length, 0) +
      this.#literals.reduce((n, l) => n + l.length, 0)
    )
  }

  /** Whether a command has started but not yet completed. */
  get inCommand(): boolean {
    return !this.#firstLine || this.#line.length > 0 || this.#mode !== 'line'
  }

  /**
   * The bytes of the command in progress exactly as they came off the wire (for handing the
   * connection to another server), or `undefined` when they cannot be rebuilt (a refused
   * command being skipped). Changes nothing.
   */
  pendingRaw(): Buffer | undefined {
    if (this.#failure !== undefined || this.#mode === 'discardLine') return undefined
    const parts = [rawFrame({ lines: this.#lines, literals: this.#literals })]
    parts.push(this.#mode === 'literal' ? this.#literal.head(this.#literal.length) : this.#line.head(this.#line.length))
    return Buffer.concat(parts)
  }

  /**
   * Withdraws the continuation just announced by `needContinuation` (the server answers the
   * command with a tagged NO/BAD instead of `+`, so the client will not send the literal).
   * The command is dropped and reading resumes with the next command. Returns false, changing
   * nothing, unless a synchronizing literal is pending and none of its bytes have arrived.
   */
  refuseLiteral(): boolean {
    if (!this.#awaitingSync) return false
    this.#reset()
    return true
  }

  /** Consumes one chunk and returns every event it completes, in order. */
  push(chunk: Uint8Array): ReaderEvent[] {
    const data = asBuffer(chunk)
    const events: ReaderEvent[] = []
    let i = 0
    while (i < data.length) {
      // Any byte after a needContinuation means the client did not wait: too late to refuse.
      this.#awaitingSync = false
      if (this.#mode === 'literal') {
        const take = Math.min(this.#literalRemaining, data.length - i)
        // Copied (not sliced): callers may reuse their chunk buffers after push returns.
        if (this.#failure === undefined) this.#literal.append(data, i, i + take, this.#literal.length + this.#literalRemaining)
        this.#literalRemaining -= take
        i += take
        if (this.#literalRemaining === 0) {
          if (this.#failure === undefined) this.#literals.push(this.#literal.take())
          this.#literal.clear()
          this.#mode = 'line'
        }
        continue
      }
      const lf = data.indexOf(LF, i)
      const stop = lf < 0 ? data.length : lf
      if (this.#mode === 'discardLine') {
        this.#discardTail = (this.#discardTail + data.toString('latin1', Math.max(i, stop - MAX_LITERAL_MARKER), stop)).slice(
          -MAX_LITERAL_MARKER,
        )
        i = stop
        if (lf >= 0) {
          i = lf + 1
          this.#mode = 'line'
          this.#endLine(Buffer.from(stripCr(this.#discardTail), 'latin1'), true, events)
        }
        continue
      }
      // +1 allows the CR that precedes LF.
      if (this.#line.length + (stop - i) > this.#maxLine + 1) {
        this.#overflowLine(data.subarray(i, stop))
        continue // mode is now discardLine; re-scan the same bytes for the tail and LF.
      }
      this.#line.append(data, i, stop, this.#maxLine + 1)
      i = stop
      if (lf >= 0) {
        i = lf + 1
        const line = stripCrBuffer(this.#line.take())
        if (line.length > this.#maxLine) {
          this.#fail({ code: 'LINE_TOO_LONG', message: `Line longer than ${this.#maxLine} bytes`, tag: this.#tagOf(line) })
          this.#endLine(line.subarray(Math.max(0, line.length - MAX_LITERAL_MARKER)), true, events)
        } else this.#endLine(line, false, events)
      }
    }
    return events
  }

  #overflowLine(piece: Buffer): void {
    const head = Buffer.concat([this.#line.head(256), piece.subarray(0, 256)]).subarray(0, 256)
    // A tag cut off by the head window is not the tag.
    const tag = head.includes(0x20) ? this.#tagOf(head) : this.#firstLine ? undefined : this.#tag
    this.#fail({ code: 'LINE_TOO_LONG', message: `Line longer than ${this.#maxLine} bytes`, tag })
    const held = this.#line.take()
    this.#discardTail = held.toString('latin1', Math.max(0, held.length - MAX_LITERAL_MARKER))
    this.#mode = 'discardLine'
  }

  /** Records the first failure of the current command; later ones are consequences. */
  #fail(error: ReaderError): void {
    if (this.#failure !== undefined) return
    this.#failure = error
    this.#lines = []
    this.#literals = []
    this.#literal.clear()
  }

  #tagOf(firstLine: Buffer): string | undefined {
    if (!this.#firstLine) return this.#tag
    return parseTag(firstLine)
  }

  /** Handles a complete line; `discarded` lines are only inspected for a trailing literal marker. */
  #endLine(line: Buffer, discarded: boolean, events: ReaderEvent[]): void {
    if (this.#firstLine) {
      this.#tag = discarded ? this.#failure?.tag : parseTag(line)
      this.#firstLine = false
    }
    const marker = LITERAL_MARKER.exec(line.toString('latin1', Math.max(0, line.length - MAX_LITERAL_MARKER)))
    const size = marker === null ? undefined : Number(marker[1])
    if (marker === null || size === undefined || size > 0xffff_ffff) {
      if (!discarded && this.#failure === undefined) this.#lines.push(line)
      this.#finishCommand(events)
      return
    }
    const synchronizing = marker[2] !== '+'
    const newSize = this.#commandSize + line.length + size
    if (size > this.#maxLiteral) {
      this.#fail({
        code: 'LITERAL_TOO_BIG',
        message: `Literal of ${size} bytes exceeds the ${this.#maxLiteral} byte limit`,
        tag: this.#tag,
        synchronizing,
      })
    } else if (newSize > this.#maxCommand) {
      this.#fail({ code: 'COMMAND_TOO_BIG', message: `Command exceeds the ${this.#maxCommand} byte limit`, tag: this.#tag, synchronizing })
    }
    if (synchronizing && this.#failure !== undefined) {
      // The client waits for "+" before sending the literal; we never send it, so the command ends here.
      this.#finishCommand(events)
      return
    }
    this.#commandSize = newSize
    if (this.#failure === undefined) this.#lines.push(line)
    if (synchronizing) {
      events.push({ kind: 'needContinuation', tag: this.#tag, size })
      this.#awaitingSync = true
    }
    this.#literalRemaining = size
    this.#mode = size > 0 ? 'literal' : 'line'
    if (size === 0 && this.#failure === undefined) this.#literals.push(Buffer.alloc(0))
  }

  #finishCommand(events: ReaderEvent[]): void {
    if (this.#failure !== undefined) events.push({ kind: 'error', error: this.#failure })
    else events.push({ kind: 'command', frame: { lines: this.#lines, literals: this.#literals } })
    this.#reset()
  }

  #reset(): void {
    this.#lines = []
    this.#literals = []
    this.#literal.clear()
    this.#line.clear()
    this.#literalRemaining = 0
    this.#awaitingSync = false
    this.#commandSize = 0
    this.#tag = undefined
    this.#firstLine = true
    this.#failure = undefined
    this.#mode = 'line'
  }
}

function stripCr(text: string): string {
  return text.endsWith('\r') ? text.slice(0, -1) : text
}

function stripCrBuffer(line: Buffer): Buffer {
  return line.length > 0 && line[line.length - 1] === CR ? line.subarray(0, line.length - 1) : line
}

/**
 * The tag at the start of a command line (RFC 9051 `tag`: ASTRING-CHARs except `+`), when it
 * is followed by SP or the end of the line; `undefined` otherwise.
 */
export function parseTag(line: Uint8Array): string | undefined {
  let end = 0
  while (end < line.length && line[end] !== 0x20) {
    const c = line[end] ?? 0
    if (c <= 0x20 || c >= 0x7f || TAG_EXCLUDED.has(c)) return undefined
    end++
  }
  if (end === 0) return undefined
  return Buffer.from(line.buffer, line.byteOffset, end).toString('latin1')
}

const CRLF = Buffer.from('\r\n', 'latin1')

/**
 * A frame's bytes as they came off the wire: each line with its CRLF, then its literal. For a
 * command in progress (see `pendingRaw`) that is the part read so far, less the partial line
 * or literal.
 */
export function rawFrame(frame: CommandFrame): Buffer {
  const parts: Buffer[] = []
  frame.lines.forEach((line, i) => {
    parts.push(line, CRLF)
    const literal = frame.literals[i]
    if (literal !== undefined) parts.push(literal)
  })
  return Buffer.concat(parts)
}

/** Whether a frame is the `DONE` line that ends IDLE (RFC 2177), case-insensitively. */
export function isIdleDone(frame: CommandFrame): boolean {
  return frame.literals.length === 0 && frame.lines.length === 1 && frame.lines[0]?.toString('latin1').toUpperCase() === 'DONE'
}
