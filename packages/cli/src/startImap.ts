import { join } from 'node:path'
import { ImapServer } from '@mailweave/imap'
import { FileEnvelopeStore, NodeImapBackend, type MailNode } from '@mailweave/server'

/** Parsed messages the IMAP server keeps in memory, and encoded envelopes kept on disk. */
const STRUCTURE_CACHE = 20_000

/** A running IMAP listener. */
export interface ImapListener {
  url: string
  close(): Promise<void>
}

/** Starts the IMAP front end of a node on `addr`, over the node's mail store. */
export async function startImap(node: MailNode, addr: { host: string; port: number }, opts: { allowPlaintextAuth: boolean; tls?: { certFile: string; keyFile: string } }): Promise<ImapListener> {
  // encoded ENVELOPEs survive a restart, as Dovecot's index cache does
  const envelopeStore = await FileEnvelopeStore.open({ dir: join(node.config.dataDir, 'cache'), capacity: STRUCTURE_CACHE, log: node.log })
  const server = new ImapServer({
    envelopeStore,
    structureCacheSize: STRUCTURE_CACHE,
    backend: new NodeImapBackend(node.store, node.users, node.registry),
    allowPlaintextAuth: opts.allowPlaintextAuth,
    tls: opts.tls,
    maxLiteralSize: node.store.maxMessageBytes,
    serverName: `mailweave ${node.config.nodeId}`,
    onError: (context, error) => node.log.error({ context, err: error instanceof Error ? error.stack : String(error) }, 'imap error'),
  })
  const bound = await server.listen(addr.port, addr.host)
  return {
    url: `imap://${bound.host}:${bound.port}`,
    close: async () => {
      await server.close()
      await envelopeStore.close()
    },
  }
}
