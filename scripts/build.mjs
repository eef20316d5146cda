#!/usr/bin/env node
// Builds the CLI into dist/: one ES module for the entry (commander and the command table
// inlined, so `infra --help` reads one file instead of resolving 18 modules and a CommonJS
// package), and chunks for what commands load on demand. The other npm dependencies stay
// external: they load from node_modules only when a command needs them.
// Types are checked by `tsc --noEmit` (npm run typecheck), not here.
import { readFileSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { build } from 'esbuild';

const root = resolve(import.meta.dirname, '..');
const { dependencies } = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8'));
const EXTERNAL = new Set(['node-ssh', '@peculiar/x509', 'reflect-metadata']);

rmSync(resolve(root, 'dist'), { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: { infra: 'src/cli/main.ts' },
  outdir: 'dist',
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: Object.keys(dependencies).filter((name) => EXTERNAL.has(name)),
  // commander is CommonJS and requires Node's built-ins; an ES module has no `require` of its own.
  banner: { js: "import { createRequire as createRequireForBundle } from 'node:module'; const require = createRequireForBundle(import.meta.url);" },
  sourcemap: true,
  logLevel: 'warning',
});
