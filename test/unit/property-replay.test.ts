// The property-test helper: a failure names its seed and path, and FC_SEED / FC_PATH read back
// from the environment replay the same counterexample in a new process.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

const helper = new URL('../helpers/property.ts', import.meta.url).href;
// Fails on a multiple of 7 drawn from a large range, unshrunk: which one depends on the seed.
const script = `
const { default: fc } = await import(${JSON.stringify(helper)});
try {
  fc.assert(fc.property(fc.noShrink(fc.integer({ min: 1, max: 1e9 })), (n) => n % 7 !== 0));
  console.log('passed');
} catch (err) { console.log(err.message); }
`;

function run(env: Record<string, string>): string {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8', env: { ...process.env, FC_SEED: '', FC_PATH: '', ...env },
  });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout + r.stderr;
}

const counterexample = (out: string) => /Counterexample: \[(\d+)\]/.exec(out)?.[1];

describe('property tests: seed printed on failure, read back from FC_SEED / FC_PATH', () => {
  it('prints the replay line, and FC_SEED (with FC_PATH) reproduces the counterexample', () => {
    const first = run({});
    const m = /Replay: FC_SEED=(-?\d+) FC_PATH="([\d:]+)"/.exec(first);
    assert.ok(m, first);
    assert.ok(counterexample(first), first);
    assert.match(first, new RegExp(`seed: ${m[1]}, path: "${m[2]}"`));
    assert.equal(Number(counterexample(first)) % 7, 0);

    const bySeed = run({ FC_SEED: m[1]! });
    assert.equal(counterexample(bySeed), counterexample(first));
    const byPath = run({ FC_SEED: m[1]!, FC_PATH: m[2]! });
    assert.equal(counterexample(byPath), counterexample(first));
    assert.match(byPath, new RegExp(`Replay: FC_SEED=${m[1]} `));
  });

  it('refuses an FC_SEED that is not a seed, naming it', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `await import(${JSON.stringify(helper)});`], {
      encoding: 'utf8', env: { ...process.env, FC_SEED: 'abc' },
    });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /FC_SEED = "abc": must be the integer a failing property printed/);
  });
});
