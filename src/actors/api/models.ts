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
// Pulled files live in `<data_dir>/<node-id>/pulled/` as `<sha256>.gguf` (model-transfer.ts in
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
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../../config/types.ts';
import type { Ask, NoExtra, RequestOf } from '../../runtime/protocol.ts';
import { SUPERVISOR } from '../../runtime/supervisor.ts';
import type { Manifest, ModelManifest } from '../../protocol/index.ts';
import { describeModel, inferenceChildSpec, type ServedModel } from '../../node/models.ts';
import { inferenceAddress, isInferenceAddress, type InferenceStatus } from '../inference/messages.ts';
import type { ServedModel as SwarmModel } from '../network/messages.ts';
import type { PullProgress, SharedFile } from '../network/model-transfer.ts';
import type { RetireReply, SchedulerStatus } from '../scheduler/messages.ts';
import { inferenceReplyTimeoutMs } from '../scheduler/timeouts.ts';
import { errorCodeOf } from '../../errors/registry.ts';
import { ApiError } from './messages.ts';

/** A model served here, as GET /models lists it. */
export type ServedModelInfo = InferenceStatus;

/** A model some peer announces, with every peer that does. */
export interface SwarmModelInfo { name: string; sha256: string; params: number; quantization: string; peers: string[] }

export interface ModelsBody { loaded: ServedModelInfo[]; swarm: SwarmModelInfo[]; pulls: PullProgress[] }

export interface ModelControlInit {
  config: Readonly<Config>;
  /** Where pulled model files go. */
  pullDir: string;
  ask: Ask;
}

const QUICK_MS = 2000;
/** Loading validates, hashes and loads a model: minutes for a large one. */
const LOAD_TIMEOUT_MS = 300_000;
/** A pull of a few GiB over a slow link. */
const PULL_TIMEOUT_MS = 6 * 3600_000;

/** A failed pull (from the network actor) as the HTTP answer it becomes: its reason leads the message. */
function asPullError(err: unknown): unknown {
  const code = errorCodeOf(err);
  if (code !== 'pull_failed' && code !== 'pull_disk_full') return err;
  const e = err as Error & { reason?: string };
  return new ApiError(code, `${e.reason ?? 'failed'}: ${e.message}`);
}

export class ModelControl {
  private ops: Promise<unknown> = Promise.resolve();

  constructor(private readonly init: ModelControlInit) {}

  async list(): Promise<ModelsBody> {
    const actors = await this.supervisor({ type: 'supervisor.actors' });
    const served = actors.filter((a) => a.status === 'running').map((a) => a.name).filter(isInferenceAddress);
    const loaded = (await Promise.all(served.map((name) => this.init.ask(name, { type: 'inference.status' }, QUICK_MS).catch(() => undefined))))
      .filter((s) => s !== undefined);
    const known = await this.init.ask('network', { type: 'network.models' }, QUICK_MS).catch((): SwarmModel[] => []);
    const swarm = new Map<string, SwarmModelInfo>();
    for (const k of known) {
      if (k.self) continue;
      const e = swarm.get(k.model.sha256) ?? { name: k.model.name, sha256: k.model.sha256, params: k.model.params, quantization: k.model.quantization, peers: [] };
      e.peers.push(k.peer_id);
      swarm.set(k.model.sha256, e);
    }
    const pulls = await this.init.ask('network', { type: 'network.pulls' }, QUICK_MS).catch((): PullProgress[] => []);
    return { loaded, swarm: [...swarm.values()], pulls };
  }

  /** Start (or join) a pull without waiting for it. */
  async startPull(sha256: string): Promise<PullProgress> {
    const pull = this.init.ask('network', { type: 'network.pull', sha256, dir: this.init.pullDir }, PULL_TIMEOUT_MS);
    pull.catch(() => undefined);
    // The network answers the list at once; a pull that fails at its first step is already in it.
    for (let i = 0; i < 20; i++) {
      const mine = (await this.init.ask('network', { type: 'network.pulls' }, QUICK_MS)).find((p) => p.sha256 === sha256);
      if (mine?.state === 'failed') await pull.catch((err: unknown) => { throw asPullError(err); });
      if (mine) return mine;
      await new Promise((r) => setTimeout(r, 25));
    }
    return pull.catch((err: unknown) => { throw asPullError(err); });
  }

  cancelPull(sha256: string): Promise<{ sha256: string; cancelled: boolean }> {
    return this.init.ask('network', { type: 'network.cancel_pull', sha256 }, QUICK_MS);
  }

  /** Removes pulled files no model is served from, and partial pulls not running. */
  prune(): Promise<{ removed: string[] }> {
    return this.serial(async () => {
      const inUse = new Set((await this.loadedStatus()).map((s) => s.path));
      const running = new Set((await this.init.ask('network', { type: 'network.pulls' }, QUICK_MS))
        .filter((p) => p.state === 'running').map((p) => p.sha256));
      const names = await readdir(this.init.pullDir).catch(() => [] as string[]);
      const removed: string[] = [];
      for (const n of names) {
        const m = /^([0-9a-f]{64})\.(gguf|part|part\.json)$/.exec(n);
        if (!m) continue;
        const path = join(this.init.pullDir, n);
        if (inUse.has(path) || running.has(m[1]!)) continue;
        await rm(path, { force: true });
        removed.push(path);
      }
      return { removed };
    });
  }

  async load(body: { path: string; name?: string } | { sha256: string; name?: string }): Promise<ServedModelInfo> {
    if (!('sha256' in body)) return this.loadFile(body.path, body.name);
    const served = (await this.manifests()).find((m) => m.sha256 === body.sha256);
    if (served) throw new ApiError('model_loaded', `model ${body.sha256} is already served here as ${served.name}`);
    // Not one at a time: a long pull must not hold up other loads and unloads.
    const pulled = await this.init.ask('network', { type: 'network.pull', sha256: body.sha256, dir: this.init.pullDir }, PULL_TIMEOUT_MS)
      .catch((err: unknown) => { throw asPullError(err); });
    return this.loadFile(pulled.path!, body.name ?? (pulled.name || body.sha256.slice(0, 12)), body.sha256);
  }

  /** Loads one file; `sha256`: what it must still hash to (a pulled file). */
  private loadFile(path: string, name: string | undefined, sha256?: string): Promise<ServedModelInfo> {
    return this.serial(async () => {
      const { config } = this.init;
      // A file failing a check throws ModelLoadError (invalid_model) or ResourceExhaustedError.
      const model = await describeModel(config, path, name);
      if (sha256 !== undefined && model.manifest.sha256 !== sha256) {
        throw new ApiError('invalid_model', `${path} no longer has sha256 ${sha256} (it changed on disk); prune it and pull again`);
      }
      const manifests = await this.manifests();
      if (manifests.some((m) => m.name === model.name)) throw new ApiError('model_loaded', `a model named ${model.name} is already served here; unload it first or pick another name`);
      const twin = manifests.find((m) => m.sha256 === model.manifest.sha256);
      if (twin) throw new ApiError('model_loaded', `this file (sha256 ${twin.sha256}) is already served here as ${twin.name}`);
      try {
        await this.supervisor({ type: 'supervisor.add', spec: inferenceChildSpec(model, config.runtime.shutdown_timeout_ms, config.runtime.placement.inference) }, LOAD_TIMEOUT_MS);
      } catch (err) {
        const code = errorCodeOf(err);
        if (code === 'actor_start_failed') throw new ApiError('model_load_failed', `${model.path} did not load: ${(err as Error).message}`);
        if (code === 'duplicate_actor') throw new ApiError('model_loaded', (err as Error).message);
        throw err;
      }
      const status = await this.init.ask('scheduler', { type: 'scheduler.add_model', model: { name: model.name, sequences: model.sequences } }, QUICK_MS);
      await this.publish([...manifests, model.manifest], status);
      return this.init.ask(inferenceAddress(model.name), { type: 'inference.status' }, QUICK_MS);
    });
  }

  unload(name: string): Promise<{ model: string; unloaded: true }> {
    return this.serial(async () => {
      const actors = await this.supervisor({ type: 'supervisor.actors' });
      if (!actors.some((a) => a.name === inferenceAddress(name))) {
        throw new ApiError('unknown_model', `no model named ${name} is served here`);
      }
      const manifests = (await this.manifests()).filter((m) => m.name !== name);
      const files = (await this.files()).filter((f) => manifests.some((m) => m.sha256 === f.sha256));
      // No new claim first, then the jobs already here, then the actor.
      await this.init.ask('network', { type: 'network.set_models', models: manifests, files }, QUICK_MS);
      await this.supervisor({ type: 'supervisor.update_args', name: 'network', args: { models: manifests, files } });
      // Running jobs finish: at most one job's run, and the scheduler's own backstop after it.
      const drainMs = inferenceReplyTimeoutMs(this.init.config) + QUICK_MS;
      await this.init.ask('scheduler', { type: 'scheduler.retire_model', name }, drainMs);
      await this.supervisor({ type: 'supervisor.remove', name: inferenceAddress(name) }, LOAD_TIMEOUT_MS);
      const status = await this.init.ask('scheduler', { type: 'scheduler.status' }, QUICK_MS);
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

  private supervisor<const M extends RequestOf<typeof SUPERVISOR>>(msg: M & NoExtra<M, RequestOf<typeof SUPERVISOR>>, timeoutMs = QUICK_MS) {
    return this.init.ask(SUPERVISOR, msg, timeoutMs);
  }

  /** What this node's manifest lists now. */
  private async manifests(): Promise<ModelManifest[]> {
    return (await this.init.ask('network', { type: 'network.manifest' }, QUICK_MS)).models;
  }

  private async loadedStatus(): Promise<InferenceStatus[]> {
    const actors = await this.supervisor({ type: 'supervisor.actors' });
    return Promise.all(actors.map((a) => a.name).filter(isInferenceAddress)
      .map((name) => this.init.ask(name, { type: 'inference.status' }, QUICK_MS)));
  }

  /** The files of the models served here, for peers to fetch. */
  private async files(): Promise<SharedFile[]> {
    return (await this.loadedStatus()).map((s) => ({ sha256: s.sha256, path: s.path }));
  }

  private async publish(manifests: ModelManifest[], status: SchedulerStatus): Promise<void> {
    await this.init.ask('network', { type: 'network.set_models', models: manifests, files: await this.files() }, QUICK_MS);
    await this.updateArgs(manifests, status);
  }

  /** A restarted scheduler, network or consensus actor starts with the models served now. */
  private async updateArgs(manifests: ModelManifest[], status: SchedulerStatus): Promise<void> {
    const actors = new Set((await this.supervisor({ type: 'supervisor.actors' })).map((a) => a.name));
    const sequences = await Promise.all(status.models.map(async (name) =>
      (await this.init.ask(inferenceAddress(name), { type: 'inference.status' }, QUICK_MS)).sequences));
    await this.supervisor({ type: 'supervisor.update_args', name: 'scheduler', args: { models: status.models.map((name, i) => ({ name, sequences: sequences[i]! })) } });
    const files = (await this.files()).filter((f) => manifests.some((m) => m.sha256 === f.sha256));
    await this.supervisor({ type: 'supervisor.update_args', name: 'network', args: { models: manifests, files } });
    if (actors.has('consensus')) await this.supervisor({ type: 'supervisor.update_args', name: 'consensus', args: { models: manifests.map((m) => m.name) } });
  }
}

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
