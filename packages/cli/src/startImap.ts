import type { MailNode } from '@mailweave/server'

/** A running IMAP listener. */
export interface ImapListener {
  url: string
  close(): Promise<void>
}

/** Starts the IMAP front end of a node (wired once @mailweave/imap's server lands). */
export async function startImap(_node: MailNode, _addr: { host: string; port: number }, _opts: { allowPlaintextAuth: boolean }): Promise<ImapListener | undefined> {
  throw new Error('IMAP is not available in this build yet')
}
