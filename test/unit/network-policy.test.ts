// Network policies from the config: max_peers, auto_accept_peers = false, and expiry of peers
// not heard within heartbeat_timeout_secs. In-process nodes over the memory transport.
import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createNode, type MvpNode } from '../../src/node/create-node.ts';
import { testConfig } from '../helpers/config.ts';
import { until } from '../helpers/runtime.ts';

const started: MvpNode[] = [];
async function node(overrides: Parameters<typeof testConfig>[0]) {
  const n = await createNode(testConfig(overrides), { transport: 'memory' });
  await n.start();
  started.push(n);
  return n;
}
const addr = async (n: MvpNode) => (await n.network()).listen[0]!;

describe('network policies', () => {
  afterEach(async () => { await Promise.all(started.splice(0).map((n) => n.stop())); });

  it('keeps no more than max_peers connections', async () => {
    const hub = await node({ node: { node_id: 'hub' }, network: { max_peers: 2 } });
    const hubAddr = await addr(hub);
    for (let i = 0; i < 5; i++) await node({ node: { node_id: `leaf${i}` }, network: { bootstrap_peers: [hubAddr] } });
    await until(async () => (await hub.network()).known >= 2, 15_000, 'the hub to hear some leaves');
    await new Promise((r) => setTimeout(r, 2000));
    assert.ok((await hub.network()).peers <= 2, `hub holds ${(await hub.network()).peers} connections`);
  });

  it('with auto_accept_peers = false, lets in only configured peers', async () => {
    const friend = await node({ node: { node_id: 'friend' } });
    const friendAddr = await addr(friend); // carries /p2p/<id>: a configured peer
    const closed = await node({ node: { node_id: 'closed' }, network: { auto_accept_peers: false, bootstrap_peers: [friendAddr] } });
    const closedAddr = await addr(closed);
    const stranger = await node({ node: { node_id: 'stranger' }, network: { bootstrap_peers: [closedAddr] } });
    await until(async () => (await closed.network()).known === 1, 15_000, 'the closed node to hear its friend');
    await new Promise((r) => setTimeout(r, 2000));
    const peers = await closed.supervisor.request<Array<{ node_id?: string; connected: boolean }>>('network', { type: 'network.peers' }, 2000);
    assert.deepEqual(peers.filter((p) => p.connected).map((p) => p.node_id), ['friend']);
    assert.equal((await stranger.network()).peers, 0);
  });

  it('expires a peer not heard within heartbeat_timeout_secs', async () => {
    const a = await node({ node: { node_id: 'a' }, distributed_orchestration: { heartbeat_timeout_secs: 2 } });
    const b = await node({ node: { node_id: 'b' }, network: { bootstrap_peers: [await addr(a)] }, distributed_orchestration: { heartbeat_timeout_secs: 2 } });
    await until(async () => (await a.network()).known === 1, 15_000, 'a to know b');
    await b.stop();
    started.splice(started.indexOf(b), 1);
    await until(async () => (await a.network()).known === 0, 10_000, 'a to expire b');
  });
});
