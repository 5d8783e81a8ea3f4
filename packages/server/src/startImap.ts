import { join } from 'node:path'
import { ImapServer } from '@mailweave/imap'
import type { AccountRouter } from './AccountRouter.ts'
import type { DocRegistry } from './DocRegistry.ts'
import { FileEnvelopeStore } from './FileEnvelopeStore.ts'
import type { Logger } from './Logger.ts'
import type { MailStore } from './MailStore.ts'
import type { ImapConfig, NodeConfig } from './NodeConfig.ts'
import { NodeImapBackend } from './NodeImapBackend.ts'
import { listenError } from './listenError.ts'
import type { UserDirectory } from './UserDirectory.ts'

/** Parsed messages the IMAP server keeps in memory, and encoded envelopes kept on disk. */
const STRUCTURE_CACHE = 20_000

/** A running IMAP front end of a node. */
export interface ImapFrontEnd {
  url: string
  /** Ends `user`'s sessions served here with `* BYE [UNAVAILABLE] reason`; returns how many. */
  closeUser(user: string, reason: string): number
  close(): Promise<void>
}

/** What the IMAP front end is built from: the node's parts it serves. */
export interface ImapParts {
  config: NodeConfig
  imap: ImapConfig
  store: MailStore
  users: UserDirectory
  registry: DocRegistry
  log: Logger
  /** Where each account is served (a region of several processes); absent: here. */
  router?: AccountRouter
}

/**
 * Starts the IMAP front end of a node over its mail store; resolves once it listens. A
 * bad or busy address rejects with a NodeError naming it (nothing is left open).
 */
export async function startImap(p: ImapParts): Promise<ImapFrontEnd> {
  // encoded ENVELOPEs survive a restart, as Dovecot's index cache does
  const envelopeStore = await FileEnvelopeStore.open({ dir: join(p.config.dataDir, 'cache'), capacity: STRUCTURE_CACHE, log: p.log })
  const server = new ImapServer({
    envelopeStore,
    structureCacheSize: STRUCTURE_CACHE,
    backend: new NodeImapBackend(p.store, p.users, p.registry, p.router),
    allowPlaintextAuth: p.imap.allowPlaintextAuth ?? false,
    tls: p.imap.tls,
    maxLiteralSize: p.store.maxMessageBytes,
    serverName: `mailweave ${p.config.nodeId}`,
    onError: (context, error) => p.log.error({ context, err: error instanceof Error ? error.stack : String(error) }, 'imap error'),
  })
  let bound: { host: string; port: number }
  try {
    bound = await server.listen(p.imap.port, p.imap.host)
  } catch (e) {
    await server.close().catch(() => undefined)
    await envelopeStore.close().catch(() => undefined)
    throw listenError('IMAP', p.imap, e)
  }
  return {
    url: `imap://${bound.host}:${bound.port}`,
    closeUser: (user, reason) => server.closeUser(user, reason),
    close: async () => {
      await server.close()
      await envelopeStore.close()
    },
  }
}
