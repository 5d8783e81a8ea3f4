#!/usr/bin/env node
// Runs the TypeScript CLI through tsx (packages export their sources; no build step).
import { register } from 'tsx/esm/api'
register()
const { main } = await import('../src/main.ts')
await main(process.argv)
