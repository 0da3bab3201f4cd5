// Model pulls between real `mvp-node` processes over TCP on 127.0.0.1, driven by the CLI:
// `models pull` survives a kill -9 of the pulling node (restarted, it resumes from the chunks
// its sidecar lists), and a kill -9 of the only source ends the pull with a clear reason,
// its verified chunks kept until `models prune` removes them.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelsBody } from '../../src/actors/api/models.ts';
import { writeTestModel } from '../../src/models/index.ts';
import { hashModelFile } from '../../src/models/merkle.ts';
import { tmpDir } from '../helpers/config.ts';
import { listenPort, runCli, spawnNode, type NodeProcess } from '../helpers/proc.ts';
import { until } from '../helpers/runtime.ts';

describe('model pulls between processes, through kill -9 on either side', () => {
  const dir = tmpDir();
  let slowCfg = '';
  let model = '';
  let sha = '';
  let source: NodeProcess;
  let puller: NodeProcess;
  let boot = '';
  const cli = (...args: string[]) => runCli([...args, '--data-dir', dir, '--node-id', 'puller'], 120_000);
  const sidecar = () => join(dir, 'puller', 'pulled', `${sha}.part.json`);
  const verified = () => { try { return (JSON.parse(readFileSync(sidecar(), 'utf8')) as { verified: number[] }).verified.length; } catch { return 0; } };
  const startPuller = async () => {
    puller = spawnNode(['--node-id', 'puller', '--port', '0', '--bootstrap', boot, '--data-dir', dir]);
    await puller.waitFor((l) => l.msg.startsWith('Node started'), 60_000, 'the puller to start');
    await until(async () => (JSON.parse((await cli('models', 'list', '--json')).stdout) as ModelsBody).swarm.some((m) => m.sha256 === sha), 30_000, 'the model to be announced');
  };
  const startSource = async () => {
    // One chunk a second: slow enough to be cut in the middle.
    source = spawnNode(['-c', slowCfg, '--node-id', 'source', '--port', '0', '--data-dir', dir, '--model', model]);
    boot = `/ip4/127.0.0.1/tcp/${await listenPort(source)}`;
    await source.waitFor((l) => l.msg.startsWith('Node started'), 60_000, 'the source to start');
  };

  before(async () => {
    model = (await writeTestModel({ preset: 'tiny', out: join(dir, 'wide.gguf'), seed: 21, shape: { vocabSize: 49152 } })).path;
    sha = (await hashModelFile(model)).sha256;
    slowCfg = join(dir, 'slow.toml');
    writeFileSync(slowCfg, '[models]\nshare_max_mib_per_sec = 1\n');
    await startSource();
    await startPuller();
  });
  after(async () => { await Promise.all([source?.stop('SIGKILL'), puller?.stop('SIGKILL')]); });

  it('resumes after the pulling node is killed with kill -9 and restarted', async () => {
    const first = cli('models', 'pull', sha);
    await until(async () => verified() >= 2, 60_000, 'two chunks verified on disk');
    await puller.stop('SIGKILL');
    const cut = await first;
    assert.equal(cut.code, 1, 'the CLI reports the node gone');
    const kept = verified();
    assert.ok(kept >= 2 && kept < 5, `cut in the middle (${kept} chunks)`);
    await startPuller();
    const r = await cli('models', 'pull', sha);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^Pulled wide \\(4\\.4 MiB\\) from 1 peers, resumed from (\\d+) verified chunks: .*pulled/${sha}\\.gguf\\n$`));
    assert.ok(Number(/resumed from (\d+)/.exec(r.stdout)![1]) >= kept);
    assert.deepEqual(readdirSync(join(dir, 'puller', 'pulled')), [`${sha}.gguf`]);
  });

  it('fails with the reason when its only source is killed with kill -9, keeping the verified chunks until prune', async () => {
    const pruned = await cli('models', 'prune');
    assert.equal(pruned.code, 0, pruned.stderr);
    assert.equal(pruned.stdout, `Removed ${join(dir, 'puller', 'pulled', `${sha}.gguf`)}\n`, 'a pulled file no model is served from');
    const second = cli('models', 'pull', sha);
    await until(async () => verified() >= 1, 60_000, 'a chunk verified on disk');
    await source.stop('SIGKILL');
    const r = await second;
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`^Error: pull of ${sha} failed: sources_failed: no source could send the rest of model ${sha} \\(\\d/5 chunks verified\\): 12D3KooW\\w+: .+`, 'm'));
    assert.ok(existsSync(sidecar()), 'the verified chunks are kept for a resume');
    const again = await cli('models', 'prune');
    assert.match(again.stdout, /\.part\n/);
    assert.deepEqual(readdirSync(join(dir, 'puller', 'pulled')), []);
  });
});
