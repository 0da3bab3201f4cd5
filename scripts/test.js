#!/usr/bin/env node
// `npm test`: the fast suite. Unit tests run in parallel; integration tests (real processes,
// real ports, network namespaces) two files at a time, with the fast subset of the chaos
// suite (`npm run chaos` runs all of it, with its report). Extra args narrow to given files.
import { spawnSync } from 'node:child_process';
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const list = (dir) => (existsSync(join(root, dir)) ? readdirSync(join(root, dir)) : [])
  .filter((f) => f.endsWith('.test.ts')).sort().map((f) => join(dir, f));
const base = ['--import', 'tsx', '--import', './src/polyfill.ts', '--test', '--test-reporter=spec'];

/** Chaos scenarios quick enough for every run. */
const CHAOS_FAST = ['test/chaos/hostile-peer.test.ts', 'test/chaos/overload.test.ts', 'test/chaos/partition.test.ts'];

const args = process.argv.slice(2);
const groups = args.length > 0
  ? [{ files: args, concurrency: 1 }]
  : [{ files: list('test/unit'), concurrency: 2 }, { files: [...list('test/integration'), ...CHAOS_FAST], concurrency: 2 }];

let failed = false;
for (const { files, concurrency } of groups) {
  if (files.length === 0) continue;
  const r = spawnSync(process.execPath, [...base, `--test-concurrency=${concurrency}`, ...files], {
    cwd: root, stdio: 'inherit',
  });
  if (r.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
