// Models loaded and unloaded while the node runs, and the routes that do it:
//
//   GET    /models          → ModelsBody: the models served here, and those the swarm announces
//   POST   /models { path, name? }  → ServedModelInfo, once the model serves (201)
//   DELETE /models/:name    → { model, unloaded: true }, once its actor has stopped
//
// Loading runs the checks a node runs at start (format, ≤ 7B, memory: describeModel), starts an
// `inference:<name>` actor under the running supervisor, then tells the scheduler (it dispatches
// to it), the network (its manifest changes and is announced) and the supervisor's copy of their
// start arguments (a restarted scheduler, network or consensus actor keeps the model).
// Unloading goes the other way: the manifest drops the model first (no new claim), the scheduler
// retires it (new jobs refused, queued ones handed back as failed so their offerer re-offers them,
// running ones finish), then the actor stops and leaves the tree. One operation at a time.
//
// Error codes: `invalid_model` (422: the file fails a check, the message says which),
// `model_loaded` (409: that name or file is served already), `unknown_model` (404),
// `model_load_failed` (422: the checks passed but the native loader refused it).
import type { FastifyInstance } from 'fastify';
import type { Config } from '../../config/types.ts';
import type { Message } from '../../runtime/actor.ts';
import { SUPERVISOR, type ActorInfo, type SupervisorRequest } from '../../runtime/supervisor.ts';
import type { Manifest, ModelManifest } from '../../protocol/index.ts';
import { INFERENCE_PREFIX, describeModel, inferenceChildSpec, type ServedModel } from '../../node/models.ts';
import type { InferenceStatus } from '../inference/messages.ts';
import type { ServedModel as SwarmModel } from '../network/messages.ts';
import type { RetireReply, SchedulerStatus } from '../scheduler/messages.ts';
import { inferenceReplyTimeoutMs } from '../scheduler/timeouts.ts';
import { ApiError } from './messages.ts';

/** A model served here, as GET /models lists it. */
export type ServedModelInfo = InferenceStatus;

/** A model some peer announces, with every peer that does. */
export interface SwarmModelInfo { name: string; sha256: string; params: number; quantization: string; peers: string[] }

export interface ModelsBody { loaded: ServedModelInfo[]; swarm: SwarmModelInfo[] }

export interface ModelControlInit {
  config: Readonly<Config>;
  ask<T>(to: string, msg: Message, timeoutMs: number): Promise<T>;
}

const QUICK_MS = 2000;
/** Loading validates, hashes and loads a model: minutes for a large one. */
const LOAD_TIMEOUT_MS = 300_000;

export class ModelControl {
  private ops: Promise<unknown> = Promise.resolve();

  constructor(private readonly init: ModelControlInit) {}

  async list(): Promise<ModelsBody> {
    const actors = await this.supervisor<ActorInfo[]>({ type: 'supervisor.actors' });
    const served = actors.filter((a) => a.name.startsWith(INFERENCE_PREFIX) && a.status === 'running');
    const loaded = (await Promise.all(served.map((a) => this.init.ask<InferenceStatus>(a.name, { type: 'inference.status' }, QUICK_MS).catch(() => undefined))))
      .filter((s): s is InferenceStatus => s !== undefined);
    const known = await this.init.ask<SwarmModel[]>('network', { type: 'network.models' }, QUICK_MS).catch(() => []);
    const swarm = new Map<string, SwarmModelInfo>();
    for (const k of known) {
      if (k.self) continue;
      const e = swarm.get(k.model.sha256) ?? { name: k.model.name, sha256: k.model.sha256, params: k.model.params, quantization: k.model.quantization, peers: [] };
      e.peers.push(k.peer_id);
      swarm.set(k.model.sha256, e);
    }
    return { loaded, swarm: [...swarm.values()] };
  }

  load(body: { path: string; name?: string }): Promise<ServedModelInfo> {
    return this.serial(async () => {
      const { config } = this.init;
      let model: ServedModel;
      try {
        model = await describeModel(config, body.path, body.name);
      } catch (err) {
        const e = err as Error;
        if (e.name === 'ModelLoadError' || e.name === 'ResourceExhaustedError') throw new ApiError(422, 'invalid_model', e.message);
        throw err;
      }
      const manifests = await this.manifests();
      if (manifests.some((m) => m.name === model.name)) throw new ApiError(409, 'model_loaded', `a model named ${model.name} is already served here; unload it first or pick another name`);
      const twin = manifests.find((m) => m.sha256 === model.manifest.sha256);
      if (twin) throw new ApiError(409, 'model_loaded', `this file (sha256 ${twin.sha256}) is already served here as ${twin.name}`);
      try {
        await this.supervisor({ type: 'supervisor.add', spec: inferenceChildSpec(model, config.runtime.shutdown_timeout_ms) }, LOAD_TIMEOUT_MS);
      } catch (err) {
        const e = err as Error;
        if (e.name === 'ActorStartError') throw new ApiError(422, 'model_load_failed', `${model.path} did not load: ${e.message}`);
        if (e.name === 'DuplicateActorError') throw new ApiError(409, 'model_loaded', e.message);
        throw err;
      }
      const status = await this.init.ask<SchedulerStatus>('scheduler', { type: 'scheduler.add_model', model: { name: model.name, sequences: model.sequences } }, QUICK_MS);
      await this.publish([...manifests, model.manifest], status);
      return this.init.ask<InferenceStatus>(`${INFERENCE_PREFIX}${model.name}`, { type: 'inference.status' }, QUICK_MS);
    });
  }

  unload(name: string): Promise<{ model: string; unloaded: true }> {
    return this.serial(async () => {
      const actors = await this.supervisor<ActorInfo[]>({ type: 'supervisor.actors' });
      if (!actors.some((a) => a.name === `${INFERENCE_PREFIX}${name}`)) {
        throw new ApiError(404, 'unknown_model', `no model named ${name} is served here`);
      }
      const manifests = (await this.manifests()).filter((m) => m.name !== name);
      // No new claim first, then the jobs already here, then the actor.
      await this.init.ask('network', { type: 'network.set_models', models: manifests }, QUICK_MS);
      await this.supervisor({ type: 'supervisor.update_args', name: 'network', args: { models: manifests } });
      // Running jobs finish: at most one job's run, and the scheduler's own backstop after it.
      const drainMs = inferenceReplyTimeoutMs(this.init.config) + QUICK_MS;
      await this.init.ask<RetireReply>('scheduler', { type: 'scheduler.retire_model', name }, drainMs);
      await this.supervisor({ type: 'supervisor.remove', name: `${INFERENCE_PREFIX}${name}` }, LOAD_TIMEOUT_MS);
      const status = await this.init.ask<SchedulerStatus>('scheduler', { type: 'scheduler.status' }, QUICK_MS);
      await this.updateArgs(manifests, status);
      return { model: name, unloaded: true as const };
    });
  }

  // --- internals -------------------------------------------------------------------------

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.ops.then(fn, fn);
    this.ops = p.catch(() => undefined);
    return p;
  }

  private supervisor<T = unknown>(msg: SupervisorRequest, timeoutMs = QUICK_MS): Promise<T> {
    return this.init.ask<T>(SUPERVISOR, msg, timeoutMs);
  }

  /** What this node's manifest lists now. */
  private async manifests(): Promise<ModelManifest[]> {
    return (await this.init.ask<Manifest>('network', { type: 'network.manifest' }, QUICK_MS)).models;
  }

  private async publish(manifests: ModelManifest[], status: SchedulerStatus): Promise<void> {
    await this.init.ask('network', { type: 'network.set_models', models: manifests }, QUICK_MS);
    await this.updateArgs(manifests, status);
  }

  /** A restarted scheduler, network or consensus actor starts with the models served now. */
  private async updateArgs(manifests: ModelManifest[], status: SchedulerStatus): Promise<void> {
    const actors = new Set((await this.supervisor<ActorInfo[]>({ type: 'supervisor.actors' })).map((a) => a.name));
    const sequences = await Promise.all(status.models.map(async (name) =>
      (await this.init.ask<InferenceStatus>(`${INFERENCE_PREFIX}${name}`, { type: 'inference.status' }, QUICK_MS)).sequences));
    await this.supervisor({ type: 'supervisor.update_args', name: 'scheduler', args: { models: status.models.map((name, i) => ({ name, sequences: sequences[i]! })) } });
    await this.supervisor({ type: 'supervisor.update_args', name: 'network', args: { models: manifests } });
    if (actors.has('consensus')) await this.supervisor({ type: 'supervisor.update_args', name: 'consensus', args: { models: manifests.map((m) => m.name) } });
  }
}

const nameSchema = { type: 'string', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._-]+$' } as const;

export function registerModelRoutes(app: FastifyInstance, control: ModelControl): void {
  app.get('/models', async () => control.list());
  app.post<{ Body: { path: string; name?: string } }>('/models', {
    schema: {
      body: {
        type: 'object', required: ['path'], additionalProperties: false,
        properties: { path: { type: 'string', minLength: 1, maxLength: 4096 }, name: nameSchema },
      },
    },
  }, async (req, reply) => reply.code(201).send(await control.load(req.body)));
  app.delete<{ Params: { name: string } }>('/models/:name', { schema: { params: { type: 'object', properties: { name: nameSchema } } } },
    async (req) => control.unload(req.params.name));
}
