// Scoped offers between real `mvp-node` processes over TCP: a model's offers reach the nodes
// that serve it and no other (counted per topic in /metrics), and a node still broadcasting
// offers (protocol 1.0, network.offer_scope = 'broadcast') and a scoped one (2.0) refuse each
// other's messages with a clear protocol-version warning, counted as unknown_version in both.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeTestModel } from '../../src/models/index.ts';
import { runCli, spawnNode, listenPort, type NodeProcess } from '../helpers/proc.ts';
import { tmpDir } from '../helpers/config.ts';
import { until } from '../helpers/runtime.ts';
import { get, parseMetrics, sample } from '../helpers/api.ts';
import { offerTopic, WORK_TOPIC } from '../../src/protocol/topics.ts';
import type { Manifest } from '../../src/protocol/index.ts';

describe('scoped offers between processes', () => {
  const dir = tmpDir();
  const procs: Record<string, NodeProcess> = {};
  let boot = '';
  const url = (id: string) => (JSON.parse(readFileSync(join(dir, id, 'api.json'), 'utf8')) as { url: string }).url;
  const metrics = async (id: string) => parseMetrics((await get<string>(`${url(id)}/metrics`)).body);
  const manifest = async (id: string) => (await get<Manifest>(`${url(id)}/manifest`)).body;
  const start = (id: string, cfg: string, model?: string) => {
    const p = spawnNode(['-c', cfg, '--node-id', id, '--port', '0', '--data-dir', dir, ...(boot ? ['--bootstrap', boot] : []), ...(model ? ['--model', model] : [])]);
    procs[id] = p;
    return p;
  };

  before(async () => {
    const alpha = (await writeTestModel({ preset: 'tiny', out: join(dir, 'alpha.gguf'), seed: 1 })).path;
    const beta = (await writeTestModel({ preset: 'tiny', out: join(dir, 'beta.gguf'), seed: 2 })).path;
    const cfg = join(dir, 'node.toml');
    const legacy = join(dir, 'legacy.toml');
    // The test machine is busy by design; let the load manager claim anyway.
    writeFileSync(cfg, '[executor]\nmax_load_per_core = 1000\n');
    writeFileSync(legacy, '[executor]\nmax_load_per_core = 1000\n[network]\noffer_scope = "broadcast"\n');
    start('a1', cfg, alpha);
    boot = `/ip4/127.0.0.1/tcp/${await listenPort(procs.a1!)}`;
    start('a2', cfg, alpha);
    start('b1', cfg, beta);
    start('old', legacy, beta);
    for (const p of Object.values(procs)) await p.waitFor((l) => l.msg.startsWith('Node started'), 90_000, 'node start');
    await procs.a1!.waitFor((l) => l.msg === 'Peer announced' && l.peer_node_id === 'b1', 60_000, 'a1 to know b1');
    await procs.a1!.waitFor((l) => l.msg === 'Peer announced' && l.peer_node_id === 'a2', 60_000, 'a1 to know a2');
  });
  after(async () => { await Promise.all(Object.values(procs).map((p) => p.stop('SIGKILL'))); });

  it('offers for a model reach its holders only: a node serving another model counts none', async () => {
    const m = (await manifest('a1')).models[0]!;
    const topic = offerTopic(m.sha256, 0);
    assert.equal(m.offer_shard, '0/1', 'two holders: one shard');
    for (let i = 0; i < 3; i++) {
      const r = await runCli(['submit', '--bootstrap', boot, '--model', m.name, '--max-tokens', '4', `job ${i}`], 120_000);
      assert.equal(r.code, 0, r.stderr);
    }
    const [a1, a2, b1] = await Promise.all(['a1', 'a2', 'b1'].map(metrics));
    const heard = (x: typeof a1, t: string) => sample(x!, 'mvp_gossip_deliveries_total', { topic: t }) ?? 0;
    assert.ok(heard(a1, topic) + heard(a2, topic) >= 3, `the holders heard the offers: ${heard(a1, topic)} + ${heard(a2, topic)}`);
    assert.equal(heard(b1, topic), 0, 'b1 serves beta: none of alpha\'s offers, claims or assignments');
    assert.equal(heard(b1, WORK_TOPIC), 0, 'nor anything on the broadcast work topic');
    const bSha = (await manifest('b1')).models[0]!.sha256;
    assert.equal(heard(a1, offerTopic(bSha, 0)), 0, 'a1 hears nothing of beta\'s topics');
  });

  it('a broadcasting 1.0 node and scoped 2.0 nodes refuse each other, counted and said in both', async () => {
    // The old node's announces and heartbeats reach the scoped ones, and theirs reach it.
    await until(async () => (sample(await metrics('old'), 'mvp_gossip_messages_dropped_total', { reason: 'unknown_version' }) ?? 0) > 0, 60_000, 'the old node to refuse 2.0 messages');
    await until(async () => (sample(await metrics('a1'), 'mvp_gossip_messages_dropped_total', { reason: 'unknown_version' }) ?? 0) > 0, 60_000, 'a1 to refuse 1.0 messages');
    const warned = (p: NodeProcess, v: string) => p.lines.some((l) => String(l.msg).startsWith(`Peer speaks protocol ${v}`));
    assert.ok(warned(procs.old!, '2.0'), 'the old node names the version it refuses');
    assert.ok(warned(procs.a1!, '1.0'), 'a1 names the version it refuses');
    assert.deepEqual((await manifest('old')).versions, ['1.0']);
    assert.deepEqual((await manifest('a1')).versions, ['2.0']);
    // Neither counts the other as a peer it knows.
    const peers = await get<Array<{ node_id?: string }>>(`${url('a1')}/peers`);
    assert.ok(!peers.body.some((p) => p.node_id === 'old'), 'a1 does not list the 1.0 node');
  });
});
