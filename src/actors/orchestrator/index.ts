// The orchestrator actor of DESIGN.md §6 (first subset): turns a metrics snapshot + context into
// a heuristic decision, passes it through the safety gate, logs it and keeps the recent ones.
// It does not execute decisions yet; `outcome` says whether one could be.
import { setup } from 'xstate';
import { defineActor } from '../../runtime/actor.ts';
import { DECISION_TYPES, decideHeuristically, type MetricsSnapshot } from './heuristics.ts';
import { applySafety } from './safety.ts';
import { gatherMetrics } from './metrics.ts';
import { InvalidDecisionRequestError, type DecideRequest, type DecisionRecord, type OrchestratorIn, type RecentDecisions } from './messages.ts';

/** How many decisions orchestrator.recent can show. */
export const RECENT_LIMIT = 100;

const METRIC_KEYS = ['queue_depth', 'queue_capacity', 'cpu', 'mem_free_mb', 'peers'] as const;

function checkRequest(req: DecideRequest): void {
  if (!DECISION_TYPES.includes(req.decision_type)) {
    throw new InvalidDecisionRequestError(`decision_type must be one of ${DECISION_TYPES.join(', ')}; got ${String(req.decision_type)}`);
  }
  if (req.context !== undefined && typeof req.context !== 'string') throw new InvalidDecisionRequestError('context must be a string');
  if (req.metrics !== undefined) {
    const bad = METRIC_KEYS.filter((k) => typeof req.metrics?.[k] !== 'number' || !Number.isFinite(req.metrics[k]));
    if (bad.length) throw new InvalidDecisionRequestError(`metrics.${bad.join(', metrics.')} must be finite numbers`);
  }
}

export default defineActor({
  machine: (ctx) => {
    const recent: DecisionRecord[] = []; // newest last
    let seq = 0;

    async function decide(req: DecideRequest): Promise<DecisionRecord> {
      checkRequest(req);
      const started = ctx.clock.now();
      const { metrics, missing } = req.metrics
        ? { metrics: req.metrics satisfies MetricsSnapshot, missing: [] }
        : await gatherMetrics(ctx);
      const { rule, ...proposed } = decideHeuristically(metrics, req.decision_type, req.context);
      const gated = applySafety(proposed, ctx.config.orchestrator.safety);
      const now = ctx.clock.now();
      const record: DecisionRecord = {
        id: `${ctx.name}-${started.toString(36)}-${++seq}`,
        decision_type: req.decision_type,
        ...gated.decision,
        source: 'heuristic',
        rule,
        outcome: gated.outcome,
        ...(gated.reason ? { outcome_reason: gated.reason } : {}),
        latency_ms: now - started,
        ts: now,
        ...(req.context !== undefined ? { context: req.context } : {}),
        metrics,
        metrics_missing: missing,
      };
      recent.push(record);
      if (recent.length > RECENT_LIMIT) recent.splice(0, recent.length - RECENT_LIMIT);
      // Every decision is an audit line; refused ones are worth a warning.
      const audit = { id: record.id, decision_type: record.decision_type, action: record.action, params: record.params,
        confidence: record.confidence, outcome: record.outcome, reason: record.outcome_reason, rule, source: record.source };
      if (record.outcome === 'refused') ctx.log.warn(audit, 'Orchestrator decision');
      else ctx.log.info(audit, 'Orchestrator decision');
      return record;
    }

    return setup({ types: { events: {} as OrchestratorIn } }).createMachine({
      id: 'orchestrator',
      initial: 'running',
      states: {
        running: {
          entry: () => ctx.ready(),
          on: {
            'orchestrator.decide': {
              actions: ({ event }) => {
                const { replyTo, from: _from, ...req } = event;
                decide(req).then((r) => ctx.reply(replyTo, r), (err) => ctx.replyError(replyTo, err));
              },
            },
            'orchestrator.recent': {
              actions: ({ event }) => {
                const limit = Math.max(0, Math.min(RECENT_LIMIT, Math.floor(event.limit ?? RECENT_LIMIT)));
                const answer: RecentDecisions = { decisions: limit ? recent.slice(-limit).reverse() : [] };
                ctx.reply(event.replyTo, answer);
              },
            },
          },
        },
      },
    });
  },
});
