import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { ProcessCluster } from './ProcessCluster.ts'

/** A running link-control endpoint (see {@link serveLinkControl}). */
export interface LinkControl {
  url: string
  close(): Promise<void>
}

/** What the control switches: a {@link ProcessCluster}, or any set of links cut and healed the same way. */
export type LinkSwitchboard = Pick<ProcessCluster, 'links' | 'cut' | 'heal' | 'cutAll' | 'healAll'>

/** Options of {@link serveLinkControl}. */
export interface LinkControlOptions {
  /** Port on 127.0.0.1 (0: any free port). */
  port: number
  /** Browser origins allowed to call it (the example page); a request from any other origin is refused. */
  origins?: string[]
}

/**
 * Serves cut/heal of a cluster's peer links over HTTP on 127.0.0.1, for people watching the
 * protocol live (the browser example, `mailweave link`):
 * `GET /links` lists them; `POST /links/<a>-<b>/cut` and `…/heal` change one, `POST
 * /links/all/cut` and `…/heal` every one; each answers `{ links }` as they are afterwards.
 * A browser request from an origin not in `origins` gets 403, so no other web page can
 * partition the cluster.
 */
export async function serveLinkControl(cluster: LinkSwitchboard, o: LinkControlOptions): Promise<LinkControl> {
  const allowed = new Set(o.origins ?? [])
  const send = (res: ServerResponse, status: number, body: unknown, origin: string | undefined): void => {
    res.statusCode = status
    res.setHeader('content-type', 'application/json')
    res.setHeader('cache-control', 'no-store')
    if (origin !== undefined) res.setHeader('access-control-allow-origin', origin)
    res.end(JSON.stringify(body))
  }
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const origin = req.headers.origin
    if (origin !== undefined && !allowed.has(origin))
      return send(res, 403, { message: `origin ${origin} may not control this cluster` }, undefined)
    const path = (req.url ?? '/').split('?')[0]!.replace(/\/+$/, '')
    if (path === '/links' && req.method === 'GET') return send(res, 200, { links: cluster.links() }, origin)
    const m = /^\/links\/([^/]+)\/(cut|heal)$/.exec(path)
    if (m === null)
      return send(res, 404, { message: 'not found: GET /links, POST /links/<a>-<b>/cut|heal, POST /links/all/cut|heal' }, origin)
    if (req.method !== 'POST') return send(res, 405, { message: `${req.method} ${path}: use POST` }, origin)
    const [, link, action] = m as unknown as [string, string, 'cut' | 'heal']
    if (link === 'all') {
      if (action === 'cut') cluster.cutAll()
      else cluster.healAll()
      return send(res, 200, { links: cluster.links() }, origin)
    }
    const known = cluster.links().find((l) => l.id === decodeURIComponent(link))
    if (known === undefined)
      return send(
        res,
        404,
        {
          message: `no link ${decodeURIComponent(link)}; the links are ${cluster
            .links()
            .map((l) => l.id)
            .join(', ')}`,
        },
        origin,
      )
    if (action === 'cut') cluster.cut(known.a, known.b)
    else cluster.heal(known.a, known.b)
    send(res, 200, { links: cluster.links() }, origin)
  }
  const server = createServer(handle)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(o.port, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  const port = (server.address() as { port: number }).port
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
