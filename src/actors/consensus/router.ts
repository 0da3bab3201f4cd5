// The decision router and makeDistributedDecision (the seed's entry point).
// Per decision it picks a strategy — heuristic, LLM or hybrid — from the job's value against
// high_value_threshold and its complexity against complexity_threshold, and a path — local, or
// consensus for critical and high-value decisions and for every decision in fully_decentralized
// mode — and returns the decision with the strategy used and the latency, counting both.
// Side effects (the LLM, the consensus round trip, metrics) are injected, so the same router runs
// in the actor and in a simulator.
import type { OrchestrationMode } from '../../config/types.ts';
import { DECISION_TYPES_WIRE } from '../../protocol/index.ts';
import { decideHeuristically, type MetricsSnapshot } from '../../decide/heuristics.ts';
import type { ConsensusResult, ProposalInput } from './decisions.ts';
import type { NodeRef } from './core.ts';
import { CodedError } from '../../errors/registry.ts';

export type DecisionType = (typeof DECISION_TYPES_WIRE)[number];
export const DECISION_TYPES: readonly DecisionType[] = DECISION_TYPES_WIRE;
export type DecisionStrategy = 'heuristic' | 'llm' | 'hybrid';

/** A node that claimed a job, as the router ranks it (job_claim's figures). */
export interface RoutingCandidate {
  peer_id: string;
  /** Free slots for the job's model now. */
  capacity?: number;
  est_start_ms?: number;
  queue_depth?: number;
  /**
   * Expected completion of this job on the claimant, ms from the claim (its wait plus the job's
   * expected service time at its speed). When every claim carries it, it ranks first: on
   * heterogeneous nodes a free slow node can finish later than a fast one with a short queue
   * (the placement simulator measured it — BENCHMARKS.md, "Placement").
   */
  est_done_ms?: number;
}

/** The seed's DecisionContext. */
export interface DecisionContext {
  /** Defaults to the decision type asked for. */
  decision_type?: DecisionType;
  is_critical?: boolean;
  /** Same unit as a work offer's value (DEFAULT_JOB_VALUE = 1). */
  job_value?: number;
  /** In [0, 1]. */
  complexity_score?: number;
  /** In [0, 1]: raises the consensus stimulus. */
  urgency?: number;
  /** Free text for the heuristics / the LLM, e.g. "high CPU usage, queue full". */
  description?: string;
  /** The job's model: decides within that model's group when it is active. */
  model?: string;
  /** job_routing: the claimants to choose from. */
  candidates?: RoutingCandidate[];
  /** infrastructure / context: the figures to decide on (else the node's own, gathered). */
  metrics?: MetricsSnapshot;
}

export interface LocalDecision {
  /** job_routing: the chosen executor's peer id; otherwise the action. */
  choice: string;
  params: Record<string, unknown>;
  confidence: number;
  reasoning: string;
}

export interface DistributedDecision {
  id: string;
  decision_type: DecisionType;
  decision: LocalDecision;
  /** The strategy that produced `decision`. */
  strategy_used: DecisionStrategy;
  /** The strategy the router picked; differs from strategy_used after a fallback. */
  strategy_selected: DecisionStrategy;
  /** Why strategy_used is not strategy_selected. */
  fallback?: string;
  path: 'local' | 'consensus';
  /** Local decisions stand as taken; consensus ones only when accepted. */
  agreed: boolean;
  consensus?: ConsensusResult;
  group: string;
  coordinator?: NodeRef;
  epoch: number;
  latency_ms: number;
  decided_at: number;
}

export interface RouterThresholds {
  mode: OrchestrationMode;
  high_value_threshold: number;
  complexity_threshold: number;
}

/**
 * | job_value ≥ high_value_threshold | complexity_score > complexity_threshold | strategy  |
 * |----------------------------------|-----------------------------------------|-----------|
 * | no                               | no                                      | heuristic |
 * | yes                              | no                                      | hybrid    |
 * | no                               | yes                                     | hybrid    |
 * | yes                              | yes                                     | llm       |
 */
export function selectStrategy(ctx: Pick<DecisionContext, 'job_value' | 'complexity_score'>, t: Pick<RouterThresholds, 'high_value_threshold' | 'complexity_threshold'>): DecisionStrategy {
  const valuable = (ctx.job_value ?? 0) >= t.high_value_threshold;
  const complex = (ctx.complexity_score ?? 0) > t.complexity_threshold;
  return valuable && complex ? 'llm' : valuable || complex ? 'hybrid' : 'heuristic';
}

/** Critical and high-value decisions, and every decision in fully_decentralized mode, go to consensus. */
export function needsConsensus(ctx: Pick<DecisionContext, 'is_critical' | 'job_value'>, t: Pick<RouterThresholds, 'mode' | 'high_value_threshold'>): boolean {
  return t.mode === 'fully_decentralized' || ctx.is_critical === true || (ctx.job_value ?? 0) >= t.high_value_threshold;
}

/**
 * Job routing by heuristic — the job path's own ranking (src/client/submit.ts), so that the
 * offerer can hand its pick to the router unchanged: among claimants not known dead, one with a
 * free slot, then the earliest estimated start, then the shortest queue; then the higher
 * affinity, then the peer id (so every node ranks alike).
 */
export function routeJob(candidates: readonly RoutingCandidate[], known: { dead(peer: string): boolean; affinity(peer: string): number }): LocalDecision | undefined {
  const live = candidates.filter((c) => !known.dead(c.peer_id));
  const free = (c: RoutingCandidate) => Number((c.capacity ?? 0) > 0);
  const start = (c: RoutingCandidate) => c.est_start_ms ?? Infinity;
  const done = live.length > 0 && live.every((c) => Number.isFinite(c.est_done_ms))
    ? (c: RoutingCandidate) => c.est_done_ms! : () => 0;
  const ranked = [...live].sort((a, b) => done(a) - done(b)
    || free(b) - free(a)
    || start(a) - start(b)
    || (a.queue_depth ?? Infinity) - (b.queue_depth ?? Infinity)
    || known.affinity(b.peer_id) - known.affinity(a.peer_id)
    || (a.peer_id < b.peer_id ? -1 : a.peer_id > b.peer_id ? 1 : 0));
  const best = ranked[0];
  if (!best) return undefined;
  const next = ranked[1];
  const skipped = candidates.length - live.length;
  return {
    choice: best.peer_id,
    params: { executor: best.peer_id, capacity: best.capacity ?? 0, est_start_ms: best.est_start_ms ?? null, queue_depth: best.queue_depth ?? null },
    // Clear-cut when it is the only one, or it has room and the next does not, or starts sooner.
    confidence: !next || free(best) > free(next) || start(best) < start(next) ? 0.9 : 0.7,
    reasoning: `${ranked.length} live claimant(s)${skipped ? `, ${skipped} known dead skipped` : ''}: a free slot, earliest start, shortest queue`,
  };
}

/** The neutral figures used when a decision has no metrics and none can be gathered. */
export const NEUTRAL_METRICS: MetricsSnapshot = { queue_depth: 0, queue_capacity: 100, cpu: 0.5, mem_free_mb: 4096, peers: 1 };

export interface LlmAnswer extends LocalDecision { source: string }

export interface RouterDeps {
  thresholds: RouterThresholds;
  now(): number;
  newId(): string;
  /** The node's own metrics for infrastructure / context decisions without metrics. */
  metrics?(): Promise<MetricsSnapshot>;
  /** Ask the LLM (the orchestrator actor); rejects or answers a non-LLM source when none is there. */
  llm?(type: DecisionType, ctx: DecisionContext): Promise<LlmAnswer>;
  /** Run a consensus decision among the group. */
  consensus(input: ProposalInput): Promise<ConsensusResult>;
  /** Which group decides, its coordinator and epoch; and what is known of peers for routing. */
  placement(ctx: DecisionContext): { group: string; coordinator?: NodeRef; epoch: number };
  known: { dead(peer: string): boolean; affinity(peer: string): number };
}

export interface StrategyStats { count: number; fallbacks: number; total_latency_ms: number; max_latency_ms: number }
export interface RouterStats {
  by_strategy: Record<DecisionStrategy, StrategyStats>;
  by_path: { local: number; consensus: number };
  consensus: { accepted: number; rejected: number; no_quorum: number };
  failed: number;
}

/** Most recent decisions kept for status pages. */
export const RECENT_DECISIONS = 100;

export class DecisionRouterError extends CodedError {
  override name = 'DecisionRouterError';
  constructor(message: string, options?: ErrorOptions) { super('decision_router_failed', message, options); }
}

/** The seed's DistributedOrchestrator: makeDistributedDecision plus the counters. */
export class DistributedOrchestrator {
  private readonly stats: RouterStats = {
    by_strategy: { heuristic: zero(), llm: zero(), hybrid: zero() },
    by_path: { local: 0, consensus: 0 },
    consensus: { accepted: 0, rejected: 0, no_quorum: 0 },
    failed: 0,
  };
  private readonly recentList: DistributedDecision[] = [];

  constructor(private readonly deps: RouterDeps) {}

  async makeDistributedDecision(context: DecisionContext, type: DecisionType): Promise<DistributedDecision> {
    const started = this.deps.now();
    if (!DECISION_TYPES.includes(type)) throw new DecisionRouterError(`decision type must be one of ${DECISION_TYPES.join(', ')}; got ${String(type)}`);
    const ctx: DecisionContext = { ...context, decision_type: context.decision_type ?? type };
    const t = this.deps.thresholds;
    const selected = selectStrategy(ctx, t);
    let made: { decision: LocalDecision; used: DecisionStrategy; fallback?: string };
    try {
      made = await this.decide(type, ctx, selected);
    } catch (err) {
      this.stats.failed++;
      throw err;
    }
    const place = this.deps.placement(ctx);
    const id = this.deps.newId();
    let consensus: ConsensusResult | undefined;
    if (needsConsensus(ctx, t)) {
      consensus = await this.deps.consensus({
        id, group: place.group, decision_type: type, choice: made.decision.choice,
        params: safeJson(made.decision.params), confidence: made.decision.confidence, strategy: made.used,
        critical: ctx.is_critical === true,
        ...(ctx.job_value !== undefined ? { job_value: ctx.job_value } : {}),
        ...(ctx.complexity_score !== undefined ? { complexity: ctx.complexity_score } : {}),
        ...(ctx.urgency !== undefined ? { urgency: ctx.urgency } : {}),
      });
      this.stats.consensus[consensus.outcome]++;
    }
    const now = this.deps.now();
    const result: DistributedDecision = {
      id, decision_type: type, decision: made.decision, strategy_used: made.used, strategy_selected: selected,
      ...(made.fallback ? { fallback: made.fallback } : {}),
      path: consensus ? 'consensus' : 'local',
      agreed: consensus ? consensus.outcome === 'accepted' : true,
      ...(consensus ? { consensus } : {}),
      group: place.group, ...(place.coordinator ? { coordinator: place.coordinator } : {}), epoch: place.epoch,
      latency_ms: now - started, decided_at: now,
    };
    const s = this.stats.by_strategy[made.used];
    s.count++;
    if (made.fallback) s.fallbacks++;
    s.total_latency_ms += result.latency_ms;
    s.max_latency_ms = Math.max(s.max_latency_ms, result.latency_ms);
    this.stats.by_path[result.path]++;
    this.recentList.push(result);
    if (this.recentList.length > RECENT_DECISIONS) this.recentList.shift();
    return result;
  }

  counters(): RouterStats { return structuredClone(this.stats); }
  /** Newest first. */
  recent(limit = RECENT_DECISIONS): DistributedDecision[] { return limit > 0 ? this.recentList.slice(-limit).reverse() : []; }

  private async decide(type: DecisionType, ctx: DecisionContext, selected: DecisionStrategy): Promise<{ decision: LocalDecision; used: DecisionStrategy; fallback?: string }> {
    if (selected === 'heuristic') return { decision: await this.heuristic(type, ctx), used: 'heuristic' };
    const [llm, heuristic] = await Promise.all([
      this.askLlm(type, ctx),
      selected === 'hybrid' ? this.heuristic(type, ctx) : Promise.resolve(undefined),
    ]);
    if ('why' in llm) return { decision: heuristic ?? await this.heuristic(type, ctx), used: 'heuristic', fallback: llm.why };
    if (selected === 'llm' || !heuristic) return { decision: llm.answer, used: 'llm' };
    // Hybrid: the heuristic's choice checked by the LLM; agreement strengthens it, otherwise
    // the more confident one stands.
    if (llm.answer.choice === heuristic.choice) {
      return { decision: { ...heuristic, confidence: Math.max(heuristic.confidence, llm.answer.confidence), reasoning: `${heuristic.reasoning}; the LLM agrees` }, used: 'hybrid' };
    }
    const pick = llm.answer.confidence > heuristic.confidence ? llm.answer : heuristic;
    return { decision: { ...pick, reasoning: `${pick.reasoning} (heuristic said ${heuristic.choice}, LLM ${llm.answer.choice})` }, used: 'hybrid' };
  }

  private async askLlm(type: DecisionType, ctx: DecisionContext): Promise<{ answer: LocalDecision } | { why: string }> {
    if (!this.deps.llm) return { why: 'no LLM available' };
    let a: LlmAnswer;
    try {
      a = await this.deps.llm(type, ctx);
    } catch (err) {
      return { why: `LLM unavailable: ${(err as Error).message ?? String(err)}` };
    }
    if (a.source !== 'llm') return { why: `the orchestrator answered by ${a.source}, not an LLM` };
    if (type === 'job_routing' && !(ctx.candidates ?? []).some((c) => c.peer_id === a.choice)) return { why: 'the LLM named no claimant' };
    return { answer: { choice: a.choice, params: a.params, confidence: a.confidence, reasoning: a.reasoning } };
  }

  private async heuristic(type: DecisionType, ctx: DecisionContext): Promise<LocalDecision> {
    if (type === 'job_routing') {
      const r = routeJob(ctx.candidates ?? [], this.deps.known);
      if (!r) throw new DecisionRouterError('job_routing needs at least one live candidate');
      return r;
    }
    const metrics = ctx.metrics ?? (this.deps.metrics ? await this.deps.metrics().catch(() => NEUTRAL_METRICS) : NEUTRAL_METRICS);
    const { rule, action, params, confidence, reasoning } = decideHeuristically(metrics, type, ctx.description);
    return { choice: action, params: { ...params, rule }, confidence, reasoning };
  }
}

function zero(): StrategyStats { return { count: 0, fallbacks: 0, total_latency_ms: 0, max_latency_ms: 0 }; }

/** JSON of the decision's params, cut to what a proposal carries (2 KiB). */
function safeJson(params: Record<string, unknown>): string {
  let s: string;
  try { s = JSON.stringify(params); } catch { s = '{}'; }
  return s.length <= 2048 ? s : '{}';
}
