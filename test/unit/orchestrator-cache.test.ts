// The decision cache: what makes two situations "similar" (the key), and lru-cache's limits —
// hits, expiry after ttl_seconds on the orchestrator's clock, eviction past max_entries.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DecisionCache, cacheKey, metricsBuckets, normaliseContext } from '../../src/actors/orchestrator/cache.ts';
import type { Clock } from '../../src/runtime/clock.ts';
import type { Decision, MetricsSnapshot } from '../../src/decide/heuristics.ts';

/** A clock that moves only when told (timers are not needed by the cache). */
function manualClock(): Clock & { advance(ms: number): void } {
  let t = 1_000_000;
  return {
    now: () => t,
    advance: (ms) => { t += ms; },
    setTimeout: () => ({}), clearTimeout: () => {}, setInterval: () => ({}), clearInterval: () => {},
  };
}

const m = (over: Partial<MetricsSnapshot> = {}): MetricsSnapshot => ({ queue_depth: 85, queue_capacity: 100, cpu: 0.3, mem_free_mb: 4000, peers: 3, ...over });
const wait: Decision = { action: 'wait', params: { retry_after_ms: 5000 }, confidence: 0.5, reasoning: 'r' };

describe('decision cache key', () => {
  it('ignores word order, case, stop words, numbers and punctuation in the context', () => {
    assert.equal(normaliseContext('High CPU usage, queue at 85%'), normaliseContext('the queue at 87 %; cpu usage HIGH'));
    assert.notEqual(normaliseContext('queue full'), normaliseContext('queue empty'));
  });

  it('puts similar metrics in one bucket and different ones apart', () => {
    assert.equal(metricsBuckets(m({ queue_depth: 81, cpu: 0.26 })), metricsBuckets(m({ queue_depth: 89, cpu: 0.49 })));
    assert.notEqual(metricsBuckets(m({ queue_depth: 81 })), metricsBuckets(m({ queue_depth: 95 })));
    assert.notEqual(metricsBuckets(m({ mem_free_mb: 100 })), metricsBuckets(m()));
    assert.notEqual(metricsBuckets(m({ peers: 0 })), metricsBuckets(m({ peers: 1 })));
    assert.equal(metricsBuckets(m({ peers: 4 })), metricsBuckets(m({ peers: 7 })));
  });

  it('keys on the decision type, the hints and the buckets', () => {
    const k = cacheKey('infrastructure', 'high CPU usage, queue full', m());
    assert.equal(k, cacheKey('infrastructure', 'queue full, high cpu usage', m({ queue_depth: 86 })));
    assert.notEqual(k, cacheKey('context', 'high CPU usage, queue full', m()));
    assert.notEqual(k, cacheKey('infrastructure', 'high CPU usage', m()));
    assert.match(k, /^infrastructure\|high_cpu\+queue_full\|q8,c1,mok,p2,f0,l0\|/);
  });
});

describe('DecisionCache', () => {
  const settings = { enabled: true, max_entries: 2, ttl_seconds: 300 };

  it('hits within ttl_seconds and expires after, counting hits and misses', () => {
    const clock = manualClock();
    const cache = new DecisionCache(settings, clock);
    assert.equal(cache.get('a'), undefined);
    cache.set('a', { decision: wait, from: 'd-1' });
    clock.advance(299_000);
    assert.equal(cache.get('a')?.from, 'd-1');
    clock.advance(2_000);
    assert.equal(cache.get('a'), undefined);
    assert.deepEqual([cache.hits, cache.misses], [1, 2]);
  });

  it('keeps at most max_entries, dropping the least recently used', () => {
    const cache = new DecisionCache(settings, manualClock());
    cache.set('a', { decision: wait, from: 'd-a' });
    cache.set('b', { decision: wait, from: 'd-b' });
    cache.get('a');
    cache.set('c', { decision: wait, from: 'd-c' });
    assert.equal(cache.size, 2);
    assert.equal(cache.get('b'), undefined);
    assert.equal(cache.get('a')?.from, 'd-a');
  });

  it('neither stores nor answers when disabled', () => {
    const cache = new DecisionCache({ ...settings, enabled: false }, manualClock());
    cache.set('a', { decision: wait, from: 'd-1' });
    assert.equal(cache.get('a'), undefined);
    assert.equal(cache.size, 0);
  });
});
