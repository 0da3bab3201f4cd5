// Manifest sync (/mvp/sync/1.0.0) is an input from the network like gossip: a peer answering it
// with garbage or forged announces must not crash a node nor put anything in its peer table.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { buildLibp2p, type NetworkNode } from '../../src/actors/network/libp2p.ts';
import { SYNC_PROTOCOL, SyncError, parseRequest, parseResponse, readJson, writeJson } from '../../src/actors/network/sync.ts';
import { sealEnvelope, sealReceipt, encodeEnvelope, SUPPORTED_VERSIONS, type ReceiptEnvelope } from '../../src/protocol/index.ts';
import { TOPICS } from '../../src/protocol/topics.ts';
import { newPeer, receiptBy } from '../helpers/jobs.ts';
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

  it('receipts gossiped while two nodes were apart reach the other side by sync at the heal', async () => {
    const a: MvpNode = await createNode(testConfig({ node: { node_id: 'a' } }), { transport: 'memory' });
    await a.start();
    cleanup.push(() => a.stop());
    const addrA = (await a.network()).listen[0]!;
    const b: MvpNode = await createNode(testConfig({ node: { node_id: 'b' }, network: { bootstrap_peers: [addrA] } }), { transport: 'memory' });
    await b.start();
    cleanup.push(() => b.stop());
    await until(async () => (await b.network()).known === 1, 15_000, 'b to know a');

    // The partition: b blocks a (no connection either way).
    await b.supervisor.request('network', { type: 'network.block', peer_id: a.peerId }, 2000);
    await until(async () => (await b.network()).peers === 0, 15_000, 'b to be cut from a');

    // An executor (a bare libp2p node) gossips its receipt on a's side.
    const exec = await newPeer();
    const client = await newPeer();
    const p: NetworkNode = await buildLibp2p({ privateKey: exec.key, transport: 'memory', listen: ['/memory/receipt-sync-exec'], maxPeers: 10, mdns: false });
    cleanup.push(() => p.stop());
    p.services.pubsub.subscribe(TOPICS.receipt);
    await p.dial(multiaddr(addrA));
    await until(async () => p.services.pubsub.getSubscribers(TOPICS.receipt).length > 0, 15_000, 'a to subscribe to receipts');
    const receipt = await sealReceipt(exec.key, receiptBy(exec, client), Date.now());
    const held = (n: MvpNode) => n.supervisor.request<ReceiptEnvelope | null>('network', { type: 'network.receipt', job_id: receipt.body.job_id }, 2000);
    await until(async () => {
      await p.services.pubsub.publish(TOPICS.receipt, encodeEnvelope(receipt)).catch(() => undefined);
      return (await held(a)) !== null;
    }, 15_000, 'a to accept the receipt');
    assert.equal(await held(b), null, 'b did not hear it while apart');

    // The heal: b's next sync with a brings what it missed.
    await b.supervisor.request('network', { type: 'network.unblock', peer_id: a.peerId }, 2000);
    await until(async () => (await held(b)) !== null, 15_000, 'b to learn the receipt by sync');
    assert.deepEqual(await held(b), receipt, 'as signed by its executor');
    assert.deepEqual((await b.network()).sync_dropped, {});
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
