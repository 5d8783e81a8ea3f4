/**
 * Programmatic serving of the browser-mailbox example (for `pnpm start`, tests and the
 * browser benchmark). The app reads its regions from `/config.json`, which these helpers
 * serve from memory; see README.md for the format.
 */
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build, createServer, preview, type InlineConfig, type Plugin } from 'vite'

/** One region the app offers: a node's base URL. */
export interface ExampleRegion {
  id: string
  url: string
  label?: string
}

/** What `/config.json` holds. */
export interface ExampleConfig {
  regions: ExampleRegion[]
  /** A stable id of the cluster's data (keeps local replicas of two clusters apart). */
  cluster?: string
  /** Prefilled on the login form (a demo account). */
  user?: string
  password?: string
  /** The link control of `pnpm start` (cut/heal per peer link), shown as the page's Links panel. */
  control?: string
}

/** A running server of the example. */
export interface ExampleServer {
  url: string
  close(): Promise<void>
}

/** The example's directory (Vite's root). */
export const exampleRoot = dirname(fileURLToPath(import.meta.url))

/** A Vite plugin answering `GET /config.json` with `config` (re-read on every request). */
export function configPlugin(config: ExampleConfig | (() => ExampleConfig | undefined)): Plugin {
  const handler = (
    req: { url?: string },
    res: { statusCode: number; setHeader(k: string, v: string): void; end(b?: string): void },
    next: () => void,
  ) => {
    if ((req.url ?? '').split('?')[0] !== '/config.json') return next()
    const c = typeof config === 'function' ? config() : config
    if (c === undefined) {
      res.statusCode = 404
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ error: 'no cluster configuration: run `pnpm start`, or pass ?regions=eu=http://127.0.0.1:7101,…' }))
      return
    }
    res.statusCode = 200
    res.setHeader('content-type', 'application/json')
    res.setHeader('cache-control', 'no-store')
    res.end(JSON.stringify(c))
  }
  return {
    name: 'mailweave-example-config',
    configureServer(server) {
      server.middlewares.use(handler)
    },
    configurePreviewServer(server) {
      server.middlewares.use(handler)
    },
  }
}

function base(config: ExampleConfig | (() => ExampleConfig | undefined), extra: InlineConfig = {}): InlineConfig {
  return {
    configFile: false,
    root: exampleRoot,
    logLevel: 'warn',
    clearScreen: false,
    plugins: [configPlugin(config)],
    resolve: { dedupe: ['yjs', 'lib0'] },
    build: { rollupOptions: { input: { main: `${exampleRoot}/index.html`, bench: `${exampleRoot}/bench.html` } } },
    ...extra,
  }
}

function urlOf(urls: { local: string[] } | null | undefined, fallback: string): string {
  return (urls?.local[0] ?? fallback).replace(/\/$/, '')
}

/**
 * Starts Vite's dev server for the example on `host:port` (default 127.0.0.1, a free
 * port) serving `config` at `/config.json`. Resolves once it listens.
 */
export async function serveExample(opts: {
  config: ExampleConfig | (() => ExampleConfig | undefined)
  host?: string
  port?: number
}): Promise<ExampleServer> {
  const host = opts.host ?? '127.0.0.1'
  const server = await createServer(
    base(opts.config, { server: { host, port: opts.port ?? 0, strictPort: opts.port !== undefined && opts.port !== 0 } }),
  )
  await server.listen()
  const addr = server.httpServer?.address()
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0
  return { url: urlOf(server.resolvedUrls, `http://${host}:${port}`), close: () => server.close() }
}

/** Builds the example (app and benchmark page) into `outDir`. */
export async function buildExample(opts: { outDir: string }): Promise<void> {
  await build(
    base(() => undefined, {
      build: {
        outDir: opts.outDir,
        emptyOutDir: true,
        reportCompressedSize: false,
        rollupOptions: { input: { main: `${exampleRoot}/index.html`, bench: `${exampleRoot}/bench.html` } },
      },
    }),
  )
}

/** Serves a build from `outDir` (see {@link buildExample}) with `config` at `/config.json`. */
export async function previewExample(opts: {
  outDir: string
  config: ExampleConfig | (() => ExampleConfig | undefined)
  host?: string
  port?: number
}): Promise<ExampleServer> {
  const host = opts.host ?? '127.0.0.1'
  const server = await preview(
    base(opts.config, { build: { outDir: opts.outDir }, preview: { host, port: opts.port ?? 0, strictPort: false } }),
  )
  const addr = server.httpServer.address()
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0
  return { url: urlOf(server.resolvedUrls, `http://${host}:${port}`), close: () => server.close() }
}
