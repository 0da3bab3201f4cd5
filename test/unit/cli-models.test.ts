// `mvp-node models make-test | inspect` through the real command: what it writes, what it
// prints, and its exit codes (0 done, 1 failure with `Error: ...`, 2 usage error).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inspectModel, sha256File, validateModel } from '../../src/models/index.ts';
import { tmpDir } from '../helpers/config.ts';
import { runCli } from '../helpers/proc.ts';
import { formatProgress } from '../../src/cli/models.ts';
import type { PullProgress } from '../../src/actors/network/model-transfer.ts';

const mvpNode = (args: string[]) => runCli(args);

describe('mvp-node models make-test', () => {
  let dir: string;
  before(() => { dir = tmpDir('mvp-cli-models-'); });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  it('writes a valid tiny test model and prints its path, parameters and size', async () => {
    const out = join(dir, 'nested', 'tiny.gguf');
    const r = await mvpNode(['models', 'make-test', '--preset', 'tiny', '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    const m = await validateModel(out);
    assert.equal(m.testModel, true);
    assert.equal(m.architecture, 'llama');
    const lines = r.stdout.split('\n');
    assert.equal(lines[0], `Wrote test model ${out}`);
    assert.ok(lines.includes(`    parameters:    ${m.params} (230K)`), r.stdout);
    assert.ok(lines.includes(`    size:          ${(await stat(out)).size} bytes (0.1 MiB)`), r.stdout);
    assert.match(r.stdout, /preset: +tiny \(llama, vocab 1024, dim 64, 2 layers, context 2048\)/);
    assert.match(r.stdout, /meaningless/);
  });

  it('is deterministic per seed: same seed same bytes, another seed other bytes', async () => {
    const a = join(dir, 'a.gguf');
    const b = join(dir, 'b.gguf');
    const c = join(dir, 'c.gguf');
    const runs = await Promise.all([
      mvpNode(['models', 'make-test', '--out', a, '--seed', '9']),
      mvpNode(['models', 'make-test', '--out', b, '--seed', '9']),
      mvpNode(['models', 'make-test', '--out', c, '--seed', '10']),
    ]);
    for (const r of runs) assert.equal(r.code, 0, r.stderr);
    assert.equal(await sha256File(a), await sha256File(b));
    assert.notEqual(await sha256File(a), await sha256File(c));
  });

  it('refuses an unknown preset and a bad seed as usage errors (exit 2)', async () => {
    const preset = await mvpNode(['models', 'make-test', '--preset', 'huge', '--out', join(dir, 'x.gguf')]);
    assert.equal(preset.code, 2);
    assert.match(preset.stderr, /argument 'huge' is invalid\. expected one of: tiny, small\./);
    const seed = await mvpNode(['models', 'make-test', '--seed', '-1', '--out', join(dir, 'x.gguf')]);
    assert.equal(seed.code, 2);
    assert.match(seed.stderr, /--seed <N>' argument '-1' is invalid/);
  });

  it('fails with exit 1 and an Error line when the file cannot be written', async () => {
    const blocker = join(dir, 'a-file');
    await writeFile(blocker, 'x');
    const r = await mvpNode(['models', 'make-test', '--out', join(blocker, 'm.gguf')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Error: cannot write test model to .*a-file\/m\.gguf: /);
    assert.equal(r.stdout, '');
  });
});

describe('mvp-node models inspect', () => {
  let dir: string;
  let model: string;
  before(async () => {
    dir = tmpDir('mvp-cli-inspect-');
    model = join(dir, 'tiny.gguf');
    const r = await mvpNode(['models', 'make-test', '--out', model]);
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  it('prints what the header holds, the sha256 and the memory estimate', async () => {
    const r = await mvpNode(['models', 'inspect', model]);
    assert.equal(r.code, 0, r.stderr);
    const info = await inspectModel(model);
    assert.match(r.stdout, /name: +tiny \(mvp-node test tiny\)/);
    assert.match(r.stdout, /architecture: +llama, vocab 1024, dim 64, 2 layers, 4 heads \(2 kv\)/);
    assert.match(r.stdout, new RegExp(`parameters: +${info.params} \\(230K\\)`));
    assert.match(r.stdout, /quantization: +Q4_0/);
    assert.match(r.stdout, /context length: +2048/);
    assert.match(r.stdout, new RegExp(`sha256: +${await sha256File(model)}`));
    assert.match(r.stdout, /memory estimate: +[\d.]+ MiB \(weights/);
    assert.match(r.stdout, /test model: +yes/);
  });

  it('prints one JSON object with --json', async () => {
    const r = await mvpNode(['models', 'inspect', '--json', model]);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { name: string; quantization: string; sha256: string; testModel: boolean };
    assert.equal(j.name, 'tiny');
    assert.equal(j.quantization, 'Q4_0');
    assert.equal(j.testModel, true);
    assert.equal(j.sha256, await sha256File(model));
  });

  it('reports a file that is not GGUF with the validation error and exit 1', async () => {
    const bad = join(dir, 'bad.gguf');
    await writeFile(bad, 'definitely not a model');
    const r = await mvpNode(['models', 'inspect', bad]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `Error: Model load error: Invalid model format: bad magic "defi" (0x64656669), expected "GGUF" (${bad})\n`);
  });

  it('names a missing file (exit 1) and wants a file argument (exit 2)', async () => {
    const missing = await mvpNode(['models', 'inspect', join(dir, 'nope.gguf')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^Error: Model load error: cannot read model file .*nope\.gguf: no such file\n$/);
    const none = await mvpNode(['models', 'inspect']);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /missing required argument 'file'/);
  });
});

describe('models pull progress', () => {
  const base: PullProgress = {
    sha256: 'ab'.repeat(32), name: 'm', state: 'running', size: 4 * 1024 * 1024, chunks: 4, verified_chunks: 1, resumed_chunks: 0,
    bytes_done: 1024 * 1024, sources: [{ peer: 'a', chunks: 1 }, { peer: 'b', chunks: 0, dropped: 'bad chunk' }], started_at: 0,
  };
  it('draws the verified share of the file, its size and the sources still in use', () => {
    assert.equal(formatProgress(base, 8), '[##......]  25%  1.0 MiB/4.0 MiB  1 source');
    assert.equal(formatProgress({ ...base, bytes_done: base.size, sources: [{ peer: 'a', chunks: 2 }, { peer: 'b', chunks: 2 }] }, 8), '[########] 100%  4.0 MiB/4.0 MiB  2 sources');
    assert.equal(formatProgress({ ...base, size: 0, bytes_done: 0 }, 4), '[....]   0%  0.0 MiB/0.0 MiB  1 source', 'before the size is known');
  });
});
