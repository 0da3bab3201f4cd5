// Manifest sync (/mvp/sync/1.0.0) is an input from the network like gossip: a peer answering it
// with garbage or forged announces must not crash a node nor put anything in its peer table.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { buildLibp2p, type NetworkNode } from '../../src/actors/network/libp2p.ts';
import { SYNC_PROTOCOL, SyncError, parseRequest, parseResponse, readJson, writeJson } from '../../src/actors/network/sync.ts';
import { sealEnvelope, encodeEnvelope, SUPPORTED_VERSIONS } from '../../src/protocol/index.ts';
import { createNode, type MvpNode } from '../../src/node/create-node.ts';
import { testConfig } from '../helpers/config.ts';
import { until } from '../helpers/runtime.ts';

describe('manifest sync', () => {
  it('parses only well-formed requests and responses, within bounds', () => {
    assert.throws(() => parseRequest(null), SyncError);
    assert.throws(() => parseRequest({ since: -1 }), SyncError);
    assert.throws(() => parseRequest({ since: 1.5 }), SyncError);
    assert.deepEqual(parseRequest({ since: 7, extra: true }), { since: 7, receipts: false });
    assert.deepEqual(parseRequest({ since: 7, receipts: true }), { since: 7, receipts: true });
    assert.deepEqual(parseRequest({ since: 7, receipts: 'yes' }), { since: 7, receipts: false });
    assert.throws(() => parseResponse({ seq: 1, announces: 'nope' }), SyncError);
    assert.throws(() => parseResponse({ announces: [] }), SyncError);
    assert.throws(() => parseResponse({ seq: 1, announces: [], receipts: 'nope' }), SyncError);
    assert.deepEqual(parseResponse({ seq: 3, announces: ['a', 2, null, 'b'] }), { seq: 3, announces: ['a', 'b'], receipts: [] });
    assert.deepEqual(parseResponse({ seq: 3, announces: [], receipts: ['r', {}] }), { seq: 3, announces: [], receipts: ['r'] });
    assert.equal(parseResponse({ seq: 1, announces: Array.from({ length: 10_000 }, () => 'x') }).announces.length, 4096);
  });

  const cleanup: Array<() => unknown> = [];
  after(async () => { for (const c of cleanup.reverse()) await c(); });

  it('a peer answering sync with garbage and forged announces changes nothing', async () => {
    const node: MvpNode = await createNode(testConfig({ node: { node_id: 'honest' } }), { transport: 'memory' });
    await node.start();
    cleanup.push(() => node.stop());

    // The hostile peer: a bare libp2p node whose sync handler lies.
    const key = await generateKeyPair('Ed25519');
    const forgerKey = await generateKeyPair('Ed25519');
    const victimId = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString();
    const hostile: NetworkNode = await buildLibp2p({ privateKey: key, transport: 'memory', listen: ['/memory/hostile-sync'], maxPeers: 10, mdns: false });
    cleanup.push(() => hostile.stop());
    const manifest = {
      node_id: 'forged', peer_id: victimId, versions: [...SUPPORTED_VERSIONS], addrs: [], models: [],
      capacity: { max_queue: 1, slots: 0 }, load: { queue_depth: 0, busy_slots: 0, cpu: 0, mem_free_mb: 1 },
      policies: { auto_accept_peers: true, max_peers: 1 }, started_at: 1,
    };
    // Signed by the forger but claiming to be from the victim: the signature cannot hold.
    const forged = await sealEnvelope(forgerKey, peerIdFromPrivateKey(forgerKey).toString(), 'announce', manifest, { now: Date.now() });
    const lying = { ...forged, from: victimId };
    let asked = 0;
    await hostile.handle(SYNC_PROTOCOL, async (stream) => {
      asked++;
      await readJson(stream).catch(() => undefined);
      await writeJson(stream, asked === 1
        ? { seq: 3, announces: ['not json', '{"v":"9.0"}', new TextDecoder().decode(encodeEnvelope(lying as typeof forged))] }
        : { seq: 'x', announces: 'garbage' });
    });
    await hostile.dial(multiaddr((await node.network()).listen[0]!));
    await until(async () => asked >= 2, 15_000, 'the node to ask the hostile peer for sync twice');
    const peers = await node.supervisor.request<Array<{ peer_id: string; node_id?: string }>>('network', { type: 'network.peers' }, 2000);
    assert.ok(!peers.some((p) => p.peer_id === victimId || p.node_id === 'forged'));
    assert.equal((await node.health()).actors.network, 'online', 'up, the hostile peer connected');
    assert.equal(node.supervisor.counters.crashed, 0);
  });

  it('a newcomer learns a live peer\'s manifest by sync even when its announce is older than the heartbeat timeout', async () => {
    // Announces every 30 s, heartbeats every 0.5 s (timeout 1.5 s): a's announce is stale by the
    // timeout long before it announces again, yet the node passing it on hears a all the time.
    const cfg = { network: { announce_interval_secs: 30 }, distributed_orchestration: { heartbeat_timeout_secs: 1.5 } };
    const a: MvpNode = await createNode(testConfig({ node: { node_id: 'a' }, ...cfg }), { transport: 'memory' });
    await a.start();
    cleanup.push(() => a.stop());
    const addrA = (await a.network()).listen[0]!;
    const b: MvpNode = await createNode(testConfig({ node: { node_id: 'b' }, ...cfg, network: { ...cfg.network, bootstrap_peers: [addrA] } }), { transport: 'memory' });
    await b.start();
    cleanup.push(() => b.stop());
    await until(async () => (await b.network()).known === 1, 15_000, 'b to know a');
    await new Promise((r) => setTimeout(r, 3000)); // both announces are now twice the timeout old
    const c: MvpNode = await createNode(testConfig({ node: { node_id: 'c' }, ...cfg, network: { ...cfg.network, bootstrap_peers: [(await b.network()).listen[0]!] } }), { transport: 'memory' });
    await c.start();
    cleanup.push(() => c.stop());
    const names = async () => (await c.supervisor.request<Array<{ node_id?: string }>>('network', { type: 'network.peers' }, 2000)).map((p) => p.node_id).sort();
    // Well before anyone announces again (30 s).
    await until(async () => JSON.stringify(await names()) === JSON.stringify(['a', 'b']), 10_000, 'c to hold the manifests of a and b');
  });
});
