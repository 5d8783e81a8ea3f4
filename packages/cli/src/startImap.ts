import { ImapServer } from '@mailweave/imap'
import { NodeImapBackend, type MailNode } from '@mailweave/server'

/** A running IMAP listener. */
export interface ImapListener {
  url: string
  close(): Promise<void>
}

/** Starts the IMAP front end of a node on `addr`, over the node's mail store. */
export async function startImap(node: MailNode, addr: { host: string; port: number }, opts: { allowPlaintextAuth: boolean; tls?: { certFile: string; keyFile: string } }): Promise<ImapListener> {
  const server = new ImapServer({
    backend: new NodeImapBackend(node.store, node.users, node.registry),
    allowPlaintextAuth: opts.allowPlaintextAuth,
    tls: opts.tls,
    maxLiteralSize: node.store.maxMessageBytes,
    serverName: `mailweave ${node.config.nodeId}`,
    onError: (context, error) => node.log.error({ context, err: error instanceof Error ? error.stack : String(error) }, 'imap error'),
  })
  const bound = await server.listen(addr.port, addr.host)
  return { url: `imap://${bound.host}:${bound.port}`, close: () => server.close() }
}
