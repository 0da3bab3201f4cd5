// Affinity scores, coordinator choice per mode, and the local view (DESIGN.md §6).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AFFINITY_WEIGHTS, affinity, affinityScore, type AffinityInput } from '../../src/actors/consensus/affinity.ts';
import { chooseCoordinator, type Candidate } from '../../src/actors/consensus/coordinator.ts';
import { buildLocalView, type Observation } from '../../src/actors/consensus/view.ts';
import type { PeerSummary } from '../../src/actors/network/messages.ts';

const full = fc.record({
  queue_depth: fc.integer({ min: 0, max: 10_000 }),
  queue_capacity: fc.integer({ min: 0, max: 10_000 }),
  cpu: fc.double({ min: 0, max: 8, noNaN: true }),
  mem_free_mb: fc.double({ min: 0, max: 1e6, noNaN: true }),
  uptime_s: fc.double({ min: 0, max: 1e7, noNaN: true }),
  peers_connected: fc.integer({ min: 0, max: 1000 }),
  models_held: fc.integer({ min: 0, max: 50 }),
});
const any = fc.record({
  queue_depth: fc.option(fc.double(), { nil: undefined }),
  queue_capacity: fc.option(fc.double(), { nil: undefined }),
  cpu: fc.option(fc.double(), { nil: undefined }),
  mem_free_mb: fc.option(fc.double(), { nil: undefined }),
  uptime_s: fc.option(fc.double(), { nil: undefined }),
  peers_connected: fc.option(fc.double(), { nil: undefined }),
  models_held: fc.option(fc.double(), { nil: undefined }),
});

describe('affinity', () => {
  it('weights sum to 1', () => {
    assert.ok(Math.abs(Object.values(AFFINITY_WEIGHTS).reduce((a, b) => a + b, 0) - 1) < 1e-12);
  });

  it('is in [0, 1] for any input, NaN and infinities included', () => {
    fc.assert(fc.property(any, (i) => { const s = affinityScore(i); assert.ok(s >= 0 && s <= 1, String(s)); }));
  });

  it('falls as queue load or CPU rises', () => {
    fc.assert(fc.property(full, fc.integer({ min: 1, max: 1000 }), fc.double({ min: 0, max: 2, noNaN: true }), (i, dq, dc) => {
      const base = affinityScore(i);
      assert.ok(affinityScore({ ...i, queue_depth: i.queue_depth + dq }) <= base + 1e-12);
      assert.ok(affinityScore({ ...i, cpu: i.cpu + dc }) <= base + 1e-12);
    }));
  });

  it('rises with free memory, uptime, peers and models', () => {
    fc.assert(fc.property(full, fc.double({ min: 0, max: 1e5, noNaN: true }), fc.integer({ min: 0, max: 100 }), (i, dx, dn) => {
      const base = affinityScore(i);
      for (const more of [
        { mem_free_mb: i.mem_free_mb + dx }, { uptime_s: i.uptime_s + dx },
        { peers_connected: i.peers_connected + dn }, { models_held: i.models_held + dn },
      ] satisfies AffinityInput[]) assert.ok(affinityScore({ ...i, ...more }) >= base - 1e-12);
    }));
  });

  it('scores the extremes 0 and nearly 1, and an unknown figure as neutral', () => {
    assert.equal(affinityScore({ queue_depth: 10, queue_capacity: 10, cpu: 1, mem_free_mb: 0, uptime_s: 0, peers_connected: 0, models_held: 0 }), 0);
    assert.ok(affinityScore({ queue_depth: 0, queue_capacity: 10, cpu: 0, mem_free_mb: 1e9, uptime_s: 1e9, peers_connected: 1e9, models_held: 1e9 }) > 0.999);
    const a = affinity({ models_held: 2 });
    assert.deepEqual(a.unknown, ['queue', 'cpu', 'memory', 'uptime', 'connectivity']);
    assert.equal(a.components.models, 0.5);
    assert.equal(a.score, 0.5);
  });
});

describe('coordinator choice', () => {
  const c = (node_id: string, affinity: number): Candidate => ({ node_id, affinity });
  const members = [c('node-b', 0.9), c('node-a', 0.2), c('node-c', 0.5)];

  it('permanent: the smallest node_id, whatever the scores', () => {
    assert.equal(chooseCoordinator('permanent', members)?.node_id, 'node-a');
  });
  it('permanent: a configured node when it is a member, none when it is gone', () => {
    assert.equal(chooseCoordinator('permanent', members, { fixed: 'node-c' })?.node_id, 'node-c');
    assert.equal(chooseCoordinator('permanent', members, { fixed: 'node-z' }), undefined);
  });
  it('emergent: the highest affinity, ties to the smallest node_id', () => {
    assert.equal(chooseCoordinator('emergent', members)?.node_id, 'node-b');
    assert.equal(chooseCoordinator('emergent', [c('y', 0.5), c('x', 0.5)])?.node_id, 'x');
  });
  it('emergent: keeps the current coordinator unless beaten by more than the margin', () => {
    assert.equal(chooseCoordinator('emergent', [c('cur', 0.5), c('new', 0.6)], { current: 'cur' })?.node_id, 'cur');
    assert.equal(chooseCoordinator('emergent', [c('cur', 0.5), c('new', 0.61)], { current: 'cur' })?.node_id, 'new');
    assert.equal(chooseCoordinator('emergent', [c('cur', 0.5), c('new', 0.55)], { current: 'cur', margin: 0 })?.node_id, 'new');
  });
  it('emergent: replaces a current coordinator that is no longer a member', () => {
    assert.equal(chooseCoordinator('emergent', [c('a', 0.1), c('b', 0.2)], { current: 'gone' })?.node_id, 'b');
  });
  it('fully_decentralized: no coordinator; and none among no members', () => {
    assert.equal(chooseCoordinator('fully_decentralized', members), undefined);
    assert.equal(chooseCoordinator('emergent', []), undefined);
  });
});

describe('local view', () => {
  const peer = (peer_id: string, over: Partial<PeerSummary> = {}): PeerSummary =>
    ({ peer_id, node_id: `node-${peer_id}`, connected: true, addrs: [], last_seen: 1000, models: [], ...over });
  const obs = (over: Partial<Observation> = {}): Observation => ({
    now: 10_000, enabled: true, mode: 'permanent', self: { node_id: 'node-m', peer_id: 'm' },
    self_figures: { queue_depth: 0, queue_capacity: 10, cpu: 0.1, mem_free_mb: 4096, uptime_s: 60, peers_connected: 2, models_held: 1 },
    peers: [], member_timeout_ms: 5000, sources_missing: [], ...over,
  });

  it('counts self and live peers, not stale or duplicate ones, and marks peer scores as estimated', () => {
    const v = buildLocalView(obs({
      peers: [peer('a'), peer('b', { connected: false, last_seen: 9000 }), peer('c', { connected: false, last_seen: 1000 }), peer('m')],
    }));
    assert.equal(v.view, 'local');
    assert.equal(v.members, 3);
    assert.deepEqual(v.candidates.map((m) => [m.node_id, m.self, m.estimated]), [['node-m', true, false], ['node-a', false, true], ['node-b', false, true]]);
    assert.deepEqual(v.coordinator, { node_id: 'node-a', peer_id: 'a' });
    assert.equal(v.self_affinity, v.candidates[0]!.affinity);
  });

  it('has no coordinator when disabled or fully decentralized', () => {
    assert.equal(buildLocalView(obs({ enabled: false, peers: [peer('a')] })).coordinator, undefined);
    assert.equal(buildLocalView(obs({ mode: 'fully_decentralized' })).coordinator, undefined);
  });

  it('emergent: keeps the previous coordinator across refreshes unless clearly beaten', () => {
    const a = peer('a', { models: ['x', 'y', 'z'] }); // estimated: 0.5 × 0.9 + 0.1 × 3/5 = 0.51
    const slightlyBetter = { models_held: 10 };       // estimated: 0.45 + 0.1 × 10/12 ≈ 0.533
    const fresh = buildLocalView(obs({ mode: 'emergent', peers: [a], self_figures: slightlyBetter }));
    assert.equal(fresh.coordinator!.node_id, 'node-m');
    const previous = { ...fresh, coordinator: { node_id: 'node-a', peer_id: 'a' } };
    assert.equal(buildLocalView(obs({ mode: 'emergent', peers: [a], self_figures: slightlyBetter }), previous).coordinator!.node_id, 'node-a');
    const muchBetter = { queue_depth: 0, queue_capacity: 10, cpu: 0, mem_free_mb: 1e6, uptime_s: 1e6, peers_connected: 100, models_held: 10 };
    assert.equal(buildLocalView(obs({ mode: 'emergent', peers: [a], self_figures: muchBetter }), previous).coordinator!.node_id, 'node-m');
  });
});
