import { DurableMailbox, ModSeqIndex, no, type ImapAccount, type ImapBackend, type ImapMailbox, type ImapRoute } from '@mailweave/imap'
import type { AccountRouter } from './AccountRouter.ts'
import type { AccountDoc } from './AccountDoc.ts'
import { mailboxDocName } from '@mailweave/core'
import type { DocRegistry } from './DocRegistry.ts'
import type { MailStore } from './MailStore.ts'
import { NodeError } from './NodeError.ts'
import type { UserDirectory } from './UserDirectory.ts'

/**
 * The node as an IMAP backend: accounts from the replicated user directory, mailboxes
 * from the account documents, and every mailbox a `MailStore` handle (durable appends,
 * fast-path exposures, bodies fetched from peers). MODSEQs are node-local
 * (`ModSeqIndex` per loaded mailbox, dropped when the registry unloads it; it restarts
 * from a clock-based value, which keeps HIGHESTMODSEQ monotone across restarts).
 */
export class NodeImapBackend implements ImapBackend {
  private readonly modseqs = new Map<string, ModSeqIndex>()

  constructor(
    private readonly store: MailStore,
    private readonly users: UserDirectory,
    registry: DocRegistry,
    private readonly router?: AccountRouter,
  ) {
    registry.onUnload((name) => {
      this.modseqs.get(name)?.dispose()
      this.modseqs.delete(name)
    })
  }

  async authenticate(user: string, password: string): Promise<ImapAccount | undefined> {
    const name = user.toLowerCase()
    if (!(await this.users.verify(name, password))) return undefined
    return new NodeImapAccount(name, this.store, this.modseqs)
  }

  /** The process of the region serving `user`: here, or the owner's IMAP listener. */
  async route(user: string): Promise<ImapRoute> {
    if (this.router === undefined) return { kind: 'local' }
    const r = await this.router.route(user)
    if (r.kind === 'local') return r
    if (r.kind === 'unavailable') return r
    const m = r.owner.imap === undefined ? null : /^\[?(.*?)\]?:(\d+)$/.exec(r.owner.imap)
    if (m === null) return { kind: 'unavailable', reason: `process ${r.owner.process} serves no IMAP` }
    return { kind: 'forward', host: m[1]!, port: Number(m[2]) }
  }
}

const isInferior = (name: string, parent: string) => name.startsWith(parent + '/')

/** Maps node errors to the IMAP response codes the server shows. */
function imapError(e: unknown): never {
  if (e instanceof NodeError) {
    if (e.code === 'CONFLICT') throw no(e.message, 'ALREADYEXISTS')
    if (e.code === 'NOT_FOUND') throw no(e.message, 'NONEXISTENT')
    if (e.code === 'BAD_REQUEST') throw no(e.message, 'CANNOT')
    if (e.code === 'TOO_LARGE') throw no(e.message, 'TOOBIG')
    if (e.code === 'UNAVAILABLE') throw no(e.message, 'UNAVAILABLE')
  }
  throw e
}

class NodeImapAccount implements ImapAccount {
  constructor(
    readonly user: string,
    private readonly store: MailStore,
    private readonly modseqs: Map<string, ModSeqIndex>,
  ) {}

  private account<T>(fn: (a: AccountDoc) => T): Promise<T> {
    return this.store.withAccount(this.user, fn).catch(imapError)
  }

  async list(): Promise<string[]> {
    return this.account((a) => a.list().map((m) => m.name))
  }

  async create(name: string): Promise<void> {
    await this.account((a) => a.create(name))
  }

  async delete(name: string): Promise<void> {
    if (name === 'INBOX') throw no('INBOX cannot be deleted', 'CANNOT')
    await this.account((a) => a.delete(name))
  }

  async rename(from: string, to: string): Promise<void> {
    if (to === from || isInferior(to, from)) throw no('Cannot rename a mailbox into itself', 'CANNOT')
    if (from !== 'INBOX') {
      await this.account((a) => {
        const moves = [
          [from, to],
          ...a
            .list()
            .filter((m) => isInferior(m.name, from))
            .map((m) => [m.name, to + m.name.slice(from.length)]),
        ] as [string, string][]
        if (a.find(from) === undefined) throw no(`No mailbox ${from}`, 'NONEXISTENT')
        for (const [, target] of moves) if (a.find(target) !== undefined) throw no(`Mailbox ${target} already exists`, 'ALREADYEXISTS')
        for (const [source, target] of moves) a.rename(source, target)
      })
      return
    }
    // RFC 3501 6.3.5: renaming INBOX moves its messages to a new mailbox and leaves INBOX empty
    await this.create(to)
    const src = await this.store.open(this.user, 'INBOX')
    const dst = await this.store.open(this.user, to)
    if (src === undefined || dst === undefined) throw no('INBOX rename failed: mailbox vanished', 'CANNOT')
    try {
      const moved: string[] = []
      for (const e of src.mailbox.view().messages) {
        const info = src.mailbox.message(e.guid)
        const raw = await src.body(e.guid)
        if (info === undefined || raw === undefined) continue
        await dst.append(raw, { flags: [...e.flags], internalDate: info.internalDate })
        moved.push(e.guid)
      }
      src.mailbox.expunge(moved)
      await src.flush()
    } finally {
      src.release()
      dst.release()
    }
  }

  async subscriptions(): Promise<string[]> {
    return this.account((a) => a.subscriptions())
  }

  async subscribe(name: string, on: boolean): Promise<void> {
    await this.account((a) => a.subscribe(name, on))
  }

  async open(name: string): Promise<ImapMailbox | undefined> {
    const h = await this.store.open(this.user, name).catch(imapError)
    if (h === undefined) return undefined
    const docName = mailboxDocName(this.user, h.entry.id)
    let modseq = this.modseqs.get(docName)
    if (modseq === undefined) this.modseqs.set(docName, (modseq = new ModSeqIndex(h.mailbox)))
    return new DurableMailbox({
      mailbox: h.mailbox,
      modseq,
      expose: () => h.expose(),
      // the body and the message fact are fsynced together by persist (MailStore.flush)
      stage: (m) =>
        h.stage(m.raw, { flags: m.flags === undefined ? undefined : [...m.flags], internalDate: m.internalDate }).catch(imapError),
      persist: () => h.flush(),
      body: (guid) => h.body(guid),
      release: () => h.release(),
    })
  }
}
