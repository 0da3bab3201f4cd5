// Hostile gossip: a peer sends 10 000 generated and mutated messages through the real gossip
// path to a live node. Every one of them is accounted for — accepted, or dropped for a named
// reason — so nothing was swallowed before validation; no actor crashed; and the node still
// runs a job for a client afterwards.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import type { PrivateKey } from '@libp2p/interface';
import { buildLibp2p, type NetworkNode } from '../../src/actors/network/libp2p.ts';
import { TOPICS, offerTopic } from '../../src/protocol/topics.ts';
import type { Manifest } from '../../src/protocol/index.ts';
import { createNode, type MvpNode } from '../../src/node/create-node.ts';
import { encodeEnvelope, sealEnvelope, buildWorkOffer, sha256Hex, type DropReason } from '../../src/protocol/index.ts';
import { submitJob } from '../../src/client/submit.ts';
import { testConfig } from '../helpers/config.ts';
import { until } from '../helpers/runtime.ts';

const TOTAL = 10_000;
const enc = (v: unknown) => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));

/** A seeded generator, so a failure can be replayed. */
function prng(seed: number) {
  let s = seed >>> 0;
  return () => { s = (s + 0x6d2b79f5) >>> 0; let t = s; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32; };
}

describe('gossip fuzz against a live node', () => {
  let node: MvpNode;
  let hostile: NetworkNode;
  let nodeAddr: string;
  let topics: string[] = [];
  before(async () => {
    node = await createNode(testConfig({
      node: { node_id: 'target', listen_host: '127.0.0.1', listen_port: 0 },
      executor: { max_load_per_core: 1000 },
    }), { persistIdentity: false });
    await node.start();
    nodeAddr = (await node.network()).listen.find((a) => a.includes('/ip4/127.0.0.1/'))!;
    hostile = await buildLibp2p({ privateKey: await generateKeyPair('Ed25519'), transport: 'tcp', listen: ['/ip4/127.0.0.1/tcp/0'], maxPeers: 4, mdns: false });
    // Let in as the node's own client: the guard in front of the inspector (rate and reputation,
    // which would soon drop everything this peer sends: test/chaos/hostile-peer.test.ts) lets
    // its connection through, so every message reaches the inspector whose accounting is tested.
    await node.supervisor.request('network', { type: 'network.local_client', peer_id: hostile.peerId.toString() }, 5000);
    // The topics the node hears: announce, orchestration, and its model's offer shard (receipts
    // travel by DHT, and offers only on the offer topics of the models a node serves).
    const served = async () => (await node.supervisor.request<Manifest>('network', { type: 'network.manifest' }, 5000)).models[0];
    await until(async () => (await served())?.offer_shard !== undefined, 15_000, 'the node to announce its offer shard');
    const model = (await served())!;
    const shard = Number(model.offer_shard!.split('/')[0]);
    topics = [TOPICS.announce, TOPICS.orch, offerTopic(model.sha256, shard)];
    for (const t of topics) hostile.services.pubsub.subscribe(t);
    await hostile.dial(multiaddr(nodeAddr));
    await until(async () => topics.every((t) => hostile.services.pubsub.getSubscribers(t).length > 0), 15_000, 'the node to subscribe');
  });
  after(async () => { await hostile?.stop(); await node?.stop(); });

  it(`accounts for all ${TOTAL} hostile messages by reason, and still serves a job`, async () => {
    const rand = prng(20261126);
    const keys: PrivateKey[] = await Promise.all(Array.from({ length: 8 }, () => generateKeyPair('Ed25519')));
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
    const now = () => Date.now();
    let seq = 0;
    const valid = async (key = pick(keys), ts = now(), type: 'heartbeat' = 'heartbeat') =>
      sealEnvelope(key, peerIdFromPrivateKey(key).toString(), type, { seq: ++seq }, { now: ts });
    const expected: Partial<Record<DropReason | 'accepted', number>> = {};
    const want = (k: DropReason | 'accepted') => { expected[k] = (expected[k] ?? 0) + 1; };
    const before0 = await node.network();

    for (let i = 0; i < TOTAL; i++) {
      const r = rand();
      let bytes: Uint8Array;
      if (r < 0.2) { // random bytes, half of them starting like a JSON object
        bytes = randomBytes(1 + Math.floor(rand() * 600));
        if (rand() < 0.5) bytes[0] = 0x7b;
        want('malformed');
      } else if (r < 0.3) { // JSON, but no envelope
        bytes = enc(pick([{ hello: i }, { v: '2.0', type: 'announce', id: `x${i}` }, { v: 1, body: null, n: i }]));
        want('schema');
      } else if (r < 0.42) { // genuine
        bytes = encodeEnvelope(await valid());
        want('accepted');
      } else if (r < 0.52) { // a signed envelope with a byte of its body changed
        const env = await valid();
        bytes = enc({ ...env, body: { seq: env.body.seq + 1 } });
        want('bad_signature');
      } else if (r < 0.6) { // signed long ago
        bytes = encodeEnvelope(await valid(pick(keys), now() - 3_600_000));
        want('stale');
      } else if (r < 0.68) { // a future major version
        const env = await valid();
        bytes = enc({ ...env, v: '9.0' });
        want('unknown_version');
      } else if (r < 0.74) { // a type nobody knows
        const env = await valid();
        bytes = enc({ ...env, type: 'job_bid' });
        want('unknown_type');
      } else if (r < 0.76) { // too big
        bytes = enc({ pad: 'x'.repeat(300 * 1024), i });
        want('oversize');
      } else if (r < 0.9) { // a replay: the same envelope again, in different bytes (spacing)
        const env = await valid();
        await hostile.services.pubsub.publish(TOPICS.announce, encodeEnvelope(env));
        want('accepted');
        i++;
        bytes = enc(JSON.stringify(env, null, 1));
        want('replay');
      } else { // an offer whose client is not its signer
        const key = pick(keys);
        const offer = buildWorkOffer({ client: peerIdFromPrivateKey(pick(keys.filter((k) => k !== key))).toString(), model: 'm', prompt_sha256: sha256Hex(`p${i}`), max_tokens: 4, temperature: 0, priority: 'normal', requirements: {} });
        const signed = await sealEnvelope(key, peerIdFromPrivateKey(key).toString(), 'heartbeat', { seq: ++seq }, { now: now() });
        bytes = enc({ ...signed, type: 'work_offer', body: offer });
        want('wrong_from');
      }
      await hostile.services.pubsub.publish(pick(topics), bytes);
    }
    const sent = Object.values(expected).reduce((a, b) => a + b, 0);
    assert.ok(sent >= TOTAL);

    await until(async () => (await node.network()).received - before0.received >= sent, 240_000, `the node to receive all ${sent} messages`);
    const after0 = await node.network();
    const got: Partial<Record<string, number>> = { accepted: after0.accepted - before0.accepted };
    for (const [k, v] of Object.entries(after0.dropped)) got[k] = v! - (before0.dropped[k as DropReason] ?? 0);
    assert.equal(after0.received - before0.received, sent, 'every message sent reached validation');
    assert.deepEqual(Object.fromEntries(Object.entries(got).filter(([, v]) => v)), expected);
    assert.equal(node.supervisor.counters.crashed, 0);

    const r = await submitJob({ bootstrap: [nodeAddr], prompt: 'still there?', maxTokens: 8, temperature: 0, priority: 'normal', timeoutMs: 30_000 });
    assert.equal(r.receipt.body.status, 'completed');
  });
});
