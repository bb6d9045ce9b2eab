// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import globals from 'globals';
import { builtinModules } from 'node:module';

/**
 * Node builtins in both spellings: `fs` as an exact specifier (a pattern would also ban our own
 * folders named like a builtin, such as `./events/`), and anything under `node:`.
 */
const nodeBuiltinPaths = builtinModules.filter((m) => !m.startsWith('_'));
const noNodeBuiltins = (message, extraPaths) => ['error', {
  paths: [...extraPaths, ...nodeBuiltinPaths.map((name) => ({ name, message }))],
  patterns: [{ group: ['node:*'], message }],
}];

/**
 * ARCHITECTURE.md §1 import rules. `from` lists what the `target` folder may NOT import.
 * test/lint/import-rules.test.ts proves each rule fires.
 */
export const layerZones = [
  { target: './protocol', from: ['./channel', './backend', './agent', './cli', './renderer', './electron', './test', './bench', './build', './bin'], message: 'protocol/ imports nothing of ours.' },
  { target: './channel', from: ['./backend', './agent', './cli', './renderer', './electron', './test', './bench', './build', './bin'], message: 'channel/ imports only protocol/.' },
  { target: './backend', from: ['./agent', './cli', './renderer', './electron', './test', './bench', './build', './bin'], message: 'backend/ imports protocol/ and channel/ only, never agent/.' },
  { target: './agent', from: ['./backend', './cli', './renderer', './electron', './test', './bench', './build', './bin'], message: 'agent/ imports protocol/ and channel/ only, never backend/.' },
  { target: './renderer', from: ['./channel', './backend', './agent', './cli', './electron', './test', './bench', './build', './bin'], message: 'renderer/ imports only protocol/.' },
  { target: './electron', from: ['./channel', './backend', './agent', './cli', './renderer', './test', './bench', './build', './bin'], message: 'electron/ imports protocol/ and never renderer/ code (it loads the built bundle).' },
  { target: './cli', from: ['./backend', './agent', './renderer', './electron', './test', './bench', './build', './bin'], message: 'cli/ is a client of the public API: it imports protocol/, and channel/ for the CA pin check, only.' },
];

/**
 * ARCHITECTURE §storage: the backend reaches a database only through its store ports. A driver
 * (better-sqlite3, pg) is imported only in backend/store/sqlite/ and backend/store/postgres/, the
 * SQL layer (Kysely) only under backend/store/. Tests may open a database to check what it holds.
 * test/lint/import-rules.test.ts proves both rules fire.
 */
const driverMessage = 'Only backend/store/sqlite/ and backend/store/postgres/ import a database driver; use a store port.';
const kyselyMessage = 'Kysely belongs to backend/store/: services use the store ports.';
/** ARCHITECTURE §10 (and STYLE 16, a bus behind an interface): only backend/cluster/ speaks NATS; features use the DeviceRouter. */
const natsMessage = 'Only backend/cluster/ imports nats; features reach devices through the DeviceRouter.';
const driverImports = (withKysely, withNats = withKysely) => ['error', {
  paths: [
    { name: 'better-sqlite3', message: driverMessage },
    { name: 'pg', message: driverMessage },
    ...(withKysely ? [{ name: 'kysely', message: kyselyMessage }] : []),
    ...(withNats ? [{ name: 'nats', message: natsMessage }] : []),
  ],
  patterns: [
    { group: ['better-sqlite3/*', 'pg/*', 'pg-*'], message: driverMessage },
    ...(withKysely ? [{ group: ['kysely/*'], message: kyselyMessage }] : []),
    ...(withNats ? [{ group: ['nats/*'], message: natsMessage }] : []),
  ],
}];

export default tseslint.config(
  { ignores: ['node_modules/**', 'renderer/dist/**', 'dist/**', 'dist-electron/**', 'release/**', '.tether/**', '.cache/**', 'test-results/**', 'playwright-report/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })],
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'import-x/no-restricted-paths': ['error', { zones: layerZones }],
    },
  },
  {
    files: ['protocol/**/*.ts'],
    rules: {
      'no-restricted-imports': noNodeBuiltins('protocol/ is isomorphic: no Node builtins.', ['electron', 'react', 'react-dom']),
      'no-restricted-globals': ['error', 'Buffer', 'process', 'window', 'document'],
    },
  },
  {
    files: ['renderer/**/*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      'no-restricted-imports': noNodeBuiltins('renderer/ runs in a browser: no Node builtins.', ['electron']),
    },
  },
  {
    // The console's build configuration runs in Node (Vite), not in the browser.
    files: ['renderer/vite.config.ts'],
    languageOptions: { globals: { ...globals.node } },
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    files: ['channel/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: ['electron', 'react', 'react-dom'] }] },
  },
  {
    files: ['backend/**/*.ts'],
    ignores: ['backend/store/**', 'backend/cluster/**', 'backend/**/*.test.ts'],
    rules: { 'no-restricted-imports': driverImports(true) },
  },
  {
    files: ['backend/cluster/**/*.ts'],
    ignores: ['backend/**/*.test.ts'],
    rules: { 'no-restricted-imports': driverImports(true, false) },
  },
  {
    files: ['backend/store/**/*.ts'],
    ignores: ['backend/store/sqlite/**', 'backend/store/postgres/**', 'backend/**/*.test.ts'],
    rules: { 'no-restricted-imports': driverImports(false, true) },
  },
  {
    files: ['backend/store/sqlite/**/*.ts', 'backend/store/postgres/**/*.ts'],
    ignores: ['backend/**/*.test.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: [{ name: 'nats', message: natsMessage }], patterns: [{ group: ['nats/*'], message: natsMessage }] }] },
  },
);
