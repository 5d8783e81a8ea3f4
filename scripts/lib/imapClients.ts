/**
 * Real-client helpers shared by `pnpm compare dovecot` and the IMAP e2e test: one full
 * imapflow sync as an exposure, and the mbsync (isync) config that pulls INBOX into a Maildir.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { ImapFlow } from 'imapflow'
import type { ExposureLike } from '@mailweave/testkit'

/** One full client sync: SELECT INBOX, then every UID with its Message-ID (the identity). */
export async function imapflowView(client: ImapFlow): Promise<ExposureLike> {
  const box = await client.mailboxOpen('INBOX')
  const messages: { uid: number; guid: string }[] = []
  if (box.exists > 0) {
    for await (const m of client.fetch('1:*', { uid: true, envelope: true }))
      messages.push({ uid: m.uid, guid: (m.envelope?.messageId ?? '').replace(/[<>]/g, '') })
  }
  messages.sort((a, b) => a.uid - b.uid)
  return { uidValidity: Number(box.uidValidity), uidNext: Number(box.uidNext), messages }
}

/** Where and as whom {@link writeMbsyncrc} pulls from. */
export interface MbsyncTarget {
  /** Name of the IMAP account inside the config. */
  account: string
  port: number
  user: string
  pass: string
}

/**
 * Writes `<dir>/mbsyncrc`: a pull-only channel from INBOX on 127.0.0.1:`port` (plaintext
 * LOGIN, no TLS) into the Maildir `maildir`; returns the config's path (for `mbsync -c`).
 */
export function writeMbsyncrc(dir: string, maildir: string, t: MbsyncTarget): string {
  const rc = join(dir, 'mbsyncrc')
  writeFileSync(
    rc,
    [
      `IMAPAccount ${t.account}`,
      'Host 127.0.0.1',
      `Port ${t.port}`,
      `User ${t.user}`,
      `Pass "${t.pass}"`,
      'SSLType None',
      'AuthMechs LOGIN',
      'Timeout 20',
      '',
      'IMAPStore remote',
      `Account ${t.account}`,
      '',
      'MaildirStore local',
      `Path ${maildir}/`,
      `Inbox ${maildir}/INBOX`,
      '',
      'Channel sync',
      'Far :remote:',
      'Near :local:',
      'Patterns INBOX',
      'Create Near',
      'Sync Pull',
      'SyncState *',
      '',
    ].join('\n'),
  )
  return rc
}
