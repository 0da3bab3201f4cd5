// Offer topics: one per (model, shard), shards of at most S holders, a holder's shard by its
// peer id; a client's route to a model's shards from the manifests.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { defaultShardSize, offerTopic, parseOfferTopic, shardCount, shardOf, WORK_TOPIC } from '../../src/protocol/topics.ts';
import { offerRoute } from '../../src/client/submit.ts';
import type { Manifest } from '../../src/protocol/index.ts';

const SHA = 'a'.repeat(64);

function manifest(peer: string, version: string, depth: number, shard?: string): Manifest {
  return {
    node_id: peer, peer_id: peer, versions: [version], addrs: [], started_at: 0,
    models: [{ name: 'm', sha256: SHA, params: 1, quantization: 'f16', context_length: 512, test_model: true, ...(shard ? { offer_shard: shard } : {}) }],
    capacity: { max_queue: 10, slots: 1 }, load: { queue_depth: depth, busy_slots: 0, cpu: 0, mem_free_mb: 100 },
    policies: { auto_accept_peers: true, max_peers: 50 },
  } as Manifest;
}

describe('offer topics', () => {
  it('names a model shard topic and parses it back', () => {
    assert.equal(offerTopic(SHA, 3), `mvp/offers/${SHA}/3`);
    assert.deepEqual(parseOfferTopic(offerTopic(SHA, 3)), { sha256: SHA, shard: 3 });
    assert.equal(parseOfferTopic(WORK_TOPIC), undefined);
  });

  it('splits a group past S holders into shards of at most S, each holder in one', () => {
    assert.equal(defaultShardSize(100), 14);
    assert.equal(defaultShardSize(2), 4);
    assert.equal(shardCount(14, 14), 1);
    assert.equal(shardCount(15, 14), 2);
    const peers = Array.from({ length: 400 }, (_, i) => `12D3KooPeer${i}`);
    const counts = [0, 0, 0, 0];
    for (const p of peers) counts[shardOf(p, 4)]!++;
    for (const c of counts) assert.ok(c > 60 && c < 140, `shards even enough: ${counts}`);
    assert.equal(shardOf(peers[7]!, 4), shardOf(peers[7]!, 4));
  });

  it('routes a 2.0 client to the least loaded shard first, then the others', () => {
    const ms = [manifest('p1', '2.0', 5, '0/2'), manifest('p2', '2.0', 0, '1/2'), manifest('p3', '2.0', 1, '1/2')];
    const r = offerRoute(ms, 'm', () => 0.5);
    assert.equal(r.version, '2.0');
    assert.deepEqual(r.shards.map((s) => s.topic), [offerTopic(SHA, 1), offerTopic(SHA, 0)]);
    assert.deepEqual(r.shards[0]!.holders.sort(), ['p2', 'p3']);
  });

  it('routes to the broadcast work topic when every holder speaks only 1.0', () => {
    const r = offerRoute([manifest('p1', '1.0', 0), manifest('p2', '1.0', 0)], 'm');
    assert.deepEqual(r, { version: '1.0', shards: [{ topic: WORK_TOPIC, holders: ['p1', 'p2'] }] });
  });
});
