// The seed README's multi-instance scenarios and troubleshooting errors, run as a user would:
// real `mvp-node` processes talking TCP on loopback.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnNode, listenPort, type NodeProcess } from '../helpers/proc.ts';
import { tmpDir } from '../helpers/config.ts';
import { NETWORK_STATES } from '../../src/actors/network/messages.ts';
import { CONSENSUS_ROLES } from '../../src/actors/consensus/messages.ts';
import { tinyTestModelPath } from '../helpers/test-model.ts';

const running: NodeProcess[] = [];
const start = (args: string[], env?: Record<string, string>) => { const n = spawnNode(args, env); running.push(n); return n; };
after(async () => { await Promise.all(running.map((n) => n.stop('SIGKILL'))); });

const announced = (nodeId: string) => (l: { msg: string; peer_node_id?: unknown }) => l.msg === 'Peer announced' && l.peer_node_id === nodeId;

describe('seed scenarios', () => {
  it('scenario 1: a bootstrap node and two workers joined with a bare multiaddr', async () => {
    const data = tmpDir();
    const boot = start(['--node-id', 'bootstrap', '--port', '4001', '--data-dir', data]);
    await boot.waitFor((l) => l.msg === 'Node started as bootstrap node', 20_000, 'bootstrap start');
    const w1 = start(['--node-id', 'worker1', '--port', '4002', '--bootstrap', '/ip4/127.0.0.1/tcp/4001', '--data-dir', data]);
    const w2 = start(['--node-id', 'worker2', '--port', '4003', '--bootstrap', '/ip4/127.0.0.1/tcp/4001', '--data-dir', data]);
    await w1.waitFor((l) => l.msg === 'Connected to bootstrap peer', 20_000, 'worker1 dial');
    // Everyone learns everyone, the workers through gossip relayed by the bootstrap node.
    await Promise.all([
      boot.waitFor(announced('worker1')), boot.waitFor(announced('worker2')),
      w1.waitFor(announced('bootstrap')), w1.waitFor(announced('worker2'), 30_000, 'worker1 hears worker2'),
      w2.waitFor(announced('bootstrap')), w2.waitFor(announced('worker1'), 30_000, 'worker2 hears worker1'),
    ]);
    for (const n of [w2, w1, boot]) assert.equal(await n.stop('SIGINT'), 0);
    assert.ok(boot.lines.some((l) => l.msg === 'Stopped'));
  });

  it('scenario 2: --port 0 logs the port actually assigned', async () => {
    const data = tmpDir();
    const nodes = ['node1', 'node2', 'node3'].map((id) => start(['--node-id', id, '--port', '0', '--data-dir', data]));
    const ports = await Promise.all(nodes.map(listenPort));
    assert.ok(ports.every((p) => p > 0));
    assert.equal(new Set(ports).size, 3);
    await Promise.all(nodes.map((n) => n.stop()));
  });

  it('scenario 3: nodes with different --max-queue report their own queue capacity', async () => {
    const data = tmpDir();
    const cfg = join(data, 'fast-health.toml');
    writeFileSync(cfg, '[monitoring]\nhealth_check_interval_secs = 0.5\n');
    const high = start(['-c', cfg, '--node-id', 'high-cap', '--port', '0', '--max-queue', '500', '--data-dir', data]);
    const low = start(['-c', cfg, '--node-id', 'low-lat', '--port', '0', '--max-queue', '10', '--data-dir', data]);
    const [h, l] = await Promise.all([high, low].map((n) => n.waitFor((x) => x.msg === 'Health check', 60_000, 'Health check')));
    assert.deepEqual(h!.queue, { depth: 0, capacity: 500 });
    assert.deepEqual(l!.queue, { depth: 0, capacity: 10 });
    for (const hc of [h!, l!]) {
      assert.equal(typeof hc.peers, 'number');
      assert.equal(typeof hc.uptime_s, 'number');
      assert.match(String(hc.peer_id), /^12D3KooW/);
      const { network, consensus, ...others } = hc.actors as Record<string, string>;
      assert.ok((NETWORK_STATES as readonly string[]).includes(network!) && network !== 'starting', `network up: ${network}`);
      assert.ok((CONSENSUS_ROLES as readonly string[]).includes(consensus!), `consensus in one of its roles: ${consensus}`);
      assert.deepEqual(others, {
        store: 'running', scheduler: 'running', 'inference:mvp-test-tiny': 'ready', orchestrator: 'running', api: 'running',
      });
    }
    assert.equal(h!.node_id, 'high-cap');
    // No --model: each serves the generated test model, and says so.
    await high.waitFor((x) => x.msg.startsWith('No model configured: serving a generated test model'), 1000, 'the test-model notice');
    // The HTTP API reports the same node; its URL is in the log and in <data_dir>/<node-id>/api.json.
    const apiFile = join(data, 'high-cap', 'api.json');
    const { url } = JSON.parse(readFileSync(apiFile, 'utf8')) as { url: string };
    assert.equal((await high.waitFor((x) => x.msg.startsWith('API listening on'))).url, url);
    const res = await fetch(`${url}/health`);
    assert.equal(res.status, 200);
    assert.deepEqual(((await res.json()) as { queue: unknown }).queue, { depth: 0, capacity: 500 });
    await Promise.all([high.stop(), low.stop()]);
    assert.equal(existsSync(apiFile), false);
  });

  it('scenario 3: each node checks its own --model file before starting', async () => {
    const data = tmpDir();
    const model = await tinyTestModelPath();
    const good = start(['--node-id', 'tiny', '--port', '0', '--model', model, '--data-dir', data]);
    const v = await good.waitFor((l) => l.msg === 'Model loaded', 30_000, 'the model to load');
    assert.equal(v.model, 'tiny-v1-s1');
    assert.equal(v.actor, 'inference:tiny-v1-s1');
    assert.equal(v.test_model, true);
    assert.ok(!good.lines.some((l) => l.msg.startsWith('No model configured')));
    await good.stop();
    const junk = join(data, 'junk.gguf');
    writeFileSync(junk, 'not a model at all, just text');
    const bad = start(['--node-id', 'bad', '--port', '0', '--model', junk, '--data-dir', data]);
    assert.equal(await bad.exited, 1);
    assert.match(bad.stderr(), /^Error: Model load error: Invalid model format/m);
  });
});

describe('seed troubleshooting errors', () => {
  it('a taken port exits 1 with "Error: Failed to bind to port N" and the --port 0 hint', async () => {
    const data = tmpDir();
    const a = start(['--node-id', 'a', '--port', '0', '--data-dir', data]);
    const port = await listenPort(a);
    const b = start(['--node-id', 'b', '--port', String(port), '--data-dir', data]);
    assert.equal(await b.exited, 1);
    assert.match(b.stderr(), new RegExp(`^Error: Failed to bind to port ${port}\\b`, 'm'));
    assert.match(b.stderr(), /--port 0/);
    await a.stop();
  });

  it('an unreachable bootstrap peer is logged, retried with backoff, and the node keeps running', async () => {
    const data = tmpDir();
    const n = start(['--node-id', 'lonely', '--port', '0', '--bootstrap', '/ip4/127.0.0.1/tcp/9', '--data-dir', data]);
    const fail = (l: { msg: string }) => l.msg.startsWith('Failed to dial bootstrap peer /ip4/127.0.0.1/tcp/9: ');
    await n.waitFor(fail, 20_000, 'first failure');
    await n.waitFor((l) => fail(l) && l.retry_in_ms === 2000, 20_000, 'a retry with a longer backoff');
    assert.equal(n.proc.exitCode, null);
    assert.equal(await n.stop('SIGINT'), 0);
  });

  it('a missing config file names the path and exits 2', async () => {
    const n = start(['-c', '/nonexistent/mvp.toml']);
    assert.equal(await n.exited, 2);
    assert.match(n.stderr(), /^Error: .*\/nonexistent\/mvp\.toml/m);
  });

  it('a restarted node keeps its PeerId; another node id gets another key', async () => {
    const data = tmpDir();
    const peerOf = async (id: string) => {
      const n = start(['--node-id', id, '--port', '0', '--data-dir', data]);
      const l = await n.waitFor((x) => x.msg.startsWith('Node started'), 20_000, 'start');
      assert.equal(await n.stop('SIGINT'), 0);
      return String(l.peer_id);
    };
    const first = await peerOf('keeper');
    assert.equal(await peerOf('keeper'), first);
    assert.notEqual(await peerOf('other'), first);
  });

  it('refuses a second process on the same node id', async () => {
    const data = tmpDir();
    const a = start(['--node-id', 'twin', '--port', '0', '--data-dir', data]);
    await listenPort(a);
    const b = start(['--node-id', 'twin', '--port', '0', '--data-dir', data]);
    assert.equal(await b.exited, 1);
    assert.match(b.stderr(), /^Error: Data directory .* is in use by process \d+/m);
    await a.stop();
  });
});
