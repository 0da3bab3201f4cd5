#!/usr/bin/env node
// Compiles src/**/*.ts to plain ES modules in dist/src/ (same layout, one .js per .ts, imports
// rewritten from .ts to .js), so `mvp-node` and its worker threads start without compiling
// TypeScript. Type checking stays with `tsc --noEmit`: this only strips types (esbuild).
// Run by `npm ci` / `npm install` (the `prepare` script) and by `npm start`; it takes well under
// a second. bin/mvp-node.js uses dist/ only when dist/BUILT is newer than every file in src/,
// and otherwise runs the sources through tsx, so a stale or missing build is never run.
//   node scripts/build.js [--quiet]
import { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const quiet = process.argv.includes('--quiet');
let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  // esbuild is a devDependency: without it (an install that omits them) the node runs from src/.
  if (!quiet) console.log('esbuild not installed: no build; mvp-node runs the TypeScript sources through tsx');
  process.exit(0);
}

const entries = readdirSync(join(root, 'src'), { recursive: true, withFileTypes: true })
  .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
  .map((e) => relative(root, join(e.parentPath ?? e.path, e.name)));

// Built into a fresh directory, then swapped in: a process starting meanwhile never sees half a build.
const tmp = join(root, `dist.tmp-${process.pid}`);
rmSync(tmp, { recursive: true, force: true });
const started = Date.now();
await esbuild.build({
  absWorkingDir: root,
  entryPoints: entries,
  outbase: '.',
  outdir: tmp,
  // Every import stays an import: packages from node_modules, our own files as their .js twin.
  bundle: true,
  packages: 'external',
  plugins: [{
    name: 'ts-to-js',
    setup(b) {
      b.onResolve({ filter: /^\.\.?\/.*\.ts$/ }, (args) => (args.kind === 'entry-point' ? undefined
        : { path: args.path.replace(/\.ts$/, '.js'), external: true }));
    },
  }],
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  logLevel: 'warning',
});
mkdirSync(join(tmp), { recursive: true });
writeFileSync(join(tmp, 'BUILT'), `${new Date().toISOString()}\n`);
const dist = join(root, 'dist');
const old = join(root, `dist.old-${process.pid}`);
try { renameSync(dist, old); } catch { /* no previous build */ }
renameSync(tmp, dist);
rmSync(old, { recursive: true, force: true });
if (!quiet) console.log(`Built ${entries.length} files into dist/ in ${Date.now() - started} ms`);
