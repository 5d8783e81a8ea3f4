// @ts-check
import tseslint from 'typescript-eslint'

const nodeBuiltins = [
  'node:*',
  'fs',
  'fs/*',
  'path',
  'os',
  'crypto',
  'net',
  'http',
  'https',
  'child_process',
  'stream',
  'buffer',
  'util',
  'events',
  'url',
  'zlib',
  'worker_threads',
]

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', '**/.data/**', 'test-artifacts/**', 'examples/*/dist/**', '.tmp/**', '**/.scratch/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-syntax': ['error', { selector: 'ExportAllDeclaration', message: 'Curate named exports; no export *.' }],
    },
  },
  {
    // tests read JSON bodies of many shapes
    files: ['test/**/*.ts', 'packages/*/test/**/*.ts', 'bench/**/*.ts', 'packages/testkit/src/cluster/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // core is pure: yjs/lib0 (and a sync hash library) only, it must run in a browser.
    files: ['packages/core/src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: nodeBuiltins.map((group) => ({ group: [group], message: '@mailweave/core must not import Node APIs.' })) },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'core must not use Node globals' },
        { name: 'Buffer', message: 'core must not use Node globals' },
        { name: 'require', message: 'core is ESM' },
      ],
    },
  },
  {
    // the browser edge replica runs only in browsers: no Node APIs in its source
    files: ['packages/browser/src/**/*.ts', 'examples/browser-mailbox/src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: nodeBuiltins.map((group) => ({ group: [group], message: 'browser code must not import Node APIs.' })) },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'browser code must not use Node globals' },
        { name: 'Buffer', message: 'browser code must not use Node globals' },
        { name: 'require', message: 'browser code is ESM' },
      ],
    },
  },
)
