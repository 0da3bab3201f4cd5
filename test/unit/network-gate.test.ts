// The operator's peer block list through the HTTP API, on three in-process nodes over loopback
// TCP that all connect to each other: blocking b at a closes their connection and keeps it
// closed (b keeps trying: it knows a's address), a drops b's gossip that c relays and forgets b,
// bad peer ids are refused with their cause, the token rule holds, and unblocking reconnects.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createNode, type MvpNode } from '../../src/node/create-node.ts';
import type { ApiErrorBody } from '../../src/actors/api/messages.ts';
import type { BlockReply, PeerSummary } from '../../src/actors/network/messages.ts';
import type { BlockedPeer } from '../../src/actors/network/gate.ts';
import { apiUrl, call, get, post } from '../helpers/api.ts';
import { testConfig } from '../helpers/config.ts';
import { until } from '../helpers/runtime.ts';

const TOKEN = 'gate-test-token';
const auth = { authorization: `Bearer ${TOKEN}` };

async function start(id: string, bootstrap: string[], token?: string): Promise<MvpNode> {
  const n = await createNode(testConfig({
    node: { node_id: id, listen_host: '127.0.0.1', listen_port: 0 },
    network: { bootstrap_peers: bootstrap },
    distributed_orchestration: { heartbeat_timeout_secs: 2 },
    ...(token ? { api: { token } } : {}),
  }), { persistIdentity: false, serveModels: false });
  await n.start();
  return n;
}

const connected = async (n: MvpNode, peer: string) => (await n.supervisor.request<PeerSummary[]>('network', { type: 'network.peers' }, 2000))
  .some((p) => p.peer_id === peer && p.connected);
const knows = async (n: MvpNode, peer: string) => (await n.supervisor.request<PeerSummary[]>('network', { type: 'network.peers' }, 2000))
  .some((p) => p.peer_id === peer);

describe('network: blocking a peer', () => {
  let a: MvpNode, b: MvpNode, c: MvpNode;
  let url = '';
  before(async () => {
    a = await start('gate-a', [], TOKEN);
    const seed = (await a.network()).listen.find((x) => x.startsWith('/ip4/127.0.0.1/'))!;
    b = await start('gate-b', [seed]);
    c = await start('gate-c', [seed]);
    url = await apiUrl(a);
    await until(async () => (await Promise.all([a, b, c].map(async (n) => (await n.network()).peers))).every((p) => p === 2), 30_000, 'the three nodes to connect to each other');
  });
  after(async () => { await Promise.all([a, b, c].map((n) => n.stop())); });

  it('closes the connection, refuses new ones, drops the peer\'s relayed gossip, and shows the list', async () => {
    assert.equal((await post(`${url}/peers/${b.peerId}/block`)).status, 401, 'the api token is needed as for every route');
    const blocked = await post<BlockReply>(`${url}/peers/${b.peerId}/block`, undefined, auth);
    assert.equal(blocked.status, 200);
    assert.equal(blocked.body.peer_id, b.peerId);
    assert.ok(blocked.body.closed >= 1, `closed ${blocked.body.closed} connections`);
    const list = await get<BlockedPeer[]>(`${url}/peers/blocked`, auth);
    assert.deepEqual(list.body.map((x) => x.peer_id), [b.peerId]);
    assert.equal(list.body[0]!.since, blocked.body.since);

    await until(async () => !(await connected(a, b.peerId)) && !(await connected(b, a.peerId)), 5000, 'a and b to be disconnected');
    const droppedBefore = (await a.network()).dropped.blocked ?? 0;
    // b's maintain() dials a every second (it knows a's address), and c relays b's heartbeats to a.
    await new Promise((r) => setTimeout(r, 4000));
    assert.equal(await connected(a, b.peerId), false, 'a let b connect again');
    // b keeps dialling a (its maintain() and its DHT do): a refuses each attempt, so none lasts,
    // though b may hold one for the moment a takes to refuse it.
    await until(async () => !(await connected(b, a.peerId)), 3000, "b's attempt to be refused");
    assert.ok(await connected(c, b.peerId) && await connected(c, a.peerId), 'c still relays between them');
    assert.ok(((await a.network()).dropped.blocked ?? 0) > droppedBefore, 'a dropped b\'s gossip relayed by c');
    assert.equal(await knows(a, b.peerId), false, 'a forgot b: nothing of b\'s reaches its peer table');
    assert.equal(await knows(c, b.peerId), true);
    const metrics = await get<string>(`${url}/metrics`, auth);
    assert.match(metrics.body, /mvp_gossip_messages_dropped_total\{reason="blocked"\} [1-9]/);
  });

  it('refuses what is not another peer\'s id, naming why', async () => {
    const garbage = await post<ApiErrorBody>(`${url}/peers/not-a-peer/block`, undefined, auth);
    assert.deepEqual([garbage.status, garbage.body.code], [400, 'invalid_peer']);
    assert.match(garbage.body.message, /not a peer id: not-a-peer/);
    const self = await post<ApiErrorBody>(`${url}/peers/${a.peerId}/block`, undefined, auth);
    assert.deepEqual([self.status, self.body.code], [400, 'invalid_peer']);
    assert.match(self.body.message, /this node's own peer id/);
    const body = await post<ApiErrorBody>(`${url}/peers/${c.peerId}/block`, { forever: true }, auth);
    assert.deepEqual([body.status, body.body.code], [400, 'invalid_request']);
    assert.equal(await connected(a, c.peerId), true, 'nothing refused was blocked');
  });

  it('unblocking lets the peer back: reconnected and heard again', async () => {
    const lifted = await call<{ peer_id: string; was_blocked: boolean }>(`${url}/peers/${b.peerId}/block`, { method: 'DELETE', headers: auth });
    assert.equal(lifted.status, 200);
    assert.deepEqual(lifted.body, { peer_id: b.peerId, was_blocked: true });
    assert.deepEqual((await get<BlockedPeer[]>(`${url}/peers/blocked`, auth)).body, []);
    await until(async () => await connected(a, b.peerId) && await knows(a, b.peerId), 15_000, 'a to reconnect to b and hear it');
    const again = await call<{ was_blocked: boolean }>(`${url}/peers/${b.peerId}/block`, { method: 'DELETE', headers: auth });
    assert.equal(again.body.was_blocked, false);
  });
});
