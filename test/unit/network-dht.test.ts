// The swarm's Kademlia DHT between real in-process nodes (real libp2p on the memory transport,
// kad-dht on the swarm's own protocol id): a receipt put by its executor lands on the k closest
// peers only, and a node that is neither client nor executor fetches it by job id; forged and
// altered receipt records are refused by every node's validator and counted; the providers of a
// model file are found by its sha256, and a provider record leading to no model costs its
// provider reputation.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { multiaddr } from '@multiformats/multiaddr';
import { peerIdFromString } from '@libp2p/peer-id';
import { buildLibp2p, type NetworkNode } from '../../src/actors/network/libp2p.ts';
import { DHT_PROTOCOL, checkReceiptRecord, modelCid, receiptKey } from '../../src/actors/network/dht.ts';
import { SYNC_PROTOCOL, readJson, writeJson } from '../../src/actors/network/sync.ts';
import { encodeEnvelope, sealEnvelope, sealReceipt, SUPPORTED_VERSIONS, type ReceiptEnvelope } from '../../src/protocol/index.ts';
import type { NetworkStatus } from '../../src/actors/network/messages.ts';
import type { PullProgress } from '../../src/actors/network/model-transfer.ts';
import { writeTestModel } from '../../src/models/index.ts';
import { hashModelFile } from '../../src/models/merkle.ts';
import { createNode, type MvpNode } from '../../src/node/create-node.ts';
import { newPeer, receiptBy, type Peer } from '../helpers/jobs.ts';
import { testConfig, tmpDir } from '../helpers/config.ts';
import { until } from '../helpers/runtime.ts';

/** Replicas per receipt: fewer than the nodes, so "not everywhere" can be seen. */
const K = 2;
const NODES = 5;

describe('the swarm DHT: receipts and model providers', () => {
  const nodes: MvpNode[] = [];
  const bare: NetworkNode[] = [];
  let boot = '';

  const receiptOf = (n: MvpNode, jobId: string) =>
    n.supervisor.request<ReceiptEnvelope | null>('network', { type: 'network.receipt', job_id: jobId }, 30_000);
  /** Receipts a node holds in its book (no lookup). */
  const booked = async (n: MvpNode, jobId: string) =>
    (await n.supervisor.request<ReceiptEnvelope[]>('network', { type: 'network.receipts', limit: 1000 }, 5000)).some((r) => r.body.job_id === jobId);
  const status = (n: MvpNode): Promise<NetworkStatus> => n.network();

  /** A bare libp2p node running the swarm's DHT (its own validator lets anything through: it is the hostile or the executor). */
  async function bareNode(peer: Peer, name: string): Promise<NetworkNode> {
    const node = await buildLibp2p({
      privateKey: peer.key, transport: 'memory', listen: [`/memory/dht-${name}-${Math.random().toString(36).slice(2)}`], maxPeers: 50, mdns: false,
      dht: { k: K, validate: async () => undefined },
    });
    bare.push(node);
    await node.dial(multiaddr(boot));
    await until(async () => node.getPeers().length > 0, 15_000, `${name} to connect`);
    return node;
  }

  /** Responses to a put from the nodes under test (the bare peers of other cases take anything). */
  const fromNodes = (e: { name: string; messageName?: string; from?: { toString(): string } }) =>
    e.name === 'PEER_RESPONSE' && e.messageName === 'PUT_VALUE' && nodes.some((n) => n.peerId === e.from?.toString());

  before(async () => {
    for (let i = 0; i < NODES; i++) {
      const n = await createNode(testConfig({
        node: { node_id: `d${i}` }, api: { enabled: false },
        network: { receipt_replicas: K, bootstrap_peers: boot ? [boot] : [] },
      }), { transport: 'memory', persistIdentity: false });
      await n.start();
      nodes.push(n);
      if (!boot) boot = (await n.network()).listen[0]!;
    }
    // Every node in every other's DHT routing table (through the bootstrap node's answers).
    await until(async () => (await Promise.all(nodes.map(status))).every((s) => (s.dht.routing_table ?? 0) >= 1 && s.peers >= 1), 30_000, 'the DHT routing tables to fill');
  });
  after(async () => {
    for (const b of bare) await Promise.resolve(b.stop()).catch(() => undefined);
    for (const n of nodes.reverse()) await n.stop();
  });

  it('runs on the swarm\'s own protocol id, in server mode', async () => {
    const p = await bareNode(await newPeer(), 'proto');
    let ps: string[] = [];
    await until(async () => {
      ps = (await p.peerStore.get(peerIdFromString(nodes[0]!.peerId)).catch(() => undefined))?.protocols ?? [];
      return ps.includes(DHT_PROTOCOL);
    }, 15_000, `identify to tell the node's DHT protocol`).catch(() => undefined);
    assert.ok(ps.includes(DHT_PROTOCOL), `a node answers ${DHT_PROTOCOL} (server mode): ${ps.join(', ')}`);
    assert.ok(!ps.includes('/ipfs/kad/1.0.0'), 'and never the public DHT\'s protocol');
  });

  it('a receipt put by its executor lands on at most k nodes, and a node that is neither client nor executor fetches it', async () => {
    const exec = await newPeer();
    const client = await newPeer();
    const executor = await bareNode(exec, 'exec');
    const receipt = await sealReceipt(exec.key, receiptBy(exec, client), Date.now());
    const jobId = receipt.body.job_id;
    let stored = 0;
    await until(async () => {
      stored = 0;
      for await (const e of executor.services.dht!.put(receiptKey(jobId), encodeEnvelope(receipt), { signal: AbortSignal.timeout(20_000) })) {
        if (e.name === 'PEER_RESPONSE' && e.messageName === 'PUT_VALUE') stored++;
      }
      return stored > 0;
    }, 30_000, 'the put to reach a replica');
    const holders = (await Promise.all(nodes.map((n) => booked(n, jobId)))).filter(Boolean).length;
    assert.ok(holders >= 1 && holders <= K, `held by ${holders} of ${NODES} nodes (k = ${K}), not gossiped to all`);

    // A node holding no copy looks it up by job id.
    const holds = await Promise.all(nodes.map((n) => booked(n, jobId)));
    const fetcher = nodes[holds.findIndex((h) => !h)]!;
    assert.ok(fetcher, 'some node holds no copy');
    const got = await receiptOf(fetcher, jobId);
    assert.deepEqual(got, receipt, 'the receipt as its executor signed it');
    assert.ok((await status(fetcher)).dht.receipt_lookups_found >= 1);
    // An unknown job: nothing, and no crash.
    assert.equal(await receiptOf(fetcher, 'f'.repeat(64)), null);
  });

  it('forged and altered receipt records are refused by the validator and counted', async () => {
    // A put goes to the k closest peers that answer its query. The bare peers of the cases
    // before take any record, and with k = 2 they could be the two closest to a key (a CI run
    // saw a put refused by nobody in 10 tries): only the nodes under test may answer here.
    for (const b of bare.splice(0)) await Promise.resolve(b.stop()).catch(() => undefined);
    const exec = await newPeer();
    const forger = await newPeer();
    const hostile = await bareNode(forger, 'forger');
    // Altered: the executor's receipt with its token count changed (the signature no longer holds).
    const real = await sealReceipt(exec.key, receiptBy(exec, await newPeer()), Date.now());
    const altered = { ...real, body: { ...real.body, tokens_out: 8000 } };
    // Forged: the forger's own receipt rewritten to name `exec` as its signer and executor.
    const own = await sealReceipt(forger.key, receiptBy(forger, await newPeer()), Date.now());
    const forged = { ...own, from: exec.id, body: { ...own.body, executor: exec.id } };
    // A genuine receipt under another job's key.
    const other = await sealReceipt(exec.key, receiptBy(exec, await newPeer()), Date.now());
    // The validator itself names each cause (the same function every node's DHT runs).
    const wrongKey = [receiptKey('e'.repeat(64)), encodeEnvelope(other)] as const;
    await assert.rejects(checkReceiptRecord(...wrongKey), (err: Error & { reason?: string }) => err.reason === 'wrong_key');
    const puts: Array<[Uint8Array, Uint8Array]> = [
      [receiptKey(altered.body.job_id), encodeEnvelope(altered as ReceiptEnvelope)],
      [receiptKey(forged.body.job_id), encodeEnvelope(forged as ReceiptEnvelope)],
      [receiptKey('d'.repeat(64)), new TextEncoder().encode('not a receipt')],
    ];
    const refusedTotal = async () => (await Promise.all(nodes.map(status))).reduce((sum, s) => sum + Object.values(s.dht.records_refused).reduce((a, b) => a + (b ?? 0), 0), 0);
    const before = await refusedTotal();
    for (const [key, value] of puts) {
      // On a busy machine a put's query may find no node yet, so it is tried again (at most 10
      // times, 2 s apart) until some node has refused it.
      const was = await refusedTotal();
      for (let attempt = 0; attempt < 10 && (await refusedTotal()) === was; attempt++) {
        if (attempt > 0) await new Promise((r) => setTimeout(r, 2000));
        let accepted = 0;
        for await (const e of hostile.services.dht!.put(key, value, { signal: AbortSignal.timeout(20_000) })) {
          if (fromNodes(e as never)) accepted++;
        }
        assert.equal(accepted, 0, 'no node stores a refused record');
      }
      assert.ok((await refusedTotal()) > was, `the record under ${new TextDecoder().decode(key)} was refused by some node`);
    }
    const refused = (await Promise.all(nodes.map(status))).map((s) => s.dht.records_refused);
    const sum = (reason: string) => refused.reduce((a, r) => a + ((r as Record<string, number | undefined>)[reason] ?? 0), 0);
    assert.ok((await refusedTotal()) - before >= puts.length, `each put refused and counted: ${JSON.stringify(refused)}`);
    assert.ok(sum('signature') >= 1, 'the altered one: a bad signature');
    assert.ok(sum('signature') >= 2, 'the forged one: not its executor\'s signature');
    // A genuine receipt under another job's key: put like the others, stored by no node. (Whether
    // a node's refusal of it is counted before the put's query ends varied between runs; the
    // cause is checked offline above.)
    try {
      for await (const _e of hostile.services.dht!.put(wrongKey[0], wrongKey[1], { signal: AbortSignal.timeout(20_000) })) { /* drained */ }
    } catch { /* refused by every peer it reached */ }
    assert.ok(sum('malformed') >= 1, 'bytes that are no receipt');
    // Nothing of them is found by a lookup from a node (the forger's own copy is refused too).
    assert.equal(await receiptOf(nodes[NODES - 1]!, altered.body.job_id), null);
    assert.equal(await receiptOf(nodes[NODES - 1]!, 'e'.repeat(64)), null);
    for (const n of nodes) assert.equal((await n.health()).actors.network, 'online');
  });

  it('finds the holder of a model by its sha256, and blames a provider record leading to no model', async () => {
    const dir = tmpDir();
    const model = (await writeTestModel({ preset: 'tiny', out: join(dir, 'm.gguf'), seed: 5 })).path;
    const h = await hashModelFile(model);
    const holder = nodes[1]!;
    await holder.supervisor.request('network', {
      type: 'network.set_models',
      models: [{ name: 'm', sha256: h.sha256, params: 1, quantization: 'Q4_0', context_length: 2048, test_model: true, merkle_root: h.tree.root, size: h.size }],
      files: [{ sha256: h.sha256, path: model }],
    }, 5000);
    const seeker = nodes[NODES - 1]!;
    await until(async () => (await seeker.supervisor.request<string[]>('network', { type: 'network.providers', sha256: h.sha256 }, 30_000)).includes(holder.peerId),
      30_000, 'the seeker to find the holder among the providers');

    // A bare peer providing a sha256 it does not serve (its manifest, by sync, lists no model).
    const liarPeer = await newPeer();
    const liar = await bareNode(liarPeer, 'liar');
    const announce = await sealEnvelope(liarPeer.key, liarPeer.id, 'announce', {
      node_id: 'liar', peer_id: liarPeer.id, versions: [...SUPPORTED_VERSIONS], addrs: [], models: [],
      capacity: { max_queue: 1, slots: 0 }, load: { queue_depth: 0, busy_slots: 0, cpu: 0, mem_free_mb: 1 },
      policies: { auto_accept_peers: true, max_peers: 1 }, started_at: Date.now(),
    }, { now: Date.now() });
    await liar.handle(SYNC_PROTOCOL, async (stream) => {
      await readJson(stream).catch(() => undefined);
      await writeJson(stream, { seq: 1, announces: [new TextDecoder().decode(encodeEnvelope(announce))] });
    });
    const fake = 'c'.repeat(64);
    for await (const _ of liar.services.dht!.provide(modelCid(fake), { signal: AbortSignal.timeout(20_000) })) { /* drained */ }
    const puller = nodes[3]!;
    const pulled = await puller.supervisor.request<PullProgress>('network', { type: 'network.pull', sha256: fake, dir: join(dir, 'pulled') }, 60_000)
      .then(() => 'pulled', (err: Error) => err.message);
    assert.match(pulled, /no peer announces/, 'no source: the pull fails with its cause');
    const s = await status(puller);
    assert.ok(s.reputation.offences.false_provide >= 1, 'the false provider blamed');
    assert.ok(s.reputation.suspects.some((p) => p.peer_id === liarPeer.id), 'its score went down');
  });
});
