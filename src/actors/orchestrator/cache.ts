// The decision cache (`[orchestrator.cache]`): LLM decisions reused for similar situations,
// so a storm of similar requests costs one generation. lru-cache holds them (max_entries,
// ttl_seconds on the orchestrator's clock); the key is what makes situations "similar".
import { LRUCache } from 'lru-cache';
import type { OrchestratorConfig } from '../../config/types.ts';
import type { Clock } from '../../runtime/clock.ts';
import { parseHints, MEM_LOW_MB, type Decision, type DecisionType, type MetricsSnapshot } from '../../decide/heuristics.ts';

/** Words that do not change what a context says ("the queue is full" ≈ "queue full"). */
const STOP_WORDS = new Set([
  'a', 'an', 'the', 'is', 'are', 'was', 'be', 'been', 'at', 'of', 'on', 'in', 'to', 'and', 'or', 'with', 'for', 'it', 'its',
  'this', 'that', 'very', 'now', 'currently', 'detected', 'seems', 'we', 'our', 'my', 'there', 'some',
]);

/** Context text → its sorted content words, numbers and punctuation dropped. */
export function normaliseContext(context: string | undefined): string {
  if (!context) return '';
  const words = context.toLowerCase().replace(/[^a-z\s]+/g, ' ').split(/\s+/).filter((w) => w && !STOP_WORDS.has(w));
  return [...new Set(words)].sort().join(' ');
}

const finite = (n: number | undefined, dflt = 0) => (typeof n === 'number' && Number.isFinite(n) ? n : dflt);
/** 0, 1, 2–3, 4–7, 8–15, … → 0, 1, 2, 3, 4, … */
const log2Bucket = (n: number) => (n <= 0 ? 0 : Math.floor(Math.log2(n)) + 1);

/**
 * Metrics in buckets: queue load in tenths (capped at 10 = full), CPU load per core in
 * quarters (capped at 2 cores' worth), memory low or not (MEM_LOW_MB), peers and recent
 * failures in powers of two, peer round trip below 100 ms / below 500 ms / above.
 */
export function metricsBuckets(m: MetricsSnapshot): string {
  const cap = finite(m.queue_capacity);
  const load = cap > 0 ? finite(m.queue_depth) / cap : finite(m.queue_depth) > 0 ? 1 : 0;
  const latency = finite(m.latency_ms);
  return [
    `q${Math.min(10, Math.floor(load * 10))}`,
    `c${Math.min(8, Math.floor(finite(m.cpu) * 4))}`,
    `m${finite(m.mem_free_mb, Infinity) < MEM_LOW_MB ? 'low' : 'ok'}`,
    `p${log2Bucket(finite(m.peers))}`,
    `f${log2Bucket(finite(m.failures_recent))}`,
    `l${latency < 100 ? 0 : latency < 500 ? 1 : 2}`,
  ].join(',');
}

/** The key: decision type | keyword hints | metric buckets | normalised words of the context. */
export function cacheKey(type: DecisionType, context: string | undefined, metrics: MetricsSnapshot): string {
  return [type, [...parseHints(context)].sort().join('+'), metricsBuckets(metrics), normaliseContext(context)].join('|');
}

export interface CachedDecision {
  decision: Decision;
  /** Id of the decision that produced it. */
  from: string;
}

export class DecisionCache {
  private readonly lru: LRUCache<string, CachedDecision>;
  hits = 0;
  misses = 0;

  constructor(readonly settings: OrchestratorConfig['cache'], clock: Clock) {
    this.lru = new LRUCache<string, CachedDecision>({
      max: settings.max_entries,
      ttl: settings.ttl_seconds * 1000,
      // TTL on the orchestrator's clock, so simulated time expires entries too; read it every
      // time (lru-cache otherwise reuses one reading for ttlResolution ms of real time).
      perf: { now: () => clock.now() },
      ttlResolution: 0,
    });
  }

  get(key: string): CachedDecision | undefined {
    if (!this.settings.enabled) return undefined;
    const hit = this.lru.get(key);
    if (hit) this.hits++; else this.misses++;
    return hit;
  }

  set(key: string, value: CachedDecision): void {
    if (this.settings.enabled) this.lru.set(key, value);
  }

  get size(): number { return this.lru.size; }
}
