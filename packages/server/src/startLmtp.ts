import { LmtpServer } from '@mailweave/lmtp'
import type { AccountRouter } from './AccountRouter.ts'
import type { Logger } from './Logger.ts'
import type { MailStore } from './MailStore.ts'
import type { LmtpConfig, NodeConfig } from './NodeConfig.ts'
import { NodeLmtpBackend } from './NodeLmtpBackend.ts'
import { listenError } from './listenError.ts'
import type { UserDirectory } from './UserDirectory.ts'

/** Room left under the store's message limit for the Delivered-To and Received headers we add. */
const TRACE_HEADROOM = 4096

/** A running LMTP front end of a node. */
export interface LmtpFrontEnd {
  url: string
  close(): Promise<void>
}

/** What the LMTP front end is built from: the node's parts it delivers into. */
export interface LmtpParts {
  config: NodeConfig
  lmtp: LmtpConfig
  store: MailStore
  users: UserDirectory
  log: Logger
  /** Where each account is served (a region of several processes); absent: here. */
  router?: AccountRouter
}

/**
 * Starts the LMTP front end of a node; resolves once it listens. A bad or busy address
 * rejects with a NodeError naming it (nothing is left open).
 */
export async function startLmtp(p: LmtpParts): Promise<LmtpFrontEnd> {
  const server = new LmtpServer({
    backend: new NodeLmtpBackend(p.store, p.users, p.router),
    serverName: p.lmtp.serverName ?? `mailweave-${p.config.nodeId}`,
    maxMessageBytes: Math.max(1024, p.store.maxMessageBytes - TRACE_HEADROOM),
    onError: (context, error) => p.log.error({ context, err: error instanceof Error ? error.stack : String(error) }, 'lmtp error'),
  })
  let bound: { host: string; port: number }
  try {
    bound = await server.listen(p.lmtp.port, p.lmtp.host)
  } catch (e) {
    await server.close().catch(() => undefined)
    throw listenError('LMTP', p.lmtp, e)
  }
  return { url: `lmtp://${bound.host}:${bound.port}`, close: () => server.close() }
}
