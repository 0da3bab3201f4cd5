// `mvp-node models list | load | unload` as a user runs them, against a real `mvp-node` process
// found through its api.json: a second generated model loaded by a relative path, listed,
// unloaded; a file that is not a model refused with the node's reason, exit 1.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { ModelsBody } from '../../src/actors/api/models.ts';
import { writeTestModel } from '../../src/models/index.ts';
import { tmpDir } from '../helpers/config.ts';
import { runCli, spawnNode, type NodeProcess } from '../helpers/proc.ts';

describe('models list, load and unload against a running node', () => {
  let dir = '';
  let node: NodeProcess;
  let second = '';
  const cli = (...args: string[]) => runCli([...args, '--data-dir', dir]);

  before(async () => {
    dir = tmpDir();
    second = (await writeTestModel({ preset: 'tiny', out: join(dir, 'second.gguf'), seed: 3 })).path;
    node = spawnNode(['--node-id', 'solo', '--port', '0', '--data-dir', dir]);
    await node.waitFor((l) => l.msg.startsWith('Node started'), 60_000, 'the node to start');
  });
  after(async () => { await node?.stop('SIGKILL'); });

  it('load serves a model without a restart; list shows it; unload removes it', async () => {
    const loaded = await cli('models', 'load', relative(process.cwd(), second), '--name', 'second');
    assert.equal(loaded.code, 0, loaded.stderr);
    assert.match(loaded.stdout, new RegExp(`^Loaded second \\(\\S+, Q4_0, sha256 [0-9a-f]{64}\\) from ${second.replace(/[.]/g, '\\.')}\\n$`));
    await node.waitFor((l) => l.msg === 'Served models changed; announcing', 10_000, 'the new manifest');
    const list = await cli('models', 'list');
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^MODEL +SHA256 +PARAMETERS +QUANT +BUSY +PATH\nmvp-test-tiny .*\nsecond +[0-9a-f]{12}… .* Q4_0 +0\/4 +\S+second\.gguf\n\nNo model announced by peers\.\n$/);
    const json = JSON.parse((await cli('models', 'list', '--json')).stdout) as ModelsBody;
    assert.deepEqual(json.loaded.map((m) => m.model), ['mvp-test-tiny', 'second']);
    const unloaded = await cli('models', 'unload', 'second');
    assert.equal(unloaded.code, 0, unloaded.stderr);
    assert.equal(unloaded.stdout, 'Unloaded second\n');
    const after = JSON.parse((await cli('models', 'list', '--json')).stdout) as ModelsBody;
    assert.deepEqual(after.loaded.map((m) => m.model), ['mvp-test-tiny']);
  });

  it('refuses a file that is not a model, and an unknown name, with the reason and exit 1', async () => {
    const junk = join(dir, 'junk.gguf');
    writeFileSync(junk, 'nothing like GGUF');
    const bad = await cli('models', 'load', junk);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^Error: http:\/\/127\.0\.0\.1:\d+\/models answered 422 invalid_model: .*junk\.gguf/m);
    const unknown = await cli('models', 'unload', 'nope');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /answered 404 unknown_model: no model named nope is served here/);
  });
});
