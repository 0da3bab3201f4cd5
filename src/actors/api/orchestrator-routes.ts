// The orchestrator's HTTP routes, under /orchestrator: decisions, ask, confirm/reject, metrics,
// status, training-data export. Each route is one request to the orchestrator actor; the api
// actor registers them on its fastify app (registerOrchestratorRoutes).
//
//   POST /orchestrator/decision            { context?, decision_type?, metrics? } → DecisionRecord
//   POST /orchestrator/ask                 { text }                               → AskResult
//   GET  /orchestrator/decisions?limit=N                                          → { decisions }
//   GET  /orchestrator/decisions/:id                                              → DecisionRecord
//   POST /orchestrator/decisions/:id/confirm                                      → DecisionRecord
//   POST /orchestrator/decisions/:id/reject { reason? }                           → DecisionRecord
//   GET  /orchestrator/metrics                                                    → OrchestratorMetrics
//   GET  /orchestrator/status                                   → OrchestratorStatus, or { enabled: false }
//   GET  /orchestrator/export?format=jsonl|chat   → application/x-ndjson, header x-records
//
// Errors are the server's one shape, with the registry code of the orchestrator's failure:
// `unknown_decision`, `decision_not_held`, `invalid_decision_request`; `actor_down` or
// `request_timeout` when it is down or did not answer, and `unavailable` when this node runs
// no orchestrator (orchestrator.enabled = false).
import type { FastifyInstance } from 'fastify';
import type { OrchestratorConfig } from '../../config/types.ts';
import { DECISION_TYPES, type DecisionType, type MetricsSnapshot } from '../orchestrator/heuristics.ts';
import {
  EXPORT_FORMATS, OWNER_TIMEOUT_MS, RECENT_LIMIT, orchestratorReplyTimeoutMs, type ExportResult, type OrchestratorRequest,
} from '../orchestrator/messages.ts';
import { errorCodeOf } from '../../errors/registry.ts';
import { ApiError } from './messages.ts';

export interface OrchestratorRoutesInit {
  /** Sends one request to the orchestrator actor. */
  request(msg: OrchestratorRequest, timeoutMs: number): Promise<unknown>;
  config: Readonly<OrchestratorConfig>;
}

const metricsSchema = {
  type: 'object',
  required: ['queue_depth', 'queue_capacity', 'cpu', 'mem_free_mb', 'peers'],
  additionalProperties: false,
  properties: Object.fromEntries(['queue_depth', 'queue_capacity', 'cpu', 'mem_free_mb', 'peers', 'latency_ms', 'failures_recent'].map((k) => [k, { type: 'number' }])),
} as const;

export function registerOrchestratorRoutes(app: FastifyInstance, { request, config }: OrchestratorRoutesInit): void {
  const slow = orchestratorReplyTimeoutMs(config.decision_timeout_ms);
  const quick = 2 * OWNER_TIMEOUT_MS;

  /** The actor's answer; its failure goes to the server's error handler (status by registry code). */
  async function forward<T = unknown>(msg: OrchestratorRequest, timeoutMs: number): Promise<T> {
    try {
      return await request(msg, timeoutMs) as T;
    } catch (err) {
      if (errorCodeOf(err) === 'unknown_actor') throw new ApiError('unavailable', 'the orchestrator is not running on this node (orchestrator.enabled = false?)');
      throw err;
    }
  }

  app.post<{ Body: { context?: string; decision_type?: DecisionType; metrics?: MetricsSnapshot } }>('/orchestrator/decision', {
    schema: {
      body: {
        type: 'object', additionalProperties: false,
        properties: { context: { type: 'string', maxLength: 4096 }, decision_type: { enum: DECISION_TYPES }, metrics: metricsSchema },
      },
    },
  }, async (req) => {
    const b = req.body ?? {};
    return forward({
      type: 'orchestrator.decide', decision_type: b.decision_type ?? 'infrastructure',
      ...(b.context !== undefined ? { context: b.context } : {}), ...(b.metrics ? { metrics: b.metrics } : {}),
    }, slow);
  });

  app.post<{ Body: { text: string } }>('/orchestrator/ask', {
    schema: { body: { type: 'object', required: ['text'], additionalProperties: false, properties: { text: { type: 'string', minLength: 1, maxLength: 4096 } } } },
  }, async (req) => forward({ type: 'orchestrator.ask', text: req.body.text }, slow));

  app.get<{ Querystring: { limit?: number } }>('/orchestrator/decisions', {
    schema: { querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: RECENT_LIMIT } } } },
  }, async (req) => forward({ type: 'orchestrator.recent', ...(req.query.limit ? { limit: req.query.limit } : {}) }, quick));

  app.get<{ Params: { id: string } }>('/orchestrator/decisions/:id', async (req) =>
    forward({ type: 'orchestrator.get', id: req.params.id }, quick));

  app.post<{ Params: { id: string } }>('/orchestrator/decisions/:id/confirm', async (req) =>
    forward({ type: 'orchestrator.confirm', id: req.params.id }, quick + OWNER_TIMEOUT_MS));

  app.post<{ Params: { id: string }; Body: { reason?: string } | undefined }>('/orchestrator/decisions/:id/reject', {
    schema: { body: { type: ['object', 'null'], additionalProperties: false, properties: { reason: { type: 'string', maxLength: 1024 } } } },
  }, async (req) => forward({ type: 'orchestrator.reject', id: req.params.id, ...(req.body?.reason ? { reason: req.body.reason } : {}) }, quick));

  app.get('/orchestrator/metrics', async () => forward({ type: 'orchestrator.metrics' }, quick));
  // A node without an orchestrator still says so: `{ enabled: false }`.
  app.get('/orchestrator/status', async () => (config.enabled ? forward({ type: 'orchestrator.status' }, quick) : { enabled: false }));

  app.get<{ Querystring: { format?: (typeof EXPORT_FORMATS)[number] } }>('/orchestrator/export', {
    schema: { querystring: { type: 'object', properties: { format: { enum: EXPORT_FORMATS } } } },
  }, async (req, reply) => {
    const e = await forward<ExportResult>({ type: 'orchestrator.export', format: req.query.format ?? 'jsonl' }, slow);
    return reply.header('content-type', 'application/x-ndjson; charset=utf-8').header('x-records', String(e.records)).send(e.content);
  });
}
