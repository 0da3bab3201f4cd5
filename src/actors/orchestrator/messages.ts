// What the orchestrator actor accepts and answers, and the shapes of its decisions, answers to
// `ask`, metrics and status (also the bodies of the HTTP routes under /orchestrator).
import type { RequestEvent } from '../../runtime/actor.ts';
import type { Call, DefineProtocol } from '../../runtime/protocol.ts';
import type { OrchestratorAction, OrchestratorDevice, OrchestratorModelType } from '../../config/types.ts';
import type { DecisionType, MetricsSnapshot } from '../../decide/heuristics.ts';

// Part of the protocol: what a decision request may name.
export { DECISION_TYPES, type DecisionType, type MetricsSnapshot } from '../../decide/heuristics.ts';
import type { Verdict } from './safety.ts';
import type { Interpretation } from './language.ts';
import type { UsedDevice } from './llm.ts';
import { CodedError } from '../../errors/registry.ts';

/** How many decisions `recent` can show (held ones are kept until they resolve, whatever this says). */
export const RECENT_LIMIT = 100;

/** How long the orchestrator waits for the actor that owns an action or answers a question. */
export const OWNER_TIMEOUT_MS = 2000;

/** Reply timeout for a request to the orchestrator that may run the model (decide, ask). */
export function orchestratorReplyTimeoutMs(decisionTimeoutMs: number): number {
  return decisionTimeoutMs + 3 * OWNER_TIMEOUT_MS + 5000;
}

export type DecisionSource = 'llm' | 'heuristic' | 'cache' | 'user';

/**
 * Where a decision ended up:
 * - executed: accepted (or confirmed) and carried out by the actor owning the action;
 * - failed: accepted or confirmed, but its owner could not carry it out (error, no answer);
 * - held: waiting for `confirm` / `reject` (safety.confirmation_timeout_secs);
 * - refused: by the safety rules (not allowed, not available, parameters out of bounds);
 * - rejected: held, then rejected by an operator;
 * - expired: held, and neither confirmed nor rejected in time;
 * - not_executed: decided by a local orchestrator (no running node to act on).
 */
export type DecisionOutcome = 'executed' | 'failed' | 'held' | 'refused' | 'rejected' | 'expired' | 'not_executed';

/** Why an LLM decision fell back to the heuristics. */
export type FallbackReason = 'timeout' | 'parse' | 'invalid' | 'error';

export interface ExecutionResult {
  ok: boolean;
  /** What was done ("queue capacity 100 → 150") or why it failed. */
  detail: string;
  /** The owning actor's answer, when it gave one. */
  result?: unknown;
}

export interface DecisionRecord {
  id: string;
  decision_type: DecisionType;
  action: OrchestratorAction;
  params: Record<string, unknown>;
  /** After the safety cap. */
  confidence: number;
  reasoning: string;
  source: DecisionSource;
  /** The heuristic rule that fired (source heuristic). */
  rule?: string;
  /** Source heuristic although a model is configured: why the model's answer was not used. */
  fallback_reason?: FallbackReason;
  fallback_detail?: string;
  /** Source cache: the decision whose answer was reused. */
  cached_from?: string;
  verdict: Verdict;
  outcome: DecisionOutcome;
  /** Why it was held, refused, rejected, expired or failed (or that confidence was capped). */
  outcome_reason?: string;
  execution?: ExecutionResult;
  /** Held: when it expires (clock ms). */
  expires_at?: number;
  latency_ms: number;
  ts: number;
  context?: string;
  metrics: MetricsSnapshot;
  /** Metric sources that did not answer (their figures are fallbacks). */
  metrics_missing: string[];
  /** Model tokens this decision cost (source llm, or an llm attempt that fell back). */
  tokens?: { input: number; output: number };
  /** Decided by a local orchestrator, without a running node. */
  local?: boolean;
}

export interface RecentDecisions { decisions: DecisionRecord[] }

/** What `ask` did with a sentence: the interpretation, and what running it gave. */
export interface AskResult {
  interpretation: Interpretation;
  /** Read-only intents: the data (peers, status, …). */
  data?: unknown;
  /** Decide and action intents: the decision (through the same safety gate). */
  decision?: DecisionRecord;
  /** Human-readable answer (help text, unknown requests, local mode notes). */
  message: string;
  local?: boolean;
}

export interface Distribution { count: number; mean: number; p50: number; p95: number; max: number }

export interface OrchestratorMetrics {
  decisions: {
    total: number;
    by_source: Record<DecisionSource, number>;
    by_type: Record<DecisionType, number>;
    by_outcome: Record<DecisionOutcome, number>;
    by_action: Record<OrchestratorAction, number>;
  };
  /** Decision latency over the last LATENCY_WINDOW decisions, ms. */
  latency_ms: Distribution;
  cache: { hits: number; misses: number; hit_rate: number; size: number };
  safety: { refused: number; held: number; confirmed: number; rejected: number; expired: number; capped: number };
  llm: {
    calls: number;
    fallbacks: Record<FallbackReason, number>;
    tokens: { input: number; output: number };
  };
  ask: { total: number; by_intent: Record<string, number>; by_source: { rules: number; llm: number }; fallbacks: number };
  training: { records: number; exports: number };
}

export interface OrchestratorStatus {
  enabled: boolean;
  /** llm: a model decides (heuristics on failure); heuristic: no model configured. */
  mode: 'llm' | 'heuristic';
  model_path: string | null;
  model_type: OrchestratorModelType;
  device: { requested: OrchestratorDevice; used: UsedDevice | null };
  model?: { params: number; threads: number; context_size: number; load_ms: number };
  decision_timeout_ms: number;
  cache: { enabled: boolean; size: number; max_entries: number; ttl_seconds: number };
  training: {
    collect_data: boolean;
    records: number;
    /** Records waiting for their outcome measurement. */
    pending: number;
    file: string | null;
    export_path: string;
    auto_export_threshold: number;
    last_export: string | null;
  };
  safety: {
    allowed_actions: readonly OrchestratorAction[];
    unavailable: OrchestratorAction[];
    max_confidence_threshold: number;
    require_confirmation_above: number;
    confirmation_timeout_secs: number;
    held: number;
  };
  local?: boolean;
}

export type ExportFormat = 'jsonl' | 'chat';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['jsonl', 'chat'];

export interface ExportResult { format: ExportFormat; records: number; content: string }

export type DecideRequest = {
  type: 'orchestrator.decide';
  decision_type: DecisionType;
  /** Free text, e.g. "high CPU usage, queue full". */
  context?: string;
  /** Absent: the orchestrator gathers them (network, scheduler, supervisor, host load). */
  metrics?: MetricsSnapshot;
};

export type OrchestratorRequest =
  | DecideRequest
  | { type: 'orchestrator.recent'; limit?: number }
  | { type: 'orchestrator.get'; id: string }
  | { type: 'orchestrator.ask'; text: string }
  | { type: 'orchestrator.interpret'; text: string }
  | { type: 'orchestrator.confirm'; id: string }
  | { type: 'orchestrator.reject'; id: string; reason?: string }
  | { type: 'orchestrator.metrics' }
  | { type: 'orchestrator.status' }
  | { type: 'orchestrator.export'; format: ExportFormat };

export type OrchestratorIn = RequestEvent<OrchestratorRequest>;

/** An orchestrator.decide whose decision_type, context or metrics cannot be used. */
export class InvalidDecisionRequestError extends CodedError {
  override name = 'InvalidDecisionRequestError';
  constructor(message: string, options?: ErrorOptions) { super('invalid_decision_request', message, options); }
}

/** confirm / reject / get of an id the orchestrator does not know (or no longer remembers). */
export class UnknownDecisionError extends CodedError {
  override name = 'UnknownDecisionError';
  constructor(message: string, options?: ErrorOptions) { super('unknown_decision', message, options); }
}

/** confirm / reject of a decision that is not held (already executed, refused, expired, …). */
export class DecisionNotHeldError extends CodedError {
  override name = 'DecisionNotHeldError';
  constructor(message: string, options?: ErrorOptions) { super('decision_not_held', message, options); }
}

type Req<T extends OrchestratorRequest['type']> = Extract<OrchestratorRequest, { type: T }>;

/** The orchestrator's published protocol. */
export type OrchestratorProtocol = DefineProtocol<
  | Call<DecideRequest, DecisionRecord>
  | Call<Req<'orchestrator.recent'>, RecentDecisions>
  | Call<Req<'orchestrator.get'>, DecisionRecord>
  | Call<Req<'orchestrator.ask'>, AskResult>
  | Call<Req<'orchestrator.interpret'>, Interpretation>
  | Call<Req<'orchestrator.confirm'>, DecisionRecord>
  | Call<Req<'orchestrator.reject'>, DecisionRecord>
  | Call<Req<'orchestrator.metrics'>, OrchestratorMetrics>
  | Call<Req<'orchestrator.status'>, OrchestratorStatus>
  | Call<Req<'orchestrator.export'>, ExportResult>
>;

declare module '../../runtime/protocol.ts' {
  interface ActorProtocols { orchestrator: OrchestratorProtocol }
}
