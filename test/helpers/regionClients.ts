/**
 * Real IMAP clients (imapflow) for the tests of regions of several processes: a client that
 * keeps one session to one process of a region, records every APPEND it got acknowledged
 * (Message-ID -> UID) and every one the server refused, checks each sync with the
 * {@link ModelClient} oracle (S1..S5 across its reconnects, which stay within one node), and
 * reconnects to the next process of its list when its session ends.
 */
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { ImapFlow } from 'imapflow'
import { InvariantViolation, ModelClient, postgresBinDir } from '@mailweave/testkit'
import type { ProcessCluster } from '@mailweave/testkit-cluster'
import { imapflowView } from '../../scripts/lib/imapClients.ts'

const run = promisify(execFile)

/** A message whose Message-ID (the identity the checks use) is `id`. */
export const raw = (id: string): string =>
  `From: region@example.org\r\nTo: someone@example.org\r\nSubject: ${id}\r\nMessage-ID: <${id}>\r\n\r\nbody of ${id}\r\n`

/** Runs one SQL query against a region's database (psql, unaligned, tuples only); rows split at newlines. */
export async function sql(cluster: ProcessCluster, region: string, query: string): Promise<string[]> {
  const db = cluster.region(region).database
  if (db === undefined) throw new Error(`region ${region} has no database of its own`)
  const { stdout } = await run(join(postgresBinDir(), 'psql'), ['-X', '-q', '-A', '-t', '-d', db.url(), '-c', query], { timeout: 30_000 })
  return stdout.split('\n').filter((l) => l !== '')
}

/** The process holding `account`'s lease now (by the database clock), or undefined. */
export async function leaseOwner(cluster: ProcessCluster, region: string, account: string): Promise<string | undefined> {
  if (!/^[a-z0-9#._-]+$/.test(account)) throw new Error(`unexpected account name ${account}`)
  const rows = await sql(cluster, region, `SELECT owner FROM mw_leases WHERE account = '${account}' AND expires > clock_timestamp()`)
  return rows[0]
}

/** What became of one APPEND. */
export type AppendOutcome = { kind: 'acked'; uid: number } | { kind: 'refused'; reason: string } | { kind: 'unknown'; reason: string }

/** One IMAP client of a region (see the file comment). */
export class RegionClient {
  /** Message-ID -> UID of every acknowledged APPEND. */
  readonly acked = new Map<string, number>()
  /** APPENDs the server answered NO/BAD (never acknowledged): Message-ID -> the answer. */
  readonly refused = new Map<string, string>()
  /** APPENDs whose session ended before an answer (they may or may not be stored). */
  readonly unknown = new Set<string>()
  readonly model: ModelClient
  flow: ImapFlow | undefined
  /** Port of the current session's process. */
  port = 0
  private turn = 0

  constructor(
    readonly name: string,
    /** The IMAP ports this client may use, the preferred first (read at every connect: processes restart on the same ports). */
    private readonly ports: () => number[],
    private readonly user: string,
    private readonly pass: string,
    globalUids: Map<number, string>,
  ) {
    this.model = new ModelClient(name, globalUids)
  }

  /** A session, opening one at the next port of the list when there is none; rejects when no port accepted the login. */
  async session(): Promise<ImapFlow> {
    if (this.flow?.usable === true) return this.flow
    this.drop()
    const ports = this.ports()
    let last: unknown
    for (let k = 0; k < ports.length; k++) {
      const port = ports[(this.turn + k) % ports.length]!
      const f = new ImapFlow({
        host: '127.0.0.1',
        port,
        secure: false,
        auth: { user: this.user, pass: this.pass },
        logger: false,
        connectionTimeout: 10_000,
        greetingTimeout: 10_000,
        // an APPEND unanswered this long counts as cut off (its outcome unknown)
        socketTimeout: 20_000,
      })
      f.on('error', () => {})
      try {
        await f.connect()
        this.turn = (this.turn + k) % ports.length
        this.flow = f
        this.port = port
        return f
      } catch (e) {
        last = e
        f.close()
      }
    }
    this.turn++
    throw new Error(`${this.name}: no process accepted the login (ports ${ports.join(', ')}): ${String(last)}`)
  }

  /** APPENDs message `id` to INBOX once (no retry: a retry could store it twice); records the outcome. */
  async append(id: string): Promise<AppendOutcome> {
    let f: ImapFlow
    try {
      f = await this.session()
    } catch (e) {
      // nothing was sent
      return { kind: 'refused', reason: String(e) }
    }
    try {
      const r = await f.append('INBOX', raw(id))
      if (r === false || typeof r.uid !== 'number') throw new Error('APPEND answered without APPENDUID')
      this.acked.set(id, r.uid)
      return { kind: 'acked', uid: r.uid }
    } catch (e) {
      const answered = (e as { serverResponseCode?: string; responseStatus?: string }).responseStatus
      const reason = e instanceof Error ? e.message : String(e)
      this.drop()
      if (answered === 'NO' || answered === 'BAD') {
        this.refused.set(id, reason)
        return { kind: 'refused', reason }
      }
      this.unknown.add(id)
      return { kind: 'unknown', reason }
    }
  }

  /**
   * One full sync (SELECT, every UID with its Message-ID) checked by the model client; false
   * when the session ended first or a body was not available yet (an incomplete sync, not
   * judged). An invariant violation is thrown, never swallowed.
   */
  async sync(): Promise<boolean> {
    try {
      const f = await this.session()
      const view = await imapflowView(f)
      // a message whose body has not reached this process yet gets no FETCH response (NO
      // [UNAVAILABLE] names it) but is exposed all the same: such a sync is incomplete, and the
      // model client only judges complete ones (as if this client had not finished syncing)
      const uids = await f.search({ all: true }, { uid: true })
      if (uids === false || uids === undefined || uids.length !== view.messages.length) return false
      this.model.sync(view)
      return true
    } catch (e) {
      if (e instanceof InvariantViolation) throw e
      this.drop()
      return false
    }
  }

  /** Ends the session (LOGOUT when it still works). */
  async close(): Promise<void> {
    const f = this.flow
    this.flow = undefined
    if (f === undefined) return
    await f.logout().catch(() => undefined)
    f.close()
  }

  /** Ends the session and makes the next one start at the next process of the list (a client that moves). */
  moveOn(): void {
    this.drop()
    this.turn++
  }

  /** Forgets the session without a goodbye (its process may be gone). */
  drop(): void {
    const f = this.flow
    this.flow = undefined
    f?.close()
  }
}

/** Every acknowledged APPEND of every client: throws on two messages acknowledged with one UID (a reused UID). */
export function allAcked(clients: RegionClient[]): Map<string, number> {
  const all = new Map<string, number>()
  const byUid = new Map<number, string>()
  for (const c of clients)
    for (const [id, uid] of c.acked) {
      const other = byUid.get(uid)
      if (other !== undefined && other !== id) throw new InvariantViolation('S1', `uid ${uid} acknowledged for ${other} and for ${id}`)
      byUid.set(uid, id)
      all.set(id, uid)
    }
  return all
}
