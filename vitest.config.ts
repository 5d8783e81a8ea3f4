import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 90_000,
    pool: 'forks',
    // CI reads a JSON summary to print a plain "N passed, N failed" line (.ci/run)
    reporters: process.env.MAILWEAVE_JSON_REPORT !== undefined ? ['default', 'json'] : ['default'],
    outputFile: process.env.MAILWEAVE_JSON_REPORT !== undefined ? { json: process.env.MAILWEAVE_JSON_REPORT } : undefined,
  },
})
