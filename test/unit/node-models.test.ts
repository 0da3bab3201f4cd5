// Which models a node serves, decided before it starts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultTestModelPath, defaultThreads, resolveModels } from '../../src/node/models.ts';
import { createLogger } from '../../src/runtime/log.ts';
import { testConfig, tmpDir } from '../helpers/config.ts';
import { tinyTestModelPath } from '../helpers/test-model.ts';

const log = createLogger({ level: 'silent', nodeId: 't', pretty: false });

describe('served models', () => {
  it('generates and serves a test model when none is configured, marked as a test model', async () => {
    const config = testConfig();
    assert.ok(!existsSync(defaultTestModelPath(config)));
    const [m, ...rest] = await resolveModels(config, log);
    assert.equal(rest.length, 0);
    assert.equal(m!.name, 'mvp-test-tiny');
    assert.equal(m!.manifest.test_model, true);
    assert.match(m!.manifest.sha256, /^[0-9a-f]{64}$/);
    assert.equal(m!.threads, 1);
    assert.ok(existsSync(defaultTestModelPath(config)));
  });

  it('names a configured model after its file, or model.name when it is the only one', async () => {
    const dir = tmpDir();
    const a = join(dir, 'alpha.gguf');
    const b = join(dir, 'beta.gguf');
    copyFileSync(await tinyTestModelPath(), a);
    copyFileSync(a, b);
    assert.deepEqual((await resolveModels(testConfig({ model: { path: [a, b] } }), log)).map((m) => m.name), ['alpha', 'beta']);
    assert.deepEqual((await resolveModels(testConfig({ model: { path: a, name: 'my-model', threads: 2 } }), log)).map((m) => [m.name, m.threads]), [['my-model', 2]]);
  });

  it('refuses two models of one name and a file that is not a model', async () => {
    const dir = tmpDir();
    const a = join(dir, 'same.gguf');
    copyFileSync(await tinyTestModelPath(), a);
    const other = tmpDir();
    copyFileSync(a, join(other, 'same.gguf'));
    await assert.rejects(resolveModels(testConfig({ model: { path: [a, join(other, 'same.gguf')] } }), log), /Two models are named same/);
    const junk = join(dir, 'junk.gguf');
    writeFileSync(junk, 'text');
    await assert.rejects(resolveModels(testConfig({ model: { path: junk } }), log), /Model load error: Invalid model format/);
  });

  it('picks one thread below 1B parameters and two above', () => {
    assert.deepEqual([defaultThreads(135e6), defaultThreads(3e9)], [1, 2]);
  });
});
