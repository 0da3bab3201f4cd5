#!/usr/bin/env node
// Builds the web console (console/src → console/dist) with esbuild: one ES module and one
// stylesheet, minified, no source maps, no hashes in names, so the same sources and the same
// pinned esbuild give the same bytes. The built files are committed (the node serves them right
// after `npm ci`); a test rebuilds into a temporary directory and compares.
//   node scripts/build-console.js [outdir]
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const out = process.argv[2] ?? join(root, 'console/dist');

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'assets'), { recursive: true });
await build({
  absWorkingDir: root,
  entryPoints: { app: 'console/src/main.tsx' },
  outdir: join(out, 'assets'),
  bundle: true,
  format: 'esm',
  target: ['chrome120', 'firefox128', 'safari17'],
  minify: true,
  sourcemap: false,
  legalComments: 'none',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  tsconfig: 'console/tsconfig.json',
  logLevel: 'warning',
  charset: 'utf8',
});
copyFileSync(join(root, 'console/index.html'), join(out, 'index.html'));
