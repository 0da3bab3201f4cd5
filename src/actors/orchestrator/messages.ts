// What the orchestrator actor accepts and answers.
import type { RequestEvent } from '../../runtime/actor.ts';
import type { OrchestratorAction } from '../../config/types.ts';
import type { DecisionType, MetricsSnapshot } from './heuristics.ts';
import type { Outcome } from './safety.ts';

export type DecideRequest = {
  type: 'orchestrator.decide';
  decision_type: DecisionType;
  /** Free text, e.g. "high CPU usage, queue full"; its keywords steer the heuristics. */
  context?: string;
  /** Absent: the orchestrator gathers them (network.status, scheduler.status, host load). */
  metrics?: MetricsSnapshot;
};

/** One decision, as answered and as kept in the recent list. Nothing is executed yet. */
export interface DecisionRecord {
  id: string;
  decision_type: DecisionType;
  action: OrchestratorAction;
  params: Record<string, unknown>;
  /** After the safety cap. */
  confidence: number;
  reasoning: string;
  source: 'heuristic';
  /** The heuristic rule that fired. */
  rule: string;
  outcome: Outcome;
  /** Why it was held or refused (or that confidence was capped). */
  outcome_reason?: string;
  latency_ms: number;
  ts: number;
  context?: string;
  metrics: MetricsSnapshot;
  /** Metric sources that did not answer (their figures are fallbacks). */
  metrics_missing: string[];
}

export interface RecentDecisions { decisions: DecisionRecord[] }

export type OrchestratorIn =
  | RequestEvent<DecideRequest>
  | RequestEvent<{ type: 'orchestrator.recent'; limit?: number }>;

/** An orchestrator.decide whose decision_type or metrics cannot be used. */
export class InvalidDecisionRequestError extends Error {
  override name = 'InvalidDecisionRequestError';
}
