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
// Error codes (the `code` of the error body), besides the server's own:
// - `unknown_decision` (404): no decision with that id (or older than the last 100);
// - `decision_not_held` (409): confirm/reject of a decision that is not held (its message says what it is);
// - `bad_request` (400): a body, query or decision type the orchestrator cannot use;
// - `unavailable` (503): no orchestrator (orchestrator.enabled = false), or it is down or did not answer.
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { OrchestratorConfig } from '../../config/types.ts';
import { DECISION_TYPES, type DecisionType, type MetricsSnapshot } from '../orchestrator/heuristics.ts';
import {
  EXPORT_FORMATS, OWNER_TIMEOUT_MS, RECENT_LIMIT, orchestratorReplyTimeoutMs, type ExportResult, type OrchestratorRequest,
} from '../orchestrator/messages.ts';

export type OrchestratorErrorCode = 'unknown_decision' | 'decision_not_held' | 'bad_request' | 'unavailable';

export interface OrchestratorRoutesInit {
  /** Sends one request to the orchestrator actor. */
  request(msg: OrchestratorRequest, timeoutMs: number): Promise<unknown>;
  config: Readonly<OrchestratorConfig>;
}

const STATUS: Record<string, [number, OrchestratorErrorCode]> = {
  UnknownDecisionError: [404, 'unknown_decision'],
  DecisionNotHeldError: [409, 'decision_not_held'],
  InvalidDecisionRequestError: [400, 'bad_request'],
  UnknownActorError: [503, 'unavailable'],
  ActorDownError: [503, 'unavailable'],
  RequestTimeoutError: [503, 'unavailable'],
};

const metricsSchema = {
  type: 'object',
  required: ['queue_depth', 'queue_capacity', 'cpu', 'mem_free_mb', 'peers'],
  additionalProperties: false,
  properties: Object.fromEntries(['queue_depth', 'queue_capacity', 'cpu', 'mem_free_mb', 'peers', 'latency_ms', 'failures_recent'].map((k) => [k, { type: 'number' }])),
} as const;

export function registerOrchestratorRoutes(app: FastifyInstance, { request, config }: OrchestratorRoutesInit): void {
  const slow = orchestratorReplyTimeoutMs(config.decision_timeout_ms);
  const quick = 2 * OWNER_TIMEOUT_MS;

  /** The actor's answer, or its failure as `{ code, message }` with the status the failure calls for. */
  async function forward(reply: FastifyReply, msg: OrchestratorRequest, timeoutMs: number): Promise<unknown> {
    try {
      return await request(msg, timeoutMs);
    } catch (err) {
      const e = err as Error;
      const mapped = STATUS[e.name];
      if (!mapped) throw err;
      const message = e.name === 'UnknownActorError' ? 'the orchestrator is not running on this node (orchestrator.enabled = false?)' : e.message;
      return reply.code(mapped[0]).send({ code: mapped[1], message });
    }
  }

  app.post<{ Body: { context?: string; decision_type?: DecisionType; metrics?: MetricsSnapshot } }>('/orchestrator/decision', {
    schema: {
      body: {
        type: 'object', additionalProperties: false,
        properties: { context: { type: 'string', maxLength: 4096 }, decision_type: { enum: DECISION_TYPES }, metrics: metricsSchema },
      },
    },
  }, async (req, reply) => {
    const b = req.body ?? {};
    return forward(reply, {
      type: 'orchestrator.decide', decision_type: b.decision_type ?? 'infrastructure',
      ...(b.context !== undefined ? { context: b.context } : {}), ...(b.metrics ? { metrics: b.metrics } : {}),
    }, slow);
  });

  app.post<{ Body: { text: string } }>('/orchestrator/ask', {
    schema: { body: { type: 'object', required: ['text'], additionalProperties: false, properties: { text: { type: 'string', minLength: 1, maxLength: 4096 } } } },
  }, async (req, reply) => forward(reply, { type: 'orchestrator.ask', text: req.body.text }, slow));

  app.get<{ Querystring: { limit?: number } }>('/orchestrator/decisions', {
    schema: { querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: RECENT_LIMIT } } } },
  }, async (req, reply) => forward(reply, { type: 'orchestrator.recent', ...(req.query.limit ? { limit: req.query.limit } : {}) }, quick));

  app.get<{ Params: { id: string } }>('/orchestrator/decisions/:id', async (req, reply) =>
    forward(reply, { type: 'orchestrator.get', id: req.params.id }, quick));

  app.post<{ Params: { id: string } }>('/orchestrator/decisions/:id/confirm', async (req, reply) =>
    forward(reply, { type: 'orchestrator.confirm', id: req.params.id }, quick + OWNER_TIMEOUT_MS));

  app.post<{ Params: { id: string }; Body: { reason?: string } | undefined }>('/orchestrator/decisions/:id/reject', {
    schema: { body: { type: ['object', 'null'], additionalProperties: false, properties: { reason: { type: 'string', maxLength: 1024 } } } },
  }, async (req, reply) => forward(reply, { type: 'orchestrator.reject', id: req.params.id, ...(req.body?.reason ? { reason: req.body.reason } : {}) }, quick));

  app.get('/orchestrator/metrics', async (_req, reply) => forward(reply, { type: 'orchestrator.metrics' }, quick));
  // A node without an orchestrator still says so: `{ enabled: false }`.
  app.get('/orchestrator/status', async (_req, reply) => (config.enabled ? forward(reply, { type: 'orchestrator.status' }, quick) : { enabled: false }));

  app.get<{ Querystring: { format?: (typeof EXPORT_FORMATS)[number] } }>('/orchestrator/export', {
    schema: { querystring: { type: 'object', properties: { format: { enum: EXPORT_FORMATS } } } },
  }, async (req, reply) => {
    const r = await forward(reply, { type: 'orchestrator.export', format: req.query.format ?? 'jsonl' }, slow);
    if (reply.sent) return r;
    const e = r as ExportResult;
    return reply.header('content-type', 'application/x-ndjson; charset=utf-8').header('x-records', String(e.records)).send(e.content);
  });
}
