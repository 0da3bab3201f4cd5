// The simulator's shaping of in-process links (memory-gate.ts): gossip lost on the way never
// reaches the node (counted apart from what it received), delayed gossip arrives late, and
// lifting the shaping restores delivery. Real nodes on the memory transport.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { createNode, type MvpNode } from '../../src/node/create-node.ts';
import { memoryGate } from '../../src/actors/network/memory-gate.ts';
import { testConfig } from '../helpers/config.ts';
import { until } from '../helpers/runtime.ts';

describe('memory gate: shaped links', () => {
  const nodes: MvpNode[] = [];
  after(async () => { memoryGate.shape(); await Promise.all(nodes.map((n) => n.stop())); });

  it('loses every gossip message at loss 1, delays them when asked, and delivers again once lifted', async () => {
    // Heartbeats every second (T = 3 s) keep gossip flowing between the two.
    const orch = { distributed_orchestration: { heartbeat_timeout_secs: 3 } };
    const a = await createNode(testConfig({ node: { node_id: 'a' }, ...orch }), { transport: 'memory' });
    await a.start();
    nodes.push(a);
    const b = await createNode(testConfig({ node: { node_id: 'b' }, network: { bootstrap_peers: [(await a.network()).listen[0]!] }, ...orch }), { transport: 'memory' });
    await b.start();
    nodes.push(b);
    await until(async () => (await b.network()).received > 0, 15_000, 'gossip to flow');

    memoryGate.shape({ loss: 1 });
    const cut = await b.network();
    await until(async () => (await b.network()).sim_lost! >= cut.sim_lost! + 2, 15_000, 'messages to be lost');
    const during = await b.network();
    assert.equal(during.received, cut.received, 'a lost message is not received');

    // Delayed: taken in only after the extra delay; nothing lost.
    memoryGate.shape({ extraMs: 1000 });
    const slow = await b.network();
    await until(async () => (await b.network()).received > slow.received, 15_000, 'delayed messages to arrive');
    assert.equal((await b.network()).sim_lost, slow.sim_lost);

    memoryGate.shape();
    const healed = await b.network();
    await until(async () => (await b.network()).received > healed.received, 15_000, 'gossip to flow again');
    assert.equal((await b.network()).sim_lost, healed.sim_lost);
  });

  it('draws loss from the source it is given: the same seed loses the same messages', () => {
    const draws = (seed: number) => {
      let x = seed;
      const rng = () => { x = (x * 1103515245 + 12345) % 2 ** 31; return x / 2 ** 31; };
      memoryGate.shape({ loss: 0.3, extraMs: 5 }, rng);
      return Array.from({ length: 50 }, () => memoryGate.fate());
    };
    const one = draws(7);
    assert.deepEqual(draws(7), one);
    assert.ok(one.includes('lost') && one.includes(5));
    memoryGate.shape();
    assert.equal(memoryGate.fate(), 0);
  });
});
