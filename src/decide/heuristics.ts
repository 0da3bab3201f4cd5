// The orchestrator's heuristic policy: a metrics snapshot + optional free-text
// context → one decision. Pure and deterministic; the fallback whenever no LLM answers.
import type { OrchestratorAction } from '../config/types.ts';

export type DecisionType = 'infrastructure' | 'context' | 'job_routing';
export const DECISION_TYPES: readonly DecisionType[] = ['infrastructure', 'context', 'job_routing'];

/** What the node looks like right now. `cpu` is load per core (1.0 = every core busy). */
export interface MetricsSnapshot {
  queue_depth: number;
  queue_capacity: number;
  cpu: number;
  mem_free_mb: number;
  /** Connected peers. */
  peers: number;
  failures_recent?: number;
  latency_ms?: number;
}

export interface Decision {
  action: OrchestratorAction;
  params: Record<string, unknown>;
  confidence: number;
  reasoning: string;
}

// Thresholds of the rules below, named so the table reads as prose.
export const QUEUE_HIGH = 0.8;          // queue load above which the queue is "high"
export const CPU_HIGH = 0.7;            // load per core at or above which the CPU is "high"
export const MEM_LOW_MB = 512;          // free memory below which memory is "low"
export const LATENCY_HIGH_MS = 500;     // gossip/peer latency above which it is "high"
export const FAILURES_HIGH = 3;         // recent failures at or above which the swarm is "failing"
export const SCALE_FACTOR = 1.5;        // scale_queue grows capacity by this factor (at least +1)
export const HINT_ONLY_PENALTY = 0.15;  // confidence lost when a rule fires on words, not figures

/** Facts a rule can test: each measured, hinted by the context text, or both. */
export interface Signals {
  queue_load: number;
  queue_high: boolean;
  queue_full: boolean;
  cpu_high: boolean;
  mem_low: boolean;
  isolated: boolean;
  partition: boolean;
  coordinator_down: boolean;
  latency_high: boolean;
  failing: boolean;
  /** Facts that only the context text asserts (no measurement backs them). */
  hinted_only: Set<keyof Signals>;
}

export type Hint = 'high_cpu' | 'queue_full' | 'queue_high' | 'partition' | 'coordinator_down' | 'low_memory' | 'high_latency';

const HINT_PATTERNS: ReadonlyArray<[Hint, RegExp]> = [
  ['high_cpu', /\b(high|heavy|max(ed)?)\s+cpu\b|\bcpu\s+(is\s+)?(high|saturated|overload(ed)?|busy)\b/i],
  ['queue_full', /\bqueue\s+(is\s+)?(full|saturated|overflow(ing)?)\b|\bfull\s+queue\b/i],
  ['queue_high', /\bqueue\s+(at\s+)?(8\d|9\d|100)\s*%|\bqueue\s+(is\s+)?(high|growing|backed\s+up)\b/i],
  ['partition', /\bpartition(ed)?\b|\bsplit[- ]brain\b|\bnetwork\s+split\b/i],
  ['coordinator_down', /\bcoordinator\s+(is\s+)?(down|dead|lost|gone|unreachable|failed)\b|\bno\s+coordinator\b/i],
  ['low_memory', /\b(low|out\s+of)\s+mem(ory)?\b|\bmemory\s+(is\s+)?(low|exhausted|pressure)\b|\boom\b/i],
  ['high_latency', /\b(high|slow)\s+latency\b|\blatency\s+(is\s+)?(high|spik(e|ing))\b|\bslow\s+(gossip|network)\b/i],
];

/** Keyword hints in free text ("high CPU usage, queue full" → high_cpu, queue_full). */
export function parseHints(context: string | undefined): Set<Hint> {
  const hints = new Set<Hint>();
  if (!context) return hints;
  for (const [hint, re] of HINT_PATTERNS) if (re.test(context)) hints.add(hint);
  return hints;
}

const finite = (n: number | undefined, dflt = 0) => (typeof n === 'number' && Number.isFinite(n) ? n : dflt);

/** Combines measured figures and text hints into the facts the rules test. */
export function signals(m: MetricsSnapshot, hints: Set<Hint>): Signals {
  const depth = Math.max(0, finite(m.queue_depth));
  const cap = Math.max(0, finite(m.queue_capacity));
  const queue_load = cap > 0 ? depth / cap : depth > 0 ? 1 : 0;
  const measured = {
    queue_full: queue_load >= 1,
    queue_high: queue_load > QUEUE_HIGH,
    cpu_high: finite(m.cpu) >= CPU_HIGH,
    mem_low: finite(m.mem_free_mb, Infinity) < MEM_LOW_MB,
    latency_high: finite(m.latency_ms) > LATENCY_HIGH_MS,
  };
  const hinted = {
    queue_full: hints.has('queue_full'),
    queue_high: hints.has('queue_full') || hints.has('queue_high'),
    cpu_high: hints.has('high_cpu'),
    mem_low: hints.has('low_memory'),
    latency_high: hints.has('high_latency'),
  };
  const hinted_only = new Set<keyof Signals>();
  for (const k of Object.keys(measured) as Array<keyof typeof measured>) if (hinted[k] && !measured[k]) hinted_only.add(k);
  return {
    queue_load,
    queue_full: measured.queue_full || hinted.queue_full,
    queue_high: measured.queue_high || hinted.queue_high,
    cpu_high: measured.cpu_high || hinted.cpu_high,
    mem_low: measured.mem_low || hinted.mem_low,
    latency_high: measured.latency_high || hinted.latency_high,
    isolated: finite(m.peers) <= 0,
    partition: hints.has('partition'),
    coordinator_down: hints.has('coordinator_down'),
    failing: finite(m.failures_recent) >= FAILURES_HIGH,
    hinted_only,
  };
}

interface Rule {
  name: string;
  /** Facts the rule relies on; if any is hinted only, confidence drops by HINT_ONLY_PENALTY. */
  uses: Array<keyof Signals>;
  when(s: Signals, type: DecisionType): boolean;
  action: OrchestratorAction;
  confidence: number;
  params(s: Signals, m: MetricsSnapshot): Record<string, unknown>;
  why: string;
}

function scaledCapacity(m: MetricsSnapshot): number {
  const cap = Math.max(1, Math.floor(finite(m.queue_capacity, 1)));
  return Math.max(cap + 1, Math.ceil(cap * SCALE_FACTOR));
}

/**
 * The policy, first match wins. Read top to bottom:
 *
 * | rule                  | when                                          | action          | conf |
 * |-----------------------|-----------------------------------------------|-----------------|------|
 * | coordinator_down      | text says coordinator down, peers > 0         | start_election  | 0.85 |
 * | partition             | text says partition, peers > 0                | adjust_gossip   | 0.65 |
 * | scale_queue           | queue > 80 % and CPU < 0.7 and memory ok      | scale_queue     | 0.75 |
 * | offload               | queue > 80 % and (CPU high or memory low),    | migrate_context | 0.70 |
 * |                       | peers > 0                                     |                 |      |
 * | overloaded_alone      | queue > 80 % and (CPU high or memory low),    | wait            | 0.60 |
 * |                       | no peers                                      |                 |      |
 * | context_memory        | decision type 'context', memory low, peers>0  | migrate_context | 0.65 |
 * | degraded_links        | latency > 500 ms or ≥ 3 recent failures,      | adjust_gossip   | 0.60 |
 * |                       | peers > 0                                     |                 |      |
 * | isolated              | no peers                                      | wait            | 0.80 |
 * | nominal               | otherwise                                     | wait            | 0.50 |
 *
 * "queue > 80 %" also holds when the text says "queue full" / "queue at 9x %"; "CPU high" when it
 * says "high CPU"; and so on (see parseHints). A rule that fires only because of such words,
 * with no figure backing it, loses HINT_ONLY_PENALTY confidence.
 */
export const RULES: readonly Rule[] = [
  {
    name: 'coordinator_down', uses: [], action: 'start_election', confidence: 0.85,
    when: (s) => s.coordinator_down && !s.isolated,
    params: () => ({ reason: 'coordinator_down' }),
    why: 'the coordinator is reported down and peers are reachable: elect a new one',
  },
  {
    name: 'partition', uses: [], action: 'adjust_gossip', confidence: 0.65,
    when: (s) => s.partition && !s.isolated,
    params: () => ({ heartbeat_factor: 0.5, reason: 'partition' }),
    why: 'a partition is reported: heartbeat faster to detect the split and the heal sooner',
  },
  {
    name: 'scale_queue', uses: ['queue_high'], action: 'scale_queue', confidence: 0.75,
    when: (s) => s.queue_high && !s.cpu_high && !s.mem_low,
    params: (_s, m) => ({ capacity: scaledCapacity(m), from: Math.floor(finite(m.queue_capacity)) }),
    why: 'the queue is nearly full while CPU and memory have headroom: accept more work',
  },
  {
    name: 'offload', uses: ['queue_high', 'cpu_high', 'mem_low'], action: 'migrate_context', confidence: 0.7,
    when: (s) => s.queue_high && (s.cpu_high || s.mem_low) && !s.isolated,
    params: (s) => ({ target: 'least_loaded_peer', reason: s.cpu_high ? 'cpu' : 'memory', unload_source: !s.cpu_high }),
    why: 'the queue is nearly full and the node is saturated: move work to a less loaded peer',
  },
  {
    name: 'overloaded_alone', uses: ['queue_high', 'cpu_high', 'mem_low'], action: 'wait', confidence: 0.6,
    when: (s) => s.queue_high && (s.cpu_high || s.mem_low) && s.isolated,
    params: () => ({ retry_after_ms: 5000 }),
    why: 'the node is saturated and has no peer to offload to: wait for the queue to drain',
  },
  {
    name: 'context_memory', uses: ['mem_low'], action: 'migrate_context', confidence: 0.65,
    when: (s, type) => type === 'context' && s.mem_low && !s.isolated,
    // Memory is what is short here: the source gives its copy up once the target serves it.
    params: () => ({ target: 'peer_with_most_memory', reason: 'memory', unload_source: true }),
    why: 'memory is low for holding contexts: move a context to a peer with more memory',
  },
  {
    name: 'degraded_links', uses: ['latency_high'], action: 'adjust_gossip', confidence: 0.6,
    when: (s) => (s.latency_high || s.failing) && !s.isolated,
    params: (s) => ({ heartbeat_factor: s.failing ? 0.5 : 1.5, reason: s.failing ? 'failures' : 'latency' }),
    why: 'peer links are slow or failing: retune gossip timing',
  },
  {
    name: 'isolated', uses: [], action: 'wait', confidence: 0.8,
    when: (s) => s.isolated,
    params: () => ({ retry_after_ms: 5000 }),
    why: 'no connected peers: nothing to coordinate with or migrate to',
  },
  {
    name: 'nominal', uses: [], action: 'wait', confidence: 0.5,
    when: () => true,
    params: () => ({}),
    why: 'no rule calls for action',
  },
];

/** Decides by the first rule of RULES that applies. */
export function decideHeuristically(metrics: MetricsSnapshot, type: DecisionType, context?: string): Decision & { rule: string } {
  const s = signals(metrics, parseHints(context));
  const rule = RULES.find((r) => r.when(s, type))!; // 'nominal' always applies
  const relied = rule.uses.filter((k) => s[k] === true);
  const onWordsOnly = relied.length > 0 && relied.every((k) => s.hinted_only.has(k));
  const confidence = Math.max(0, rule.confidence - (onWordsOnly ? HINT_ONLY_PENALTY : 0));
  const figures = `queue ${Math.round(s.queue_load * 100)}% (${metrics.queue_depth}/${metrics.queue_capacity}), `
    + `cpu ${finite(metrics.cpu).toFixed(2)}/core, ${Math.round(finite(metrics.mem_free_mb))} MB free, ${metrics.peers} peers`;
  const reasoning = `[${type}] ${rule.name}: ${rule.why} (${figures}${onWordsOnly ? '; from the context text only' : ''})`;
  return { action: rule.action, params: rule.params(s, metrics), confidence, reasoning, rule: rule.name };
}
