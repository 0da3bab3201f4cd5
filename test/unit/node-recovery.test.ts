// Killing actors of a running node on purpose: a threaded network actor (worker terminated, or
// an uncaught throw inside it) and an inline scheduler. Each comes back, the other actors are
// told, and the node keeps working: it still hears its peer and still answers health.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createNode, type MvpNode } from '../../src/node/create-node.ts';
import { testConfig } from '../helpers/config.ts';
import { once, until } from '../helpers/runtime.ts';


describe('killing actors of a running node', () => {
  let node: MvpNode;
  let peer: MvpNode;
  before(async () => {
    peer = await createNode(testConfig({ node: { node_id: 'peer', listen_host: '127.0.0.1', listen_port: 0 } }), { persistIdentity: false, serveModels: false });
    await peer.start();
    const addr = (await peer.network()).listen[0]!;
    node = await createNode(testConfig({
      node: { node_id: 'victim', listen_host: '127.0.0.1', listen_port: 0 },
      network: { bootstrap_peers: [addr] },
      runtime: { placement: { network: 'thread' } },
    }), { persistIdentity: false, serveModels: false });
    await node.start();
    await until(async () => (await node.network()).known === 1, 20_000, 'the victim to hear its peer');
  });
  after(async () => { await node.stop(); await peer.stop(); });

  for (const mode of ['terminate', 'throw'] as const) {
    it(`restarts the threaded network actor after a kill (${mode}) and reconnects`, async () => {
      const before = node.supervisor.actors().find((a) => a.name === 'network')!;
      assert.equal(before.placement, 'thread');
      const restarted = once<{ name: string }>(node.supervisor, 'restarted');
      await node.supervisor.kill('network', mode);
      assert.equal((await restarted).name, 'network');
      const after = node.supervisor.actors().find((a) => a.name === 'network')!;
      assert.equal(after.crashes, before.crashes + 1);
      await until(async () => (await node.network()).known === 1, 20_000, 'the restarted network actor to hear its peer again');
      await until(async () => (await node.health()).actors.network === 'online', 20_000, 'the restarted network actor to be online again');
    });
  }

  it('restarts the inline scheduler after a crash with a fresh queue and the configured capacity', async () => {
    const restarted = once<{ name: string }>(node.supervisor, 'restarted');
    await node.supervisor.kill('scheduler', 'throw');
    assert.equal((await restarted).name, 'scheduler');
    const h = await node.health();
    assert.deepEqual(h.queue, { depth: 0, capacity: 100 });
    assert.equal(h.actors.scheduler, 'accepting');
  });
});
