// Affinity scores: the formula's shape, bounds and monotonicity.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from '../helpers/property.ts';
import { AFFINITY_WEIGHTS, affinity, affinityScore, type AffinityInput } from '../../src/actors/consensus/affinity.ts';

const full = fc.record({
  queue_depth: fc.integer({ min: 0, max: 10_000 }),
  queue_capacity: fc.integer({ min: 0, max: 10_000 }),
  cpu: fc.double({ min: 0, max: 8, noNaN: true }),
  mem_free_mb: fc.double({ min: 0, max: 1e6, noNaN: true }),
  uptime_s: fc.double({ min: 0, max: 1e7, noNaN: true }),
  peers_connected: fc.integer({ min: 0, max: 1000 }),
  models_held: fc.integer({ min: 0, max: 50 }),
  latency_ms: fc.double({ min: 0, max: 1e5, noNaN: true }),
  receipts_ok: fc.integer({ min: 0, max: 1e6 }),
  receipts_failed: fc.integer({ min: 0, max: 1e6 }),
});
const any = fc.record({
  queue_depth: fc.option(fc.double(), { nil: undefined }),
  queue_capacity: fc.option(fc.double(), { nil: undefined }),
  cpu: fc.option(fc.double(), { nil: undefined }),
  mem_free_mb: fc.option(fc.double(), { nil: undefined }),
  uptime_s: fc.option(fc.double(), { nil: undefined }),
  peers_connected: fc.option(fc.double(), { nil: undefined }),
  models_held: fc.option(fc.double(), { nil: undefined }),
  latency_ms: fc.option(fc.double(), { nil: undefined }),
  receipts_ok: fc.option(fc.double(), { nil: undefined }),
  receipts_failed: fc.option(fc.double(), { nil: undefined }),
});

describe('affinity', () => {
  it('weights sum to 1', () => {
    assert.ok(Math.abs(Object.values(AFFINITY_WEIGHTS).reduce((a, b) => a + b, 0) - 1) < 1e-12);
  });

  it('is in [0, 1] for any input, NaN and infinities included', () => {
    fc.assert(fc.property(any, (i) => { const s = affinityScore(i); assert.ok(s >= 0 && s <= 1, String(s)); }));
  });

  it('falls as queue load, CPU, latency or failed receipts rise', () => {
    fc.assert(fc.property(full, fc.integer({ min: 1, max: 1000 }), fc.double({ min: 0, max: 2, noNaN: true }), (i, dq, dc) => {
      const base = affinityScore(i);
      assert.ok(affinityScore({ ...i, queue_depth: i.queue_depth + dq }) <= base + 1e-12);
      assert.ok(affinityScore({ ...i, cpu: i.cpu + dc }) <= base + 1e-12);
      assert.ok(affinityScore({ ...i, latency_ms: i.latency_ms + dq }) <= base + 1e-12);
      assert.ok(affinityScore({ ...i, receipts_failed: i.receipts_failed + dq }) <= base + 1e-12);
    }));
  });

  it('rises with free memory, uptime, peers and models', () => {
    fc.assert(fc.property(full, fc.double({ min: 0, max: 1e5, noNaN: true }), fc.integer({ min: 0, max: 100 }), (i, dx, dn) => {
      const base = affinityScore(i);
      for (const more of [
        { mem_free_mb: i.mem_free_mb + dx }, { uptime_s: i.uptime_s + dx },
        { peers_connected: i.peers_connected + dn }, { models_held: i.models_held + dn }, { receipts_ok: i.receipts_ok + dn },
      ] satisfies AffinityInput[]) assert.ok(affinityScore({ ...i, ...more }) >= base - 1e-12);
    }));
  });

  it('scores the extremes nearly 0 and nearly 1, and an unknown figure as neutral', () => {
    assert.ok(affinityScore({
      queue_depth: 10, queue_capacity: 10, cpu: 1, mem_free_mb: 0, uptime_s: 0, peers_connected: 0, models_held: 0,
      latency_ms: 1e9, receipts_ok: 0, receipts_failed: 1e9,
    }) < 1e-6);
    assert.ok(affinityScore({
      queue_depth: 0, queue_capacity: 10, cpu: 0, mem_free_mb: 1e9, uptime_s: 1e9, peers_connected: 1e9, models_held: 1e9,
      latency_ms: 0, receipts_ok: 1e9, receipts_failed: 0,
    }) > 0.999);
    const a = affinity({ models_held: 2 });
    assert.deepEqual(a.unknown, ['queue', 'cpu', 'memory', 'uptime', 'connectivity', 'latency', 'reputation']);
    assert.equal(a.components.models, 0.5);
    assert.ok(Math.abs(a.score - 0.5) < 1e-12);
  });

  it('reputation is the Beta(1, 1) mean of completed vs failed receipts', () => {
    assert.equal(affinity({ receipts_ok: 0, receipts_failed: 0 }).components.reputation, 0.5);
    assert.equal(affinity({ receipts_ok: 8, receipts_failed: 0 }).components.reputation, 0.9);
    assert.equal(affinity({ receipts_ok: 1, receipts_failed: 3 }).components.reputation, 1 / 3);
    assert.equal(affinity({ latency_ms: 100 }).components.latency, 0.5);
  });
});
