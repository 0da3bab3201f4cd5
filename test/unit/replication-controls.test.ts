// The operator's controls over models moving to and from this node ([models] in config.toml):
// accept_replication, replicate_allow (names or sha256), pinned, min_replicas, max_pulled_mib,
// and the demand policy's bounds (a band: unreplicate_wait_secs below replicate_wait_secs).
// Each is checked where the node applies it: the target's policy on a model_request, the rule
// for keeping a model it would otherwise unload, the puller's cap on a real directory, the
// config loader.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { keepReasonOf, refusalOf } from '../../src/actors/consensus/replication.ts';
import { ModelPuller, ModelPullError } from '../../src/actors/network/model-transfer.ts';
import type { PeerManifest, ServedModel } from '../../src/actors/network/messages.ts';
import type { Manifest, ModelManifest } from '../../src/protocol/index.ts';
import { ConfigError, loadConfig } from '../../src/config/index.ts';
import { systemClock } from '../../src/runtime/clock.ts';
import { createLogger } from '../../src/runtime/log.ts';
import { errorCodeOf } from '../../src/errors/registry.ts';
import { testConfig, tmpDir } from '../helpers/config.ts';

const SHA = 'a'.repeat(64);
const OTHER = 'b'.repeat(64);
const req = (name: string, sha256: string, reason: 'migrate' | 'replicate' = 'replicate') => ({ model: { name, sha256 }, reason });

describe('replication controls: what a node accepts to load', () => {
  it('loads by default, and refuses everything with accept_replication = false', () => {
    assert.equal(refusalOf(testConfig(), req('m', SHA)), undefined);
    assert.equal(refusalOf(testConfig({ models: { accept_replication: false } }), req('m', SHA)), '[models] accept_replication is false');
  });

  it('replicate_allow lets through the listed names and sha256 only', () => {
    const byName = testConfig({ models: { replicate_allow: ['m'] } });
    assert.equal(refusalOf(byName, req('m', SHA)), undefined);
    assert.match(refusalOf(byName, req('n', OTHER))!, /^model n \(bbbbbbbbbbbb…\) is not in \[models\] replicate_allow$/);
    const bySha = testConfig({ models: { replicate_allow: [SHA] } });
    assert.equal(refusalOf(bySha, req('renamed', SHA)), undefined);
    assert.notEqual(refusalOf(bySha, req('m', OTHER)), undefined);
  });

  it('a migration needs migrate_context in the orchestrator\'s allowed_actions; a replication does not', () => {
    const c = testConfig({ orchestrator: { safety: { allowed_actions: ['scale_queue'] } } });
    assert.equal(refusalOf(c, req('m', SHA, 'migrate')), 'migrate_context is not in orchestrator.safety.allowed_actions');
    assert.equal(refusalOf(c, req('m', SHA, 'replicate')), undefined);
  });
});

describe('replication controls: what a node keeps', () => {
  const model = (sha256: string): ModelManifest => ({ name: 'm', sha256, params: 1, quantization: 'Q4_0', context_length: 2048, test_model: true });
  const served = (peer: string, sha256: string, self = false): ServedModel => ({ model: model(sha256), peer_id: peer, node_id: peer, self });
  const peer = (id: string, state: 'alive' | 'suspect'): PeerManifest => ({ peer_id: id, state, manifest: { node_id: id } as unknown as Manifest });

  it('never unloads a pinned model, named or by sha256', () => {
    const two = [served('me', SHA, true), served('p1', SHA), served('p2', SHA)];
    const peers = [peer('p1', 'alive'), peer('p2', 'alive')];
    assert.equal(keepReasonOf(testConfig(), 'm', SHA, two, peers), undefined);
    assert.equal(keepReasonOf(testConfig({ models: { pinned: ['m'] } }), 'm', SHA, two, peers), 'm is pinned here ([models] pinned)');
    assert.equal(keepReasonOf(testConfig({ models: { pinned: [SHA] } }), 'm', SHA, two, peers), 'm is pinned here ([models] pinned)');
  });

  it('keeps a model while fewer than min_replicas other live nodes serve it (a suspect peer does not count)', () => {
    const c = testConfig({ models: { min_replicas: 2 } });
    const list = [served('me', SHA, true), served('p1', SHA), served('p2', SHA), served('p3', OTHER)];
    assert.equal(keepReasonOf(c, 'm', SHA, list, [peer('p1', 'alive'), peer('p2', 'alive')]), undefined);
    assert.equal(keepReasonOf(c, 'm', SHA, list, [peer('p1', 'alive'), peer('p2', 'suspect')]),
      '1 other node(s) serve m: unloading would leave fewer than [models] min_replicas = 2');
  });
});

describe('replication controls: the disk cap on pulled models', () => {
  const puller = (capBytes: number) => new ModelPuller({
    clock: systemClock, log: createLogger({ level: 'silent', nodeId: 't' }), capBytes,
    dial: () => Promise.reject(new Error('no dial expected: the cap refuses first')),
    sources: () => [{ peer: 'p', root: 'c'.repeat(64), size: 3 * 2 ** 20, name: 'm' }],
    blame: () => undefined,
  });

  it('refuses a pull that would take the pulled files past max_pulled_mib, with code pull_over_cap', async () => {
    const dir = tmpDir();
    writeFileSync(join(dir, `${OTHER}.gguf`), Buffer.alloc(2 * 2 ** 20));
    const err = await puller(4 * 2 ** 20).pull(SHA, dir).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof ModelPullError, String(err));
    assert.deepEqual([err.reason, errorCodeOf(err)], ['over_cap', 'pull_over_cap']);
    assert.equal(err.message, `pulling model ${SHA} (3 MiB) would take the pulled models in ${dir} past [models] max_pulled_mib = 4 (2 MiB used)`);
  });

  it('lets the same pull start under a larger cap (it then fails only for want of a source to dial)', async () => {
    const dir = tmpDir();
    writeFileSync(join(dir, `${OTHER}.gguf`), Buffer.alloc(2 * 2 ** 20));
    const err = await puller(8 * 2 ** 20).pull(SHA, dir).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof ModelPullError);
    assert.notEqual(err.reason, 'over_cap', err.message);
  });
});

describe('replication controls: configuration', () => {
  const load = (toml: string) => {
    const file = join(tmpDir(), 'c.toml');
    writeFileSync(file, toml);
    return loadConfig({ file, env: {} });
  };

  it('defaults: k = 1, min_replicas = 1, replication accepted, nothing pinned, no cap, a band of 10 s / 1 s held 30 s', () => {
    const m = load('').models;
    assert.deepEqual([m.replicate_count, m.min_replicas, m.accept_replication, m.pinned, m.replicate_allow, m.max_pulled_mib],
      [1, 1, true, [], [], 0]);
    assert.deepEqual([m.replicate_wait_secs, m.unreplicate_wait_secs, m.replicate_after_secs], [10, 1, 30]);
  });

  it('refuses a band whose lower bound is not below its upper bound, naming both keys', () => {
    assert.throws(() => load('[models]\nreplicate_wait_secs = 2\nunreplicate_wait_secs = 2\n'),
      (e: unknown) => e instanceof ConfigError && /models\.unreplicate_wait_secs = 2 .*must be below models\.replicate_wait_secs \(2\)/.test(e.message));
    assert.equal(load('[models]\nreplicate_wait_secs = 0\nunreplicate_wait_secs = 5\n').models.replicate_wait_secs, 0, 'replication off: no band to check');
  });

  it('refuses k < 1, min_replicas < 1 and a negative cap', () => {
    for (const bad of ['replicate_count = 0', 'min_replicas = 0', 'max_pulled_mib = -1', 'accept_replication = "no"']) {
      assert.throws(() => load(`[models]\n${bad}\n`), ConfigError, bad);
    }
  });
});
