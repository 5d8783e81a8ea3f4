import { ImapFlow } from 'imapflow'
import { ModelClient, type ExposureLike } from '@mailweave/testkit'

/** One message as a client knows it: its UID, Message-ID (the identity across UIDs) and subject. */
export interface HeldMessage {
  uid: number
  id: string
  subject: string
}

/** What one resync showed: the client's whole view afterwards and what changed. */
export interface SyncResult {
  uidNext: number
  messages: HeldMessage[]
  /** UIDs that appeared in this sync. */
  added: number[]
  /** UIDs the client held before and the server no longer lists (expunged for it). */
  removed: number[]
  /** Re-downloads found in this sync: the same message at a new UID. */
  duplicates: { id: string; oldUid: number; newUid: number }[]
}

const stripId = (v: string | undefined) => (v ?? '').replace(/[<>]/g, '')

/**
 * An imapflow client on one region that syncs like an offline client (RFC 4549): SELECT,
 * then `UID FETCH 1:<old UIDNEXT-1>` for what it already holds (to learn expunges) and
 * `UID FETCH <old UIDNEXT>:*` for new mail. Every sync goes through a {@link ModelClient},
 * so a broken S2..S5 (S1 across clients) throws its `InvariantViolation`.
 */
export class TourClient {
  readonly model: ModelClient
  /** Subject of every Message-ID this client ever fetched. */
  readonly subjects = new Map<string, string>()
  private readonly flow: ImapFlow

  constructor(
    readonly region: string,
    port: number,
    auth: { user: string; pass: string },
    globalUids: Map<number, string>,
  ) {
    this.model = new ModelClient(`imapflow@${region}`, globalUids)
    // No auto-IDLE: the tour decides when a client looks, so "nobody is looking" is true.
    this.flow = new ImapFlow({ host: '127.0.0.1', port, secure: false, auth, logger: false, disableAutoIdle: true })
  }

  async connect(): Promise<void> {
    await this.flow.connect()
  }

  /** APPENDs a message while not selected; returns the APPENDUID the server told (an exposure). */
  async append(raw: string): Promise<number | undefined> {
    const res = await this.flow.append('INBOX', raw)
    return res === false ? undefined : res.uid
  }

  /** One resync; throws InvariantViolation if the server broke a client-visible promise. */
  async sync(): Promise<SyncResult> {
    const box = await this.flow.mailboxOpen('INBOX')
    const before = new Map(this.model.cache)
    const oldNext = this.model.syncs === 0 ? 1 : Math.max(1, this.model.uidNext)
    const view = new Map<number, string>()
    try {
      if (box.exists > 0) {
        if (oldNext > 1) {
          for await (const m of this.flow.fetch(`1:${oldNext - 1}`, { uid: true, flags: true, envelope: true }, { uid: true }))
            this.take(view, m.uid, m.envelope)
        }
        for await (const m of this.flow.fetch(`${oldNext}:*`, { uid: true, envelope: true }, { uid: true })) {
          // `n:*` also names the highest message when n is above it (RFC 3501 6.4.8)
          if (m.uid >= oldNext) this.take(view, m.uid, m.envelope)
        }
      }
    } finally {
      await this.flow.mailboxClose().catch(() => false)
    }
    const messages = [...view].sort((a, b) => a[0] - b[0]).map(([uid, guid]) => ({ uid, guid }))
    const exposure: ExposureLike = { uidValidity: Number(box.uidValidity), uidNext: Number(box.uidNext), messages }
    const dupsBefore = this.model.duplicates.length
    this.model.sync(exposure)
    return {
      uidNext: this.model.uidNext,
      messages: this.held(),
      added: messages.filter((m) => !before.has(m.uid)).map((m) => m.uid),
      removed: [...before.keys()].filter((u) => !view.has(u)),
      duplicates: this.model.duplicates.slice(dupsBefore).map(([id, oldUid, newUid]) => ({ id, oldUid, newUid })),
    }
  }

  /** The client's current view, ascending by UID. */
  held(): HeldMessage[] {
    return [...this.model.cache].map(([uid, id]) => ({ uid, id, subject: this.subjects.get(id) ?? id }))
  }

  async close(): Promise<void> {
    await this.flow.logout().catch(() => this.flow.close())
  }

  private take(view: Map<number, string>, uid: number, envelope: { messageId?: string; subject?: string } | undefined): void {
    const id = stripId(envelope?.messageId)
    if (envelope?.subject !== undefined) this.subjects.set(id, envelope.subject)
    view.set(uid, id)
  }
}
