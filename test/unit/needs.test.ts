// Tests that need something of the machine: skipped with the reason outside CI, failed in CI.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

const helper = new URL('../helpers/needs.ts', import.meta.url).href;
const suite = (missing: string | undefined) => `
import { it } from 'node:test';
const { describeNeeding } = await import(${JSON.stringify(helper)});
describeNeeding('needs a unicorn', ${JSON.stringify(missing)}, () => { it('runs', () => { console.log('RAN'); }); });
`;
const run = (missing: string | undefined, ci: string) => spawnSync(process.execPath,
  ['--import', 'tsx', '--input-type=module', '--test-reporter=spec', '-e', suite(missing)],
  { encoding: 'utf8', env: { ...process.env, NODE_TEST_CONTEXT: '', CI: ci } });

describe('describeNeeding', () => {
  it('runs the suite when nothing is missing', () => {
    const r = run(undefined, 'true');
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /RAN/);
  });

  it('outside CI, skips it and says why', () => {
    const r = run('no unicorn here', '');
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.doesNotMatch(r.stdout, /RAN/);
    assert.match(r.stderr, /skipping "needs a unicorn": no unicorn here/);
    assert.match(r.stdout, /# no unicorn here/);
  });

  it('in CI (CI=true), fails naming what is missing', () => {
    const r = run('no unicorn here', 'true');
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.doesNotMatch(r.stdout, /RAN/);
    assert.match(r.stdout, /no unicorn here: CI \(CI=true\) must run "needs a unicorn"/);
  });
});
