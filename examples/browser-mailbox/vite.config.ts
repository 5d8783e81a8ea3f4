import { existsSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { defineConfig } from 'vite'
import { configPlugin, exampleRoot, type ExampleConfig } from './serve.ts'

// `pnpm dev` on its own: the cluster configuration comes from the file named by
// MAILWEAVE_BROWSER_CONFIG, else from .data/cluster/browser.json (what `pnpm start` writes).
const file = process.env.MAILWEAVE_BROWSER_CONFIG ?? resolve(exampleRoot, '../../.data/cluster/browser.json')
const readConfig = (): ExampleConfig | undefined =>
  existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as ExampleConfig) : undefined

export default defineConfig({
  plugins: [configPlugin(readConfig)],
  resolve: { dedupe: ['yjs', 'lib0'] },
  server: { host: '127.0.0.1' },
  preview: { host: '127.0.0.1' },
  build: { rollupOptions: { input: { main: resolve(exampleRoot, 'index.html'), bench: resolve(exampleRoot, 'bench.html') } } },
})
