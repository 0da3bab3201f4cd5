// The orchestrator as an object (the seed's programmatic API): makeDecision(context, type) and
// interpretNaturalLanguage(text), plus ask, confirm/reject, metrics, status and export. The
// actor wraps one (index.ts); `mvp-node orchestrator decision|ask` without a running node and
// examples/orchestrator-demo.ts use one directly (local.ts). What it may touch is injected:
// where metrics come from, who executes an action, who answers read-only questions.
//
// A decision's way: metrics → proposal (cache hit, else the model under its grammar, else the
// heuristics) → safety gate → executed by the owning actor, held, or refused → audit log line,
// recent list, counters, training record (pending) → after outcome_delay_secs its outcome is
// measured and the training record completed.
import type { Config, OrchestratorAction } from '../../config/types.ts';
import type { Clock, Timer } from '../../runtime/clock.ts';
import type { Logger } from '../../runtime/log.ts';
import { DECISION_TYPES, decideHeuristically, type Decision, type DecisionType, type MetricsSnapshot } from '../../decide/heuristics.ts';
import { applySafety, QUEUE_SCALE_LIMIT, UNAVAILABLE_ACTIONS, type SafetyRules, type Unavailable } from './safety.ts';
import { DecisionCache, cacheKey } from './cache.ts';
import { buildPrompt, type Prompt } from './prompt.ts';
import { decisionJsonSchema, LlmOutputError, parseLlmDecision, scaleParams } from './llm-schema.ts';
import { LlmGenerationError, type LlmEngine } from './llm.ts';
import {
  actionOf, capabilities, intentJsonSchema, intentPrompt, INTENTS, interpretByRules, parseLlmIntent, reconcile,
  type Intent, type Interpretation,
} from './language.ts';
import {
  formatExport, measureOutcome, PENDING_OUTCOME, readTrainingFile, STOPPED_OUTCOME, type TrainingRecord, type TrainingStore,
} from './training.ts';
import {
  DecisionNotHeldError, InvalidDecisionRequestError, RECENT_LIMIT, UnknownDecisionError,
  type AskResult, type DecisionOutcome, type DecisionRecord, type DecisionSource, type Distribution, type ExecutionResult,
  type ExportFormat, type ExportResult, type FallbackReason, type OrchestratorMetrics, type OrchestratorStatus,
} from './messages.ts';
import type { GatheredMetrics } from '../../decide/metrics.ts';

/** Decisions whose latency the metrics' distribution covers. */
export const LATENCY_WINDOW = 1000;
/** Tokens an `ask` interpretation may generate (an intent and a short argument). */
export const INTENT_MAX_TOKENS = 64;

/** Intents only a running node can answer. */
export type NodeQuery = 'list_peers' | 'node_status' | 'network_status' | 'queue_status' | 'list_models';
const NODE_QUERIES: ReadonlySet<Intent> = new Set<Intent>(['list_peers', 'node_status', 'network_status', 'queue_status', 'list_models']);

export interface OrchestratorDeps {
  config: Readonly<Config>;
  clock: Clock;
  log: Logger;
  nodeId: string;
  /** The node's metrics now; a source that does not answer is listed in `missing`. */
  metrics(): Promise<GatheredMetrics>;
  /** Carries out an accepted action through the actor that owns it. Absent: a local orchestrator. */
  execute?(decision: Decision): Promise<ExecutionResult>;
  /**
   * Turns a proposal into what executing it would do (actions.ts: the model and target of a
   * migrate_context), before the safety gate. Absent: proposals are judged as they are.
   */
  resolve?(decision: Decision, context: string | undefined): Promise<Decision>;
  /** Answers read-only questions about the node. Absent: a local orchestrator. */
  query?(q: NodeQuery): Promise<unknown>;
  llm?: LlmEngine;
  training?: TrainingStore;
  /** Where training data lives, for export when collection is off. */
  trainingFile?: string;
  /** Actions whose owner cannot carry them out yet (default UNAVAILABLE_ACTIONS). */
  unavailable?: Unavailable;
  /** Called when a held decision expires (the actor's state may change: awaiting_confirmation → idle). */
  onExpired?(): void;
  /** Runs last in close(): releases what the creator handed over (a local orchestrator's model). */
  onClose?: () => Promise<void>;
}

interface Pending {
  record: DecisionRecord;
  prompt: Prompt;
  raw: string | null;
  timer?: Timer;
}

const zero = <K extends string>(keys: readonly K[]) => Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
const SOURCES: readonly DecisionSource[] = ['llm', 'heuristic', 'cache', 'user'];
const OUTCOMES: readonly DecisionOutcome[] = ['executed', 'failed', 'held', 'refused', 'rejected', 'expired', 'not_executed'];
const ACTIONS: readonly OrchestratorAction[] = ['start_election', 'migrate_context', 'adjust_gossip', 'scale_queue', 'wait'];
const FALLBACKS: readonly FallbackReason[] = ['timeout', 'parse', 'invalid', 'error'];

function distribution(values: readonly number[]): Distribution {
  if (values.length === 0) return { count: 0, mean: 0, p50: 0, p95: 0, max: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return {
    count: values.length,
    mean: Math.round(values.reduce((s, v) => s + v, 0) / values.length),
    p50: at(0.5), p95: at(0.95), max: sorted[sorted.length - 1]!,
  };
}

function fallbackOf(err: unknown): FallbackReason {
  if (err instanceof LlmGenerationError) return err.kind === 'timeout' ? 'timeout' : 'error';
  if (err instanceof LlmOutputError) return err.kind;
  return 'error';
}

function checkMetrics(m: unknown): asserts m is MetricsSnapshot {
  const keys = ['queue_depth', 'queue_capacity', 'cpu', 'mem_free_mb', 'peers'] as const;
  const rec = m as Record<string, unknown>;
  const bad = keys.filter((k) => typeof rec?.[k] !== 'number' || !Number.isFinite(rec[k]));
  for (const k of ['latency_ms', 'failures_recent']) if (rec?.[k] !== undefined && (typeof rec[k] !== 'number' || !Number.isFinite(rec[k]))) bad.push(k as never);
  if (bad.length) throw new InvalidDecisionRequestError(`metrics.${bad.join(', metrics.')} must be finite numbers`);
}

export class Orchestrator {
  private readonly cfg: Config['orchestrator'];
  private readonly cache: DecisionCache;
  private readonly rules: SafetyRules;
  private readonly recentList: DecisionRecord[] = [];
  private readonly held = new Map<string, { record: DecisionRecord; prompt: Prompt; raw: string | null; timer: Timer }>();
  private readonly pending = new Map<string, Pending>();
  private readonly latencies: number[] = [];
  private readonly counters: OrchestratorMetrics;
  private seq = 0;
  private closed = false;

  constructor(private readonly deps: OrchestratorDeps) {
    this.cfg = deps.config.orchestrator;
    this.cache = new DecisionCache(this.cfg.cache, deps.clock);
    this.rules = {
      ...this.cfg.safety,
      max_queue_capacity: QUEUE_SCALE_LIMIT * deps.config.executor.max_queue_size,
      unavailable: deps.unavailable ?? UNAVAILABLE_ACTIONS,
    };
    this.counters = {
      decisions: { total: 0, by_source: zero(SOURCES), by_type: zero(DECISION_TYPES), by_outcome: zero(OUTCOMES), by_action: zero(ACTIONS) },
      latency_ms: distribution([]),
      cache: { hits: 0, misses: 0, hit_rate: 0, size: 0 },
      safety: { refused: 0, held: 0, confirmed: 0, rejected: 0, expired: 0, capped: 0 },
      llm: { calls: 0, fallbacks: zero(FALLBACKS), tokens: { input: 0, output: 0 } },
      ask: { total: 0, by_intent: {}, by_source: { rules: 0, llm: 0 }, fallbacks: 0 },
      training: { records: 0, exports: 0 },
    };
  }

  /** A local orchestrator: nothing to execute on, no node to ask. */
  get local(): boolean { return this.deps.execute === undefined; }

  /** Decisions waiting for an operator's confirm / reject. */
  get heldCount(): number { return this.held.size; }

  // --- decisions -----------------------------------------------------------------------------

  /**
   * Decides what to do about `context` (free text; may be empty) for a decision type, on the
   * node's current metrics (or `opts.metrics`), and acts on it as the safety rules allow.
   */
  makeDecision(context: string | undefined, type: DecisionType = 'infrastructure', opts: { metrics?: MetricsSnapshot } = {}): Promise<DecisionRecord> {
    return this.decide(context, type, opts);
  }

  /** makeDecision; with `hold`, an action the gate would accept is held for confirmation instead. */
  private async decide(context: string | undefined, type: DecisionType, opts: { metrics?: MetricsSnapshot }, hold?: string): Promise<DecisionRecord> {
    if (!DECISION_TYPES.includes(type)) {
      throw new InvalidDecisionRequestError(`decision_type must be one of ${DECISION_TYPES.join(', ')}; got ${String(type)}`);
    }
    if (context !== undefined && typeof context !== 'string') throw new InvalidDecisionRequestError('context must be a string');
    if (opts.metrics !== undefined) checkMetrics(opts.metrics);
    const started = this.deps.clock.now();
    const id = this.nextId();
    const { metrics, missing } = opts.metrics ? { metrics: opts.metrics, missing: [] } : await this.deps.metrics();
    const prompt = buildPrompt(type, context, metrics, this.cfg.safety.allowed_actions);
    let proposal: Decision | undefined;
    let source: DecisionSource = 'heuristic';
    const extra: Partial<DecisionRecord> = {};
    let raw: string | null = null;
    const llm = this.deps.llm;
    if (llm) {
      const key = cacheKey(type, context, metrics);
      const hit = this.cache.get(key);
      if (hit) {
        proposal = rescale(hit.decision, metrics);
        source = 'cache';
        extra.cached_from = hit.from;
      } else {
        this.counters.llm.calls++;
        try {
          const out = await llm.generateJson(prompt, decisionJsonSchema(), this.cfg.decision_timeout_ms);
          raw = out.text;
          extra.tokens = out.tokens;
          this.countTokens(out.tokens);
          proposal = parseLlmDecision(out.text, metrics);
          source = 'llm';
          this.cache.set(key, { decision: proposal, from: id });
        } catch (err) {
          const reason = fallbackOf(err);
          this.counters.llm.fallbacks[reason]++;
          extra.fallback_reason = reason;
          extra.fallback_detail = (err as Error).message;
          this.deps.log.warn({ id, reason, err: (err as Error).message }, 'Orchestrator model gave no usable decision: the heuristics decide');
        }
      }
    }
    if (!proposal) {
      const { rule, ...h } = decideHeuristically(metrics, type, context);
      proposal = h;
      extra.rule = rule;
    }
    return this.settle({
      id, type, context, proposal, source, extra, metrics, missing, started, prompt, raw, hold,
    });
  }

  private async settle(a: {
    id: string; type: DecisionType; context: string | undefined; proposal: Decision; source: DecisionSource;
    extra: Partial<DecisionRecord>; metrics: MetricsSnapshot; missing: string[]; started: number; prompt: Prompt; raw: string | null;
    /** Why an action the gate accepts must be held all the same. */
    hold?: string;
  }): Promise<DecisionRecord> {
    const proposal = this.deps.resolve ? await this.deps.resolve(a.proposal, a.context).catch(() => a.proposal) : a.proposal;
    let gated = applySafety(proposal, this.rules);
    if (a.hold && gated.verdict === 'accepted') {
      gated = { ...gated, verdict: 'held', reason: gated.reason ? `${a.hold}; ${gated.reason}` : a.hold };
    }
    const now = this.deps.clock.now();
    const record: DecisionRecord = {
      id: a.id,
      decision_type: a.type,
      ...gated.decision,
      source: a.source,
      ...a.extra,
      verdict: gated.verdict,
      outcome: 'refused',
      ...(gated.reason ? { outcome_reason: gated.reason } : {}),
      latency_ms: now - a.started,
      ts: now,
      ...(a.context !== undefined ? { context: a.context } : {}),
      metrics: a.metrics,
      metrics_missing: a.missing,
      ...(this.local ? { local: true } : {}),
    };
    if (gated.reason?.includes('capped')) this.counters.safety.capped++;
    if (gated.verdict === 'refused') {
      this.counters.safety.refused++;
    } else if (this.local) {
      record.outcome = 'not_executed';
      record.outcome_reason = `local orchestrator: no running node to act on; the safety rules would have ${gated.verdict === 'held' ? 'held it for confirmation' : 'executed it'}`
        + (gated.reason ? ` (${gated.reason})` : '');
    } else if (gated.verdict === 'held') {
      this.counters.safety.held++;
      record.outcome = 'held';
      record.expires_at = now + this.cfg.safety.confirmation_timeout_secs * 1000;
      const timer = this.deps.clock.setTimeout(() => this.expire(record.id), this.cfg.safety.confirmation_timeout_secs * 1000);
      timer.unref?.();
      this.held.set(record.id, { record, prompt: a.prompt, raw: a.raw, timer });
    } else {
      await this.execute(record);
    }
    this.remember(record);
    this.audit(record, 'decided');
    await this.recordPending(record, a.prompt, a.raw);
    if (record.outcome !== 'held') this.scheduleTraining(record, a.prompt, a.raw);
    return record;
  }

  private async execute(record: DecisionRecord): Promise<void> {
    let result: ExecutionResult;
    try {
      result = await this.deps.execute!({ action: record.action, params: record.params, confidence: record.confidence, reasoning: record.reasoning });
    } catch (err) {
      result = { ok: false, detail: (err as Error).message ?? String(err) };
    }
    record.execution = result;
    record.outcome = result.ok ? 'executed' : 'failed';
    if (!result.ok) record.outcome_reason = result.detail;
  }

  /** Executes a held decision now, through the actor that owns its action. */
  async confirm(id: string): Promise<DecisionRecord> {
    const h = this.takeHeld(id);
    const record = h.record;
    this.counters.safety.confirmed++;
    this.counters.decisions.by_outcome.held--;
    await this.execute(record);
    record.outcome_reason = record.outcome === 'failed' ? record.execution?.detail : 'confirmed by an operator';
    this.counters.decisions.by_outcome[record.outcome]++;
    this.audit(record, 'confirmed');
    await this.recordPending(record, h.prompt, h.raw);
    this.scheduleTraining(record, h.prompt, h.raw);
    return record;
  }

  /** Drops a held decision unexecuted. */
  async reject(id: string, reason?: string): Promise<DecisionRecord> {
    const h = this.takeHeld(id);
    const record = h.record;
    this.counters.safety.rejected++;
    this.counters.decisions.by_outcome.held--;
    record.outcome = 'rejected';
    record.outcome_reason = reason ? `rejected by an operator: ${reason}` : 'rejected by an operator';
    this.counters.decisions.by_outcome.rejected++;
    this.audit(record, 'rejected');
    await this.recordPending(record, h.prompt, h.raw);
    this.scheduleTraining(record, h.prompt, h.raw);
    return record;
  }

  private takeHeld(id: string) {
    const h = this.held.get(id);
    if (!h) {
      const known = this.recentList.find((r) => r.id === id);
      if (!known) throw new UnknownDecisionError(`no decision ${id} (unknown, or older than the last ${RECENT_LIMIT})`);
      throw new DecisionNotHeldError(`decision ${id} is not held for confirmation: it is ${known.outcome}`);
    }
    this.deps.clock.clearTimeout(h.timer);
    this.held.delete(id);
    return h;
  }

  private expire(id: string): void {
    const h = this.held.get(id);
    if (!h) return;
    this.held.delete(id);
    h.record.outcome = 'expired';
    h.record.outcome_reason = `not confirmed within ${this.cfg.safety.confirmation_timeout_secs} s`;
    this.counters.safety.expired++;
    this.counters.decisions.by_outcome.held--;
    this.counters.decisions.by_outcome.expired++;
    this.audit(h.record, 'expired');
    // The pending line is queued before the measured one: the store appends in call order.
    void this.recordPending(h.record, h.prompt, h.raw);
    this.scheduleTraining(h.record, h.prompt, h.raw);
    this.deps.onExpired?.();
  }

  get(id: string): DecisionRecord {
    const r = this.held.get(id)?.record ?? this.recentList.find((d) => d.id === id);
    if (!r) throw new UnknownDecisionError(`no decision ${id} (unknown, or older than the last ${RECENT_LIMIT})`);
    return r;
  }

  /** The latest decisions, newest first. */
  recent(limit = RECENT_LIMIT): DecisionRecord[] {
    const n = Math.max(0, Math.min(RECENT_LIMIT, Math.floor(limit)));
    return n ? this.recentList.slice(-n).reverse() : [];
  }

  private remember(record: DecisionRecord): void {
    this.recentList.push(record);
    if (this.recentList.length > RECENT_LIMIT) this.recentList.splice(0, this.recentList.length - RECENT_LIMIT);
    const c = this.counters.decisions;
    c.total++;
    c.by_source[record.source]++;
    c.by_type[record.decision_type]++;
    c.by_outcome[record.outcome]++;
    c.by_action[record.action]++;
    this.latencies.push(record.latency_ms);
    if (this.latencies.length > LATENCY_WINDOW) this.latencies.splice(0, this.latencies.length - LATENCY_WINDOW);
  }

  /** Every decision and every change of its outcome is one log line: the audit trail. */
  private audit(r: DecisionRecord, event: 'decided' | 'confirmed' | 'rejected' | 'expired'): void {
    const line = {
      audit: 'orchestrator', event, id: r.id, decision_type: r.decision_type, action: r.action, params: r.params,
      confidence: r.confidence, source: r.source, rule: r.rule, verdict: r.verdict, outcome: r.outcome, reason: r.outcome_reason,
      execution: r.execution?.detail, context: r.context, local: r.local,
    };
    if (r.outcome === 'refused' || r.outcome === 'failed') this.deps.log.warn(line, 'Orchestrator decision');
    else this.deps.log.info(line, 'Orchestrator decision');
  }

  private countTokens(t: { input: number; output: number }): void {
    this.counters.llm.tokens.input += t.input;
    this.counters.llm.tokens.output += t.output;
  }

  private nextId(): string {
    return `${this.local ? 'local' : 'd'}-${this.deps.clock.now().toString(36)}-${++this.seq}`;
  }

  // --- training data -------------------------------------------------------------------------

  /**
   * The decision's record, written as it is taken (and again when a held one is confirmed,
   * rejected or expires): exportable at once, its outcome pending.
   */
  private async recordPending(record: DecisionRecord, prompt: Prompt, raw: string | null): Promise<void> {
    if (!this.deps.training || this.closed) return;
    await this.append(this.trainingRecord({ record, prompt, raw }, PENDING_OUTCOME));
  }

  /** The record is completed once the outcome has been measured, outcome_delay_secs from now. */
  private scheduleTraining(record: DecisionRecord, prompt: Prompt, raw: string | null): void {
    if (!this.deps.training || this.closed) return;
    const p: Pending = { record, prompt, raw };
    this.pending.set(record.id, p);
    const delay = this.cfg.training.outcome_delay_secs * 1000;
    const measure = () => { void this.measureAndWrite(record.id); };
    if (delay === 0) { measure(); return; }
    p.timer = this.deps.clock.setTimeout(measure, delay);
    p.timer.unref?.();
  }

  private async measureAndWrite(id: string): Promise<void> {
    const p = this.pending.get(id);
    if (!p) return;
    let outcome: TrainingRecord['outcome'];
    try {
      const { metrics, missing } = await this.deps.metrics();
      outcome = missing.length && missing.includes('scheduler')
        ? { measured: false, reason: `metrics unavailable: ${missing.join(', ')}` }
        : measureOutcome(p.record.metrics, metrics, this.deps.clock.now() - p.record.ts);
    } catch (err) {
      outcome = { measured: false, reason: `metrics unavailable: ${(err as Error).message}` };
    }
    await this.write(p, outcome);
  }

  private async write(p: Pending, outcome: TrainingRecord['outcome']): Promise<void> {
    if (!this.pending.delete(p.record.id) || !this.deps.training) return;
    await this.append(this.trainingRecord(p, outcome));
  }

  private trainingRecord(p: Pick<Pending, 'record' | 'prompt' | 'raw'>, outcome: TrainingRecord['outcome']): TrainingRecord {
    const r = p.record;
    return {
      v: 1, id: r.id, ts: r.ts, node_id: this.deps.nodeId, decision_type: r.decision_type, context: r.context ?? null,
      metrics: r.metrics, prompt: p.prompt, raw_output: p.raw, source: r.source, fallback_reason: r.fallback_reason ?? null,
      decision: { action: r.action, params: r.params, confidence: r.confidence, reasoning: r.reasoning },
      safety: { verdict: r.verdict, reason: r.verdict === 'accepted' ? null : (r.outcome_reason ?? null) },
      final: r.outcome, execution: r.execution ?? null, outcome,
    };
  }

  private async append(rec: TrainingRecord): Promise<void> {
    try {
      await this.deps.training!.append(rec);
    } catch (err) {
      this.deps.log.error({ err, id: rec.id }, 'Training data: could not write a record');
    }
  }

  /** Records of `format`: the collected decisions, oldest first. */
  async exportData(format: ExportFormat): Promise<ExportResult> {
    const records = this.deps.training ? await this.deps.training.read()
      : this.deps.trainingFile ? await readTrainingFile(this.deps.trainingFile) : [];
    const { lines, records: n } = formatExport(records, format);
    return { format, records: n, content: lines.length ? `${lines.join('\n')}\n` : '' };
  }

  // --- natural language ----------------------------------------------------------------------

  /**
   * A sentence → intent, arguments and commands: by the model when there is one (its reading
   * of an action checked against the rules', see reconcile), else by the rules.
   */
  async interpretNaturalLanguage(text: string): Promise<Interpretation> {
    if (typeof text !== 'string' || text.trim() === '') throw new InvalidDecisionRequestError('text must be a non-empty string');
    const rules = interpretByRules(text);
    const llm = this.deps.llm;
    if (!llm) return rules;
    this.counters.llm.calls++;
    let model: Interpretation;
    try {
      const out = await llm.generateJson(intentPrompt(text), intentJsonSchema(), this.cfg.decision_timeout_ms, INTENT_MAX_TOKENS);
      this.countTokens(out.tokens);
      try {
        model = parseLlmIntent(out.text, text);
      } catch (err) {
        throw new LlmOutputError('invalid', (err as Error).message);
      }
    } catch (err) {
      const reason = fallbackOf(err);
      this.counters.llm.fallbacks[reason]++;
      this.counters.ask.fallbacks++;
      return { ...rules, fallback_reason: reason };
    }
    return reconcile(model, rules);
  }

  /** Interprets a sentence and runs it: read-only intents answer, decide/action intents decide. */
  async ask(text: string): Promise<AskResult> {
    const interpretation = await this.interpretNaturalLanguage(text);
    const { intent } = interpretation;
    this.counters.ask.total++;
    this.counters.ask.by_intent[intent] = (this.counters.ask.by_intent[intent] ?? 0) + 1;
    this.counters.ask.by_source[interpretation.source]++;
    const local = this.local ? { local: true } : {};
    const spec = INTENTS[intent];
    switch (spec.kind) {
      case 'help':
        return { interpretation, message: capabilities(), ...local };
      case 'unknown':
        return { interpretation, message: `I did not understand "${text}".\n${capabilities()}`, ...local };
      case 'decide': {
        // Asking what to do is a question: the answer is the decision, held for an operator.
        const hold = interpretation.hold_reason ?? 'asked what to do: held until an operator confirms it';
        const decision = await this.decide(text, interpretation.args.decision_type ?? 'infrastructure', {}, hold);
        return { interpretation, decision, message: decisionMessage(decision), ...local };
      }
      case 'action': {
        const decision = await this.userAction(interpretation);
        return { interpretation, decision, message: decisionMessage(decision), ...local };
      }
      case 'read':
        return { interpretation, ...(await this.read(intent)), ...local };
    }
  }

  private async read(intent: Intent): Promise<{ data?: unknown; message: string }> {
    if (intent === 'explain_decisions') {
      const decisions = this.recent(10);
      return { data: decisions, message: decisions.length ? `${decisions.length} recent decisions` : 'no decisions yet' };
    }
    if (intent === 'show_metrics') {
      const snapshot = await this.deps.metrics();
      return { data: { node: snapshot.metrics, missing: snapshot.missing, orchestrator: this.metrics() }, message: 'metrics' };
    }
    if (NODE_QUERIES.has(intent)) {
      if (!this.deps.query) {
        return { message: `local orchestrator: no running node, so there is nothing to show for ${intent}. Start one with \`mvp-node\`.` };
      }
      return { data: await this.deps.query(intent as NodeQuery), message: intent };
    }
    return { message: intent };
  }

  /** An action asked for in words: a decision of source `user`, through the same gate. */
  private async userAction(i: Interpretation): Promise<DecisionRecord> {
    const action = actionOf(i.intent)!;
    const started = this.deps.clock.now();
    const { metrics, missing } = await this.deps.metrics();
    const params: Record<string, unknown> = {};
    if (action === 'scale_queue') {
      if (i.args.capacity !== undefined) Object.assign(params, { capacity: i.args.capacity, from: Math.floor(metrics.queue_capacity) });
      else Object.assign(params, scaleParams(metrics.queue_capacity, i.args.factor ?? 1.5));
    }
    if (action === 'adjust_gossip') params.heartbeat_factor = i.args.heartbeat_factor ?? 0.75;
    const proposal: Decision = { action, params, confidence: i.confidence, reasoning: `asked: "${i.text.slice(0, 120)}"` };
    return this.settle({
      id: this.nextId(), type: 'infrastructure', context: i.text, proposal, source: 'user', extra: {}, metrics, missing, started,
      prompt: buildPrompt('infrastructure', i.text, metrics, this.cfg.safety.allowed_actions), raw: null, hold: i.hold_reason,
    });
  }

  // --- metrics and status --------------------------------------------------------------------

  metrics(): OrchestratorMetrics {
    const c = this.counters;
    const lookups = this.cache.hits + this.cache.misses;
    return structuredClone({
      ...c,
      latency_ms: distribution(this.latencies),
      cache: { hits: this.cache.hits, misses: this.cache.misses, hit_rate: lookups ? Number((this.cache.hits / lookups).toFixed(4)) : 0, size: this.cache.size },
      training: { records: this.deps.training?.count ?? 0, exports: this.deps.training?.exports ?? 0 },
    });
  }

  status(): OrchestratorStatus {
    const llm = this.deps.llm?.info;
    const t = this.cfg.training;
    return {
      enabled: this.cfg.enabled,
      mode: llm ? 'llm' : 'heuristic',
      model_path: this.cfg.model_path ?? null,
      model_type: this.cfg.model_type,
      device: { requested: this.cfg.device, used: llm?.device ?? null },
      ...(llm ? { model: { params: llm.params, threads: llm.threads, context_size: llm.context_size, load_ms: llm.load_ms } } : {}),
      decision_timeout_ms: this.cfg.decision_timeout_ms,
      cache: { enabled: this.cfg.cache.enabled, size: this.cache.size, max_entries: this.cfg.cache.max_entries, ttl_seconds: this.cfg.cache.ttl_seconds },
      training: {
        collect_data: t.collect_data && this.deps.training !== undefined,
        records: this.deps.training?.count ?? 0,
        pending: this.pending.size,
        file: this.deps.training?.file ?? this.deps.trainingFile ?? null,
        export_path: t.export_path,
        auto_export_threshold: t.auto_export_threshold,
        last_export: this.deps.training?.lastExport ?? null,
      },
      safety: {
        allowed_actions: this.cfg.safety.allowed_actions,
        unavailable: Object.keys(this.rules.unavailable ?? {}) as OrchestratorAction[],
        max_confidence_threshold: this.cfg.safety.max_confidence_threshold,
        require_confirmation_above: this.cfg.safety.require_confirmation_above,
        confirmation_timeout_secs: this.cfg.safety.confirmation_timeout_secs,
        held: this.held.size,
      },
      ...(this.local ? { local: true } : {}),
    };
  }

  /**
   * Stops timers and writes the records still waiting for their outcome, marked unmeasured.
   * Held decisions stay unexecuted (their training records say `held`).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    for (const h of this.held.values()) {
      this.deps.clock.clearTimeout(h.timer);
      this.pending.set(h.record.id, { record: h.record, prompt: h.prompt, raw: h.raw });
    }
    this.held.clear();
    this.closed = true;
    const left = [...this.pending.values()];
    for (const p of left) if (p.timer) this.deps.clock.clearTimeout(p.timer);
    for (const p of left) await this.write(p, STOPPED_OUTCOME);
    await this.deps.onClose?.();
  }
}

/** What `ask` says about the decision it led to: the action, what it would change, and its fate. */
function decisionMessage(d: DecisionRecord): string {
  const params = Object.keys(d.params).length ? ` ${JSON.stringify(d.params)}` : '';
  return `${d.action}${params}: ${d.outcome}${d.outcome === 'held' ? ` (${d.outcome_reason}); \`orchestrator confirm ${d.id}\` runs it` : ''}`;
}

/** A cached scale_queue keeps its factor: the capacity is recomputed from today's queue. */
function rescale(d: Decision, metrics: MetricsSnapshot): Decision {
  const copy = structuredClone(d);
  if (d.action !== 'scale_queue' || typeof d.params.factor !== 'number') return copy;
  return { ...copy, params: scaleParams(metrics.queue_capacity, d.params.factor) };
}

