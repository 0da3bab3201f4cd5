// Models loaded and unloaded while the node runs, and the routes that do it:
//
//   GET    /models          → ModelsBody: the models served here, those the swarm announces, the pulls
//   POST   /models { path, name? } | { sha256, name? }  → ServedModelInfo, once the model serves (201);
//                            a sha256 not on disk here is pulled from the peers that announce it first
//   DELETE /models/:name    → { model, unloaded: true }, once its actor has stopped
//   POST   /models/pulls { sha256 }    → PullProgress (202): a pull started (or joined), not awaited
//   DELETE /models/pulls/:sha256       → { sha256, cancelled }: its verified chunks stay for a resume
//   POST   /models/prune               → { removed: [paths] }: pulled files no model is served from
//
// The work is node/model-control.ts (the consensus actor moves models with it too). Pulled
// files live in `<data_dir>/<node-id>/pulled/` as `<sha256>.gguf` (model-transfer.ts in
// the network actor fetches them; a file there is loaded only after the same checks as any other).
//
// Loading runs the checks a node runs at start (format, ≤ 7B, memory: describeModel), starts an
// `inference:<name>` actor under the running supervisor, then tells the scheduler (it dispatches
// to it), the network (its manifest changes and is announced) and the supervisor's copy of their
// start arguments (a restarted scheduler, network or consensus actor keeps the model).
// Unloading goes the other way: the manifest drops the model first (no new claim), the scheduler
// retires it (new jobs refused, queued ones handed back as failed so their offerer re-offers them,
// running ones finish), then the actor stops and leaves the tree. One operation at a time.
//
// Error codes (errors/registry.ts gives their status): `invalid_model` (the file fails a check,
// the message says which), `resource_exhausted` (it does not fit in memory), `model_loaded` (that
// name or file is served already), `unknown_model`, `model_load_failed` (the checks passed but
// the native loader refused it), `pull_failed` / `pull_disk_full` (the message starts with the
// pull's reason: no_source, hash_mismatch, …).
import type { FastifyInstance } from 'fastify';
import { ModelControl } from '../../node/model-control.ts';
export type { ModelsBody, ServedModelInfo, SwarmModelInfo } from '../../node/model-control.ts';

const nameSchema = { type: 'string', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._-]+$' } as const;
const sha256Schema = { type: 'string', pattern: '^[0-9a-f]{64}$' } as const;

export function registerModelRoutes(app: FastifyInstance, control: ModelControl): void {
  app.get('/models', async () => control.list());
  app.post<{ Body: { path: string; name?: string } | { sha256: string; name?: string } }>('/models', {
    schema: {
      body: {
        type: 'object', additionalProperties: false,
        oneOf: [{ required: ['path'] }, { required: ['sha256'] }],
        properties: { path: { type: 'string', minLength: 1, maxLength: 4096 }, sha256: sha256Schema, name: nameSchema },
      },
    },
  }, async (req, reply) => reply.code(201).send(await control.load(req.body)));
  app.post<{ Body: { sha256: string } }>('/models/pulls', {
    schema: { body: { type: 'object', required: ['sha256'], additionalProperties: false, properties: { sha256: sha256Schema } } },
  }, async (req, reply) => reply.code(202).send(await control.startPull(req.body.sha256)));
  app.delete<{ Params: { sha256: string } }>('/models/pulls/:sha256', { schema: { params: { type: 'object', properties: { sha256: sha256Schema } } } },
    async (req) => control.cancelPull(req.params.sha256));
  app.post('/models/prune', async () => control.prune());
  app.delete<{ Params: { name: string } }>('/models/:name', { schema: { params: { type: 'object', properties: { name: nameSchema } } } },
    async (req) => control.unload(req.params.name));
}
