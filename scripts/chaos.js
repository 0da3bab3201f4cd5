#!/usr/bin/env node
// `npm run chaos`: every scenario of test/chaos/ (real processes, real faults), one at a time,
// then the numbers each recorded, as a table. `npm run chaos -- test/chaos/partition.test.ts`
// runs one. `npm test` runs it all, after the unit and integration suites.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const files = args.length > 0 ? args
  : readdirSync(join(root, 'test/chaos')).filter((f) => f.endsWith('.test.ts')).sort().map((f) => join('test/chaos', f));
const report = join(tmpdir(), `mvp-chaos-${process.pid}.jsonl`);
const r = spawnSync(process.execPath, [
  '--import', 'tsx', '--import', './src/polyfill.ts', '--test', '--test-reporter=spec', '--test-concurrency=1', ...files,
], { cwd: root, stdio: 'inherit', env: { ...process.env, CHAOS_REPORT: report } });

let rows = [];
try { rows = readFileSync(report, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)); } catch { /* none */ }
rmSync(report, { force: true });
console.log('\nChaos report');
for (const scenario of [...new Set(rows.map((x) => x.scenario))]) {
  console.log(`\n${scenario}`);
  console.table(rows.filter((x) => x.scenario === scenario).map(({ scenario: _s, ...rest }) => rest));
}
process.exit(r.status ?? 1);
