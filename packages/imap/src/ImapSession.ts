import type * as net from 'node:net'
import * as tls from 'node:tls'
import type { ImapAccount, ImapBackend, ImapMailbox } from './ImapBackend.ts'
import { ConnectionClosedError, errorResponse, no } from './ImapError.ts'
import type { ErrorResponse } from './ImapError.ts'
import type { MailboxTracker, TrackerEvent } from './MailboxTracker.ts'
import type { StructureCache } from './mime/StructureCache.ts'
import { COMMANDS } from './commands/registry.ts'
import type { CommandResult, CommandSpec, SessionState } from './commands/CommandSpec.ts'
import type { Command } from './wire/Command.ts'
import { CommandReader, rawFrame } from './wire/CommandReader.ts'
import { loginUpstream, spliceToUpstream, UpstreamError, type ProxiedConnection, type UpstreamSession } from './ImapProxy.ts'
import type { ReaderEvent } from './wire/CommandReader.ts'
import { wireFlagList } from './wireFlags.ts'
import { atom, encodeContinuation, encodeFetch, encodeTagged, encodeUntagged, encodeUntaggedStatus, num } from './wire/encode.ts'
import type { ResponseCode, Token } from './wire/encode.ts'
import { parseCommand } from './wire/parseCommand.ts'
import { SequenceSet } from './wire/SequenceSet.ts'

/** Server settings every session reads (resolved, with defaults applied). */
export interface SessionSettings {
  readonly backend: ImapBackend
  readonly allowPlaintextAuth: boolean
  readonly trustLoopback: boolean
  readonly idleTimeoutMs: number
  readonly maxLiteralSize: number
  readonly maxLineLength: number
  /** Largest literal, line and whole command accepted before authentication. */
  readonly preAuthLiteralSize: number
  readonly preAuthLineLength: number
  readonly preAuthCommandSize: number
  readonly serverName: string
  /** A failed LOGIN/AUTHENTICATE is answered only after this long (slows password guessing). */
  readonly authFailureDelayMs: number
  /** After this many failed authentications the connection is closed. */
  readonly maxAuthFailures: number
  /** Bound of dialling and logging in at the server holding an account (`ImapBackend.route`). */
  readonly proxyTimeoutMs: number
}

/** What the server gives each session. */
export interface SessionContext {
  readonly settings: SessionSettings
  readonly cache: StructureCache
  /** Present when STARTTLS is offered. */
  readonly secureContext: tls.SecureContext | undefined
  /** Counts a session against the user's connection limit; false when the limit is reached. */
  acquireUser(user: string): boolean
  releaseUser(user: string): void
  sessionClosed(session: ImapSession): void
  /**
   * Adds `delta` to the bytes buffered by unauthenticated sessions; false when the server-wide
   * total is now over its limit (the session then drops what it holds and closes).
   */
  preAuthBuffered(delta: number): boolean
  /** Unexpected failures (bugs, backend outages); never client mistakes. */
  logError(context: string, error: unknown): void
}

/** The mailbox a session has selected. */
export interface SelectedMailbox {
  readonly name: string
  readonly handle: ImapMailbox
  readonly tracker: MailboxTracker
  readonly readOnly: boolean
}

const QUEUE_HIGH = 64
const QUEUE_LOW = 8

const frameBytes = (ev: ReaderEvent): number =>
  ev.kind === 'command' ? ev.frame.lines.reduce((n, l) => n + l.length, 0) + ev.frame.literals.reduce((n, l) => n + l.length, 0) : 0

/**
 * One IMAP connection: reads commands with the wire layer's {@link CommandReader}, runs them
 * one at a time through the command table (`src/commands/`), and owns the state machine
 * (not authenticated -> authenticated -> selected), TLS upgrade, the autologout timer and
 * the delivery of mailbox notifications at the moments RFC 3501 7.4.1 allows. It never
 * throws out of socket callbacks: every failure becomes a NO/BAD response (via
 * `errorResponse`), or closes the connection when the connection itself failed.
 */
export class ImapSession {
  state: SessionState = 'notAuthenticated'
  account: ImapAccount | undefined
  selected: SelectedMailbox | undefined
  /** Extensions the client enabled (CONDSTORE, QRESYNC). */
  readonly enabled = new Set<string>()
  secure: boolean
  readonly loopback: boolean
  readonly remoteAddress: string

  #socket: net.Socket
  #reader: CommandReader
  readonly #queue: ReaderEvent[] = []
  #wake: (() => void) | undefined
  #paused = false
  #closed = false
  #ending = false
  #timer: NodeJS.Timeout | undefined
  #afterTagged: (() => void) | undefined
  #drainWaiters: Array<() => void> = []
  #user: string | undefined
  /** Bytes of this session counted in the server's pre-auth total (0 once authenticated). */
  #preAuthCounted = 0
  /** The part of it in complete commands waiting to run (reading pauses past one command's worth). */
  #preAuthQueued = 0
  /** Logged in at the server holding the account, to be spliced on after the tagged OK. */
  #upstream: UpstreamSession | undefined
  /** Set once the connection is spliced onto an upstream: this session reads and writes nothing any more. */
  #proxied: ProxiedConnection | undefined
  /** `* BYE` text to send once the running command's tagged response is out (see `closeSoon`). */
  #byeAfter: string | undefined
  readonly #listeners: { data: (c: Buffer) => void; close: () => void; error: (e: Error) => void; drain: () => void; end: () => void }

  constructor(
    socket: net.Socket,
    readonly context: SessionContext,
    options: { secure: boolean },
  ) {
    this.#socket = socket
    this.secure = options.secure
    this.remoteAddress = socket.remoteAddress ?? ''
    this.loopback = /^(127\.|::1$|::ffff:127\.)/.test(this.remoteAddress)
    this.#reader = new CommandReader(this.#limits())
    this.#listeners = {
      data: (c) => this.#onData(c),
      close: () => this.#onClose(),
      error: () => this.#onClose(),
      drain: () => this.#flushDrain(),
      end: () => this.#onClose(),
    }
  }

  get settings(): SessionSettings {
    return this.context.settings
  }

  /** CONDSTORE is on (enabled, implied by QRESYNC, or by a CONDSTORE-enabling command). */
  get condstore(): boolean {
    return this.enabled.has('CONDSTORE') || this.enabled.has('QRESYNC')
  }

  get qresync(): boolean {
    return this.enabled.has('QRESYNC')
  }

  /** Whether LOGIN / AUTHENTICATE PLAIN may be used on this connection. */
  get plaintextAuthAllowed(): boolean {
    return this.secure || (this.loopback && this.settings.trustLoopback) || this.settings.allowPlaintextAuth
  }

  /** The capabilities to advertise in the current state. */
  capabilities(): string[] {
    const caps = ['IMAP4rev1', 'LITERAL+', 'SASL-IR', 'ID', 'ENABLE', 'IDLE', 'NAMESPACE', 'UNSELECT']
    if (this.state === 'notAuthenticated') {
      if (!this.secure && this.context.secureContext !== undefined) caps.push('STARTTLS')
      caps.push(this.plaintextAuthAllowed ? 'AUTH=PLAIN' : 'LOGINDISABLED')
      return caps
    }
    caps.push(
      'UIDPLUS',
      'MOVE',
      'CONDSTORE',
      'QRESYNC',
      'CHILDREN',
      'ESEARCH',
      'MULTIAPPEND',
      `APPENDLIMIT=${this.settings.maxLiteralSize}`,
    )
    return caps
  }

  /** Sends the greeting and starts reading commands. */
  start(): void {
    this.#attach(this.#socket)
    this.#touch()
    const greeting = encodeUntaggedStatus('OK', `${this.settings.serverName} ready`, {
      code: 'CAPABILITY',
      capabilities: this.capabilities(),
    })
    this.send(greeting).then(
      () => this.#pump(),
      () => this.#onClose(),
    )
  }

  /** Ends the session from outside (server shutdown): `* BYE`, then close. */
  shutdown(reason: string): void {
    if (this.#proxied !== undefined) return this.#proxied.destroy()
    if (this.#closed) return
    this.#socket.write(encodeUntaggedStatus('BYE', reason))
    this.#end()
  }

  /**
   * Ends the session with `* BYE [UNAVAILABLE] reason` without cutting a response in half:
   * at once while it waits for the client (IDLE included), else after the running command's
   * tagged response. A proxied session is left alone (its upstream says BYE itself).
   */
  closeSoon(reason: string): void {
    if (this.#proxied !== undefined || this.#closed || this.#ending) return
    if (this.#wake !== undefined) {
      this.#socket.write(encodeUntaggedStatus('BYE', reason, { code: 'UNAVAILABLE' }))
      this.#end()
    } else this.#byeAfter = reason
  }

  /** Whether this connection is spliced onto the server holding its account. */
  get proxied(): boolean {
    return this.#proxied !== undefined
  }

  #limits(): { maxLineLength: number; maxLiteralSize: number; maxCommandSize?: number } {
    const s = this.settings
    if (this.state !== 'notAuthenticated') return { maxLineLength: s.maxLineLength, maxLiteralSize: s.maxLiteralSize }
    return {
      maxLineLength: Math.min(s.preAuthLineLength, s.maxLineLength),
      maxLiteralSize: Math.min(s.preAuthLiteralSize, s.maxLiteralSize),
      maxCommandSize: s.preAuthCommandSize,
    }
  }

  /**
   * Before login, what this session buffers (the reader's unfinished command and the queued
   * ones) counts against the server's pre-auth total and pauses reading past one command's
   * worth; false when the total is over its limit. After login it counts nothing.
   */
  #countPreAuth(): boolean {
    let queued = 0
    let held = 0
    if (this.state === 'notAuthenticated' && !this.#closed) {
      for (const ev of this.#queue) queued += frameBytes(ev)
      held = queued + this.#reader.bufferedBytes
    }
    this.#preAuthQueued = queued
    const delta = held - this.#preAuthCounted
    this.#preAuthCounted = held
    if (queued > this.settings.preAuthCommandSize && !this.#paused) {
      this.#paused = true
      this.#socket.pause()
    }
    if (delta === 0) return true
    return this.context.preAuthBuffered(delta) || delta < 0
  }

  #attach(socket: net.Socket): void {
    const l = this.#listeners
    socket.on('data', l.data)
    socket.on('close', l.close)
    socket.on('error', l.error)
    socket.on('drain', l.drain)
    socket.on('end', l.end)
  }

  #detach(socket: net.Socket): void {
    const l = this.#listeners
    socket.off('data', l.data)
    socket.off('close', l.close)
    socket.off('drain', l.drain)
    socket.off('end', l.end)
    // An error listener stays: an unhandled 'error' event would crash the process.
  }

  #onData(chunk: Buffer): void {
    if (this.#closed || this.#ending) return
    this.#touch()
    for (const ev of this.#reader.push(chunk)) this.#queue.push(ev)
    if (this.#queue.length > QUEUE_HIGH && !this.#paused) {
      this.#paused = true
      this.#socket.pause()
    }
    if (this.#preAuthCounted > 0 || this.state === 'notAuthenticated') {
      if (!this.#countPreAuth()) {
        // the server-wide budget is spent: drop what this connection holds, then say why
        this.#queue.length = 0
        this.#reader = new CommandReader(this.#limits())
        this.#countPreAuth()
        this.shutdown('Too much data from connections that have not logged in')
        return
      }
    }
    this.#wake?.()
  }

  #onClose(): void {
    if (this.#closed) return
    this.#closed = true
    this.#countPreAuth()
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#flushDrain()
    this.#wake?.()
    this.#socket.destroy()
  }

  #flushDrain(): void {
    const waiters = this.#drainWaiters
    this.#drainWaiters = []
    for (const w of waiters) w()
  }

  #end(): void {
    if (this.#ending) return
    this.#ending = true
    this.#socket.end()
    // A peer that never reads would keep the socket half-open forever.
    setTimeout(() => this.#onClose(), 2000).unref()
  }

  #touch(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = setTimeout(() => {
      if (this.#closed) return
      this.#socket.write(encodeUntaggedStatus('BYE', 'Autologout; idle for too long'))
      this.#end()
    }, this.settings.idleTimeoutMs)
    this.#timer.unref()
  }

  /**
   * The next event from the client, in order, or `undefined` once the connection is closed or closing.
   * Only one caller at a time (the command loop, or a command reading continuation lines).
   */
  async nextEvent(): Promise<ReaderEvent | undefined> {
    for (;;) {
      // once the session is ending (LOGOUT, BYE) nothing pipelined after it may still run
      if (this.#closed || this.#ending || this.#proxied !== undefined) return undefined
      const ev = this.#queue.shift()
      if (ev !== undefined) {
        if (this.#preAuthCounted > 0) this.#countPreAuth()
        if (this.#paused && this.#queue.length < QUEUE_LOW && this.#preAuthQueued <= this.settings.preAuthCommandSize) {
          this.#paused = false
          this.#socket.resume()
        }
        return ev
      }
      await new Promise<void>((resolve) => {
        this.#wake = resolve
      })
      this.#wake = undefined
    }
  }

  /** Withdraws a `needContinuation` just received instead of sending `+` (see CommandReader). */
  refuseLiteral(): boolean {
    return this.#reader.refuseLiteral()
  }

  /** Holds writes in the socket's buffer (many small responses, one syscall) until `uncork`. */
  cork(): void {
    this.#corked = true
    this.#socket.cork()
  }

  /** Flushes what `cork` held. */
  uncork(): void {
    this.#corked = false
    this.#socket.uncork()
  }

  #corked = false

  /** Writes bytes, waiting while the socket's buffer is full; throws once the connection is gone. */
  async send(bytes: Buffer): Promise<void> {
    if (this.#closed) throw new ConnectionClosedError()
    if (this.#socket.write(bytes)) return
    // a corked socket never drains: flush what it holds before waiting
    const corked = this.#corked
    if (corked) this.#socket.uncork()
    await new Promise<void>((resolve) => this.#drainWaiters.push(resolve))
    if (corked && this.#corked) this.#socket.cork()
    if (this.#closed) throw new ConnectionClosedError()
  }

  /** `* tokens...` */
  untagged(tokens: readonly Token[]): Promise<void> {
    return this.send(encodeUntagged(tokens))
  }

  /** `* OK|NO|BAD|BYE [code] text` */
  untaggedStatus(status: 'OK' | 'NO' | 'BAD' | 'BYE', text: string, code?: ResponseCode): Promise<void> {
    return this.send(encodeUntaggedStatus(status, text, code))
  }

  /** `+ text` */
  continuation(text?: string): Promise<void> {
    return this.send(encodeContinuation(text))
  }

  /** Runs `fn` right after the current command's tagged response is written. */
  afterTagged(fn: () => void): void {
    this.#afterTagged = fn
  }

  #authFailures = 0

  /**
   * A failed authentication: waits `authFailureDelayMs` before the NO goes out, and after
   * `maxAuthFailures` of them closes the connection (`* BYE`) once the NO is written.
   */
  async authFailed(): Promise<void> {
    this.#authFailures++
    const delay = this.settings.authFailureDelayMs
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay).unref())
    if (this.#authFailures >= this.settings.maxAuthFailures) this.afterTagged(() => this.shutdown('Too many authentication failures'))
  }

  /** Closes the connection after the current command's tagged response. */
  closeAfterTagged(): void {
    this.#afterTagged = () => this.#end()
  }

  /** Authenticated: counts the connection against the user's limit and switches state. */
  loggedIn(account: ImapAccount): void {
    if (!this.context.acquireUser(account.user)) {
      account.close?.()
      throw no('Too many connections for this user', 'LIMIT')
    }
    this.#user = account.user
    this.account = account
    this.state = 'authenticated'
    this.#reader.setLimits(this.#limits())
    this.#countPreAuth()
  }

  /**
   * LOGIN / AUTHENTICATE for an account another server holds (the password was checked
   * here): logs in there, and once this command's tagged OK (with the upstream's
   * capabilities) is written, splices the connection onto that server. An upstream that
   * cannot be reached gives `NO [UNAVAILABLE]`; one that refuses, its refusal.
   */
  async forwardTo(target: { host: string; port: number }, user: string, password: string): Promise<CommandResult> {
    let up: UpstreamSession
    try {
      up = await loginUpstream(target, user, password, this.settings.proxyTimeoutMs)
    } catch (e) {
      if (e instanceof UpstreamError && e.kind === 'refused')
        throw no(`Refused by the server holding this account: ${e.message}`, 'UNAVAILABLE')
      this.context.logError('proxy login', e)
      throw no('The server holding this account cannot be reached now; try again shortly', 'UNAVAILABLE')
    }
    if (this.#closed) {
      up.socket.destroy()
      return { text: 'Logged in' }
    }
    this.#upstream = up
    this.afterTagged(() => this.#splice())
    return { text: up.text || 'Logged in', code: { code: 'CAPABILITY', capabilities: up.capabilities ?? this.capabilities() } }
  }

  /** Hands the connection to the upstream: what the client pipelined after the login goes first. */
  #splice(): void {
    const up = this.#upstream
    this.#upstream = undefined
    if (up === undefined || this.#closed) return void up?.socket.destroy()
    const pending: Buffer[] = []
    for (const ev of this.#queue) {
      // a literal announced but not answered is announced again by the upstream
      if (ev.kind === 'needContinuation') continue
      if (ev.kind === 'error') {
        up.socket.destroy()
        return this.shutdown('Cannot pass on a refused command; reconnect')
      }
      pending.push(rawFrame(ev.frame))
    }
    const partial = this.#reader.pendingRaw()
    if (partial === undefined) {
      up.socket.destroy()
      return this.shutdown('Cannot pass on a refused command; reconnect')
    }
    pending.push(partial)
    this.#queue.length = 0
    // nothing is held before login any more: give back what this connection counted
    this.state = 'authenticated'
    this.#countPreAuth()
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    const socket = this.#socket
    this.#detach(socket)
    this.#paused = false
    this.#proxied = spliceToUpstream(socket, up, Buffer.concat(pending), () => this.context.sessionClosed(this))
    this.#wake?.()
  }

  /** Makes `selected` the selected mailbox (closing any earlier one first). */
  select(selected: SelectedMailbox): void {
    this.deselect()
    this.selected = selected
    this.state = 'selected'
  }

  /** Leaves the selected state without expunging. */
  deselect(): void {
    const s = this.selected
    if (s === undefined) return
    this.selected = undefined
    if (this.state === 'selected') this.state = 'authenticated'
    s.tracker.dispose()
    s.handle.release()
  }

  /** STARTTLS: called after the tagged OK; wraps the socket and forgets anything pipelined. */
  upgradeToTls(): void {
    const secureContext = this.context.secureContext
    if (secureContext === undefined || this.#closed) return
    const raw = this.#socket
    this.#detach(raw)
    // Bytes sent in the clear after STARTTLS must never be taken as commands (CVE-2011-0411).
    this.#queue.length = 0
    this.#reader = new CommandReader(this.#limits())
    this.#countPreAuth()
    if (this.#paused) {
      this.#paused = false
      raw.resume()
    }
    const secure = new tls.TLSSocket(raw, { isServer: true, secureContext })
    this.#socket = secure
    this.secure = true
    this.#attach(secure)
  }

  /**
   * Tells the client what changed in the selected mailbox (see {@link MailboxTracker.sync}):
   * EXPUNGE (VANISHED with QRESYNC) only when `allowExpunge`.
   */
  async notify(allowExpunge: boolean): Promise<void> {
    const s = this.selected
    if (s === undefined || !s.tracker.dirty) return
    await this.sendEvents(await s.tracker.sync(allowExpunge))
  }

  /** Encodes tracker events in order; consecutive expunges become one VANISHED with QRESYNC. */
  async sendEvents(events: readonly TrackerEvent[]): Promise<void> {
    const s = this.selected
    const out: Buffer[] = []
    let vanished: number[] = []
    const flushVanished = (): void => {
      if (vanished.length === 0) return
      out.push(encodeUntagged([atom('VANISHED'), atom(SequenceSet.fromNumbers(vanished).toString())]))
      vanished = []
    }
    for (const ev of events) {
      if (ev.kind === 'expunge' && this.qresync) {
        vanished.push(ev.uid)
        continue
      }
      flushVanished()
      switch (ev.kind) {
        case 'expunge':
          out.push(encodeUntagged([num(ev.seq), atom('EXPUNGE')]))
          break
        case 'exists':
          out.push(encodeUntagged([num(ev.count), atom('EXISTS')]))
          break
        case 'flags':
          out.push(encodeUntagged([atom('FLAGS'), wireFlagList(ev.flags)]))
          break
        case 'fetch': {
          const items: Array<[string, Token]> = [
            ['UID', num(ev.uid)],
            ['FLAGS', wireFlagList(ev.flags)],
          ]
          if (this.condstore && s !== undefined) items.push(['MODSEQ', { kind: 'list', items: [num(s.handle.modseq.of(ev.uid))] }])
          out.push(encodeFetch(ev.seq, items))
          break
        }
      }
    }
    flushVanished()
    if (out.length > 0) await this.send(Buffer.concat(out))
  }

  async #pump(): Promise<void> {
    try {
      for (;;) {
        const ev = await this.nextEvent()
        if (ev === undefined) break
        await this.#handle(ev)
      }
    } catch (e) {
      if (!(e instanceof ConnectionClosedError)) this.context.logError('session', e)
    } finally {
      this.#cleanup()
    }
  }

  async #handle(ev: ReaderEvent): Promise<void> {
    switch (ev.kind) {
      case 'needContinuation':
        await this.continuation('Ready for literal data')
        return
      case 'error': {
        const e = ev.error
        const tooBig = e.code !== 'LINE_TOO_LONG'
        const status = tooBig && e.synchronizing ? 'NO' : 'BAD'
        const code: ResponseCode | undefined = tooBig ? { code: 'TOOBIG' } : undefined
        await this.send(e.tag === undefined ? encodeUntaggedStatus('BAD', e.message, code) : encodeTagged(e.tag, status, e.message, code))
        return
      }
      case 'command': {
        const parsed = parseCommand(ev.frame)
        if (parsed.ok) {
          await this.#run(parsed.command)
          return
        }
        if (parsed.tag === undefined) {
          await this.untaggedStatus('BAD', parsed.message)
          return
        }
        const code: ResponseCode | undefined =
          parsed.code === 'BADCHARSET' ? { code: 'BADCHARSET', charsets: ['UTF-8', 'US-ASCII'] } : undefined
        await this.send(encodeTagged(parsed.tag, parsed.code === 'BADCHARSET' ? 'NO' : 'BAD', parsed.message, code))
      }
    }
  }

  async #run(cmd: Command): Promise<void> {
    const spec = COMMANDS[cmd.name] as CommandSpec<Command>
    let result: CommandResult | void = undefined
    let failure: ErrorResponse | undefined
    if (!spec.states.includes(this.state as SessionState)) {
      failure = { status: 'BAD', text: stateMessage(this.state, cmd.name), unexpected: false }
    } else {
      try {
        result = await spec.run(this, cmd)
      } catch (e) {
        if (e instanceof ConnectionClosedError) throw e
        failure = errorResponse(e)
        if (failure.unexpected) this.context.logError(`${cmd.name} failed`, e)
      }
    }
    if (this.selected !== undefined && spec.notifies !== false) {
      try {
        await this.notify(spec.expungeAllowed?.(cmd) ?? true)
      } catch (e) {
        if (e instanceof ConnectionClosedError) throw e
        this.context.logError('notification failed', e)
      }
    }
    const tagged =
      failure !== undefined
        ? encodeTagged(cmd.tag, failure.status, failure.text, failure.code)
        : encodeTagged(cmd.tag, 'OK', result?.text ?? `${cmd.name} completed`, result?.code)
    await this.send(tagged)
    const after = this.#afterTagged
    this.#afterTagged = undefined
    after?.()
    const bye = this.#byeAfter
    this.#byeAfter = undefined
    if (bye !== undefined && this.#proxied === undefined) {
      await this.untaggedStatus('BYE', bye, { code: 'UNAVAILABLE' })
      this.#end()
    }
  }

  #cleanup(): void {
    this.#upstream?.socket.destroy()
    this.#upstream = undefined
    // a proxied connection lives on in the splice, which reports its close
    if (this.#proxied !== undefined) return
    try {
      this.deselect()
    } catch (e) {
      this.context.logError('deselect on close', e)
    }
    try {
      this.account?.close?.()
    } catch (e) {
      this.context.logError('account close', e)
    }
    this.account = undefined
    if (this.#user !== undefined) this.context.releaseUser(this.#user)
    this.#user = undefined
    if (!this.#closed) this.#end()
    this.context.sessionClosed(this)
  }
}

function stateMessage(state: string, name: string): string {
  if (state === 'notAuthenticated') return `${name} is not valid before logging in`
  if (name === 'LOGIN' || name === 'AUTHENTICATE' || name === 'STARTTLS') return `${name} is not valid after logging in`
  return `${name} needs a selected mailbox`
}
