// The orchestrator's actions carried out between real `mvp-node` processes over TCP, driven by
// the CLI as an operator would: `orchestrator decision --decision-type context` proposes a
// migrate_context for the model one node serves, held for confirmation; `orchestrator confirm`
// runs it — the target pulls the model from the source (/mvp/model/1.0.0), loads it, announces
// it, and only then does the source unload its copy (min_replicas = 1). A node whose policy
// refuses replication (`[models] accept_replication = false`) is asked too, and refuses. A
// confirmed start_election moves the swarm group's epoch in GET /orchestration.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'smol-toml';
import type { ModelsBody } from '../../src/actors/api/models.ts';
import type { OrchestrationBody } from '../../src/actors/api/messages.ts';
import type { DecisionRecord } from '../../src/actors/orchestrator/messages.ts';
import { writeTestModel } from '../../src/models/index.ts';
import { hashModelFile } from '../../src/models/merkle.ts';
import { tmpDir } from '../helpers/config.ts';
import { listenPort, runCli, spawnNode, type NodeProcess } from '../helpers/proc.ts';
import { until } from '../helpers/runtime.ts';

describe('orchestrator actions between processes: migrate_context and start_election', () => {
  const dir = tmpDir();
  const nodes = new Map<string, NodeProcess>();
  let sha = '';
  const on = (id: string) => ['--data-dir', dir, '--node-id', id];
  const cli = (id: string, ...args: string[]) => runCli([...args, ...on(id)], 120_000);
  const json = async <T>(id: string, ...args: string[]): Promise<T> => {
    const r = await cli(id, ...args, '--json');
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as T;
  };
  const apiOf = (id: string) => (JSON.parse(readFileSync(join(dir, id, 'api.json'), 'utf8')) as { url: string }).url;
  const orchestration = async (id: string) => (await (await fetch(`${apiOf(id)}/orchestration`)).json()) as OrchestrationBody;
  const models = (id: string) => json<ModelsBody>(id, 'models', 'list');
  const serves = async (id: string) => (await models(id)).loaded.some((m) => m.sha256 === sha);

  before(async () => {
    const model = (await writeTestModel({ preset: 'tiny', out: join(dir, 'moving.gguf'), seed: 33 })).path;
    sha = (await hashModelFile(model)).sha256;
    const base = {
      // Held for confirmation: the heuristics' context rule proposes at 0.65, less when hinted only.
      orchestrator: { safety: { require_confirmation_above: 0.1 } },
      distributed_orchestration: { heartbeat_timeout_secs: 6 },
      models: { min_replicas: 1 },
    };
    writeFileSync(join(dir, 'node.toml'), stringify(base));
    writeFileSync(join(dir, 'refuses.toml'), stringify({ ...base, models: { ...base.models, accept_replication: false } }));
    nodes.set('src', spawnNode(['-c', join(dir, 'node.toml'), ...on('src'), '--port', '0', '--model', model]));
    const boot = `/ip4/127.0.0.1/tcp/${await listenPort(nodes.get('src')!)}`;
    nodes.set('dst', spawnNode(['-c', join(dir, 'node.toml'), ...on('dst'), '--port', '0', '--bootstrap', boot]));
    nodes.set('nope', spawnNode(['-c', join(dir, 'refuses.toml'), ...on('nope'), '--port', '0', '--bootstrap', boot]));
    for (const n of nodes.values()) await n.waitFor((l) => l.msg.startsWith('API listening on'), 90_000, 'the API');
    for (const id of ['dst', 'nope']) {
      await until(async () => (await models(id)).swarm.some((m) => m.sha256 === sha), 60_000, `${id} to learn of the model`);
    }
    await until(async () => {
      const peers = (await (await fetch(`${apiOf('src')}/peers`)).json()) as Array<{ node_id?: string; state: string }>;
      return ['dst', 'nope'].every((id) => peers.some((p) => p.node_id === id && p.state === 'alive'));
    }, 60_000, 'src to know both peers');
  });
  after(async () => { await Promise.all([...nodes.values()].map((n) => n.stop('SIGKILL'))); });

  it('a node whose policy refuses replication is asked, and refuses', async () => {
    const held = await json<DecisionRecord>('src', 'orchestrator', 'decision', '--decision-type', 'context', '--context', 'memory is low, move a context to nope');
    assert.deepEqual([held.action, held.outcome, held.params.model, held.params.target_node, held.params.unload_source],
      ['migrate_context', 'held', 'moving', 'nope', true], JSON.stringify(held));
    const done = await json<DecisionRecord>('src', 'orchestrator', 'confirm', held.id);
    assert.equal(done.outcome, 'executed', done.outcome_reason);
    await until(async () => (await orchestration('nope')).moves?.requests.some((r) => r.sha256 === sha && r.state === 'refused') ?? false, 60_000, 'nope to refuse');
    const refused = (await orchestration('nope')).moves!.requests.find((r) => r.sha256 === sha)!;
    assert.equal(refused.detail, '[models] accept_replication is false');
    assert.equal(await serves('nope'), false);
    assert.equal(await serves('src'), true, 'the source keeps its copy while no one else serves it');
  });

  it('migrate_context from a context decision runs end to end after confirm: pulled, loaded, announced, then the source unloads', async () => {
    const held = await json<DecisionRecord>('src', 'orchestrator', 'decision', '--decision-type', 'context', '--context', 'memory is low, move a context to dst');
    assert.deepEqual([held.action, held.outcome, held.params.model, held.params.target_node, held.params.unload_source],
      ['migrate_context', 'held', 'moving', 'dst', true], JSON.stringify(held));
    assert.equal(await serves('dst'), false, 'nothing happens before confirm');
    const started = Date.now();
    const done = await json<DecisionRecord>('src', 'orchestrator', 'confirm', held.id);
    assert.equal(done.outcome, 'executed', done.outcome_reason);
    assert.match(done.execution!.detail, /^migration m-\w+: asked dst to serve moving; this node unloads its copy once the target serves it/);
    await until(() => serves('dst'), 120_000, 'dst to serve the model');
    await until(async () => !(await serves('src')), 60_000, 'src to unload its copy');
    const m = (await orchestration('src')).moves!.migrations.find((x) => x.target_node === 'dst')!;
    assert.equal(m.state, 'unloaded', JSON.stringify(m));
    assert.ok(m.served_at! >= m.started_at && m.finished_at! >= m.served_at!);
    const r = (await orchestration('dst')).moves!.requests.find((x) => x.sha256 === sha)!;
    assert.deepEqual([r.state, r.reason], ['loaded', 'migrate']);
    // The swarm sees the model where it moved.
    await until(async () => (await models('nope')).swarm.find((x) => x.sha256 === sha)?.peers.length === 1, 30_000, 'the swarm to see one replica');
    process.stderr.write(`migration: served by the target ${m.served_at! - m.started_at} ms after confirm (${Date.now() - started} ms wall, incl. polling)\n`);
  });

  it('a confirmed start_election moves the swarm group\'s epoch in GET /orchestration', async () => {
    await until(async () => (await orchestration('src')).coordinator !== null, 30_000, 'a swarm coordinator');
    const o = await orchestration('src');
    const holder = [...nodes.keys()].find((id) => id === o.coordinator!.node_id)!;
    assert.ok(holder, `the coordinator ${JSON.stringify(o.coordinator)} is one of ours`);
    const before = (await orchestration(holder)).epoch;
    const held = await json<DecisionRecord>(holder, 'orchestrator', 'decision', '--context', 'the coordinator is down');
    assert.deepEqual([held.action, held.outcome, held.params.group], ['start_election', 'held', 'swarm']);
    const done = await json<DecisionRecord>(holder, 'orchestrator', 'confirm', held.id);
    assert.equal(done.outcome, 'executed', done.outcome_reason);
    await until(async () => (await orchestration(holder)).epoch > before, 30_000, 'the epoch to move');
    await until(async () => (await orchestration(holder === 'src' ? 'dst' : 'src')).epoch > before, 30_000, 'a peer to adopt the new epoch');
  });
});
