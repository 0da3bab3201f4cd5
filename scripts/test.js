#!/usr/bin/env node
// `npm test`: everything CI checks, failing fast on type errors. In order: `tsc --noEmit`; the
// unit tests, in parallel; the integration tests (real processes, real ports, network
// namespaces), two files at a time; the web console in headless Chromium (test/browser/), one
// file at a time; then the whole chaos suite, one scenario at a time, with its report
// (`scripts/chaos.js`). Extra args run only the given test files (no type check).
import { spawnSync } from 'node:child_process';
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const list = (dir) => (existsSync(join(root, dir)) ? readdirSync(join(root, dir)) : [])
  .filter((f) => f.endsWith('.test.ts')).sort().map((f) => join(dir, f));
const base = ['--import', 'tsx', '--import', './src/polyfill.ts', '--test', '--test-reporter=spec'];
const run = (args, env = {}) => spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } }).status === 0;

const args = process.argv.slice(2);
if (args.length > 0) process.exit(run([...base, '--test-concurrency=1', ...args]) ? 0 : 1);

const started = Date.now();
const minutes = () => `${((Date.now() - started) / 60_000).toFixed(1)} min`;
console.log('tsc --noEmit');
if (!run([join(root, 'node_modules/typescript/bin/tsc'), '--noEmit', '-p', root])) {
  console.error('Type check failed: no test was run.');
  process.exit(1);
}
const steps = [
  ['unit', () => run([...base, '--test-concurrency=2', ...list('test/unit')])],
  ['integration', () => run([...base, '--test-concurrency=2', ...list('test/integration')])],
  ['browser', () => run([...base, '--test-concurrency=1', ...list('test/browser')])],
  // The store crash scenario's short version here (5 kill points); `npm run chaos` runs 50.
  ['chaos', () => run([join(root, 'scripts/chaos.js')], { STORE_CRASH_POINTS: process.env.STORE_CRASH_POINTS ?? '5' })],
];
const failed = [];
for (const [name, step] of steps) {
  if (!step()) failed.push(name);
  console.log(`\n${name} suite done at ${minutes()}${failed.includes(name) ? ': FAILED' : ''}\n`);
}
if (failed.length > 0) console.error(`Failed: ${failed.join(', ')} (${minutes()})`);
process.exit(failed.length > 0 ? 1 : 0);
