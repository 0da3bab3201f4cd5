// Models moving between nodes on the swarm's word: the orchestrator's migrate_context, and the
// demand-driven replication of a model group (docs/ARCHITECTURE.md, "Models move").
//
// A node asks another to serve a model with a signed `model_request` on mvp/1/orch
// (protocol/model-request.ts). The target judges it by its own policy (`acceptsRequest`), pulls
// the file from the peers that announce it if it lacks it (/mvp/model/1.0.0, every chunk
// verified), loads it (the checks of any load: format, ≤ 7B, memory), and announces its new
// manifest. It answers by doing: the requester watches the manifests, and only once the target
// serves the model does the source unload its own copy — when the decision asked for it, the
// model is not pinned here, and at least `[models] min_replicas` other nodes still serve it.
//
// The requester repeats its request every RESEND_MS until the target serves the model or the
// migration times out (gossip published before the mesh formed is lost); the target handles a
// request id once.
import type { Ask } from '../../runtime/protocol.ts';
import type { Config } from '../../config/types.ts';
import type { Clock } from '../../runtime/clock.ts';
import type { Logger } from '../../runtime/log.ts';
import type { Manifest, ModelRequestBody } from '../../protocol/index.ts';
import type { ModelControl } from '../../node/model-control.ts';
import type { PeerManifest, ServedModel } from '../network/messages.ts';
import { pulledBytes } from '../../models/pulled.ts';
import { CodedError } from '../../errors/registry.ts';

/** How often a requester repeats a request the target has not acted on yet. */
export const RESEND_MS = 5000;
/** How often a requester looks at the manifests for the target serving the model. */
export const POLL_MS = 500;
/** A migration whose target does not serve the model by then fails (a pull of a few GiB). */
export const MIGRATE_TIMEOUT_MS = 30 * 60_000;
/** A replication request whose target does not serve the model by then is given up. */
export const REPLICATE_TIMEOUT_MS = 10 * 60_000;
/** Migrations and requests remembered for GET /orchestration. */
export const MOVES_KEPT = 50;
const QUICK_MS = 2000;

export type MigrationState = 'requested' | 'serving' | 'unloaded' | 'kept' | 'failed';

/** A migrate_context this node (the source) started. */
export interface Migration {
  id: string;
  model: string;
  sha256: string;
  target: string;
  target_node?: string;
  /** Whether the source unloads its copy once the target serves the model. */
  unload_source: boolean;
  state: MigrationState;
  /** Why it failed, or why the source kept its copy. */
  reason?: string;
  started_at: number;
  served_at?: number;
  finished_at?: number;
}

export type RequestState = 'loading' | 'loaded' | 'already_served' | 'released' | 'refused' | 'failed';

/** A model_request this node (the target) received. */
export interface HandledRequest {
  request_id: string;
  from: string;
  model: string;
  sha256: string;
  reason: ModelRequestBody['reason'];
  state: RequestState;
  detail?: string;
  at: number;
}

export interface MigrateParams {
  model: string;
  /** Peer id or node id of the target. */
  target: string;
  unload_source: boolean;
  timeout_ms?: number;
}

/** A migrate request that cannot start: the message says why. */
export class MigrationError extends CodedError {
  override name = 'MigrationError';
  constructor(message: string) { super('migration_invalid', message); }
}

/**
 * Why this node refuses to load a model a peer asks for, or undefined when its policy allows it:
 * `[models] accept_replication`, `replicate_allow` (names or sha256; empty: any), and for a
 * migration its orchestrator's `allowed_actions`.
 */
export function refusalOf(config: Readonly<Config>, req: Pick<ModelRequestBody, 'model' | 'reason'>): string | undefined {
  const m = config.models;
  if (!m.accept_replication) return '[models] accept_replication is false';
  if (m.replicate_allow.length > 0 && !m.replicate_allow.includes(req.model.name) && !m.replicate_allow.includes(req.model.sha256)) {
    return `model ${req.model.name} (${req.model.sha256.slice(0, 12)}…) is not in [models] replicate_allow`;
  }
  if (req.reason === 'migrate' && !config.orchestrator.safety.allowed_actions.includes('migrate_context')) {
    return 'migrate_context is not in orchestrator.safety.allowed_actions';
  }
  return undefined;
}

/**
 * Why this node keeps a model it would otherwise unload, from what the network actor knows:
 * the model is pinned here (`[models] pinned`, by name or sha256), or fewer than
 * `[models] min_replicas` other live nodes serve it. Undefined: it may unload.
 */
export function keepReasonOf(config: Readonly<Config>, name: string, sha256: string, served: readonly ServedModel[], peers: readonly PeerManifest[]): string | undefined {
  const m = config.models;
  if (m.pinned.includes(name) || m.pinned.includes(sha256)) return `${name} is pinned here ([models] pinned)`;
  const live = new Set(peers.filter((p) => p.state === 'alive').map((p) => p.peer_id));
  const others = replicasOf(served, sha256, live) - (served.some((s) => s.self && s.model.sha256 === sha256) ? 1 : 0);
  if (others < m.min_replicas) {
    return `${others} other node(s) serve ${name}: unloading would leave fewer than [models] min_replicas = ${m.min_replicas}`;
  }
  return undefined;
}

/** Distinct live nodes (this one included) whose manifests list the file. */
export function replicasOf(served: readonly ServedModel[], sha256: string, live?: ReadonlySet<string>): number {
  return new Set(served.filter((s) => s.model.sha256 === sha256 && (s.self || !live || live.has(s.peer_id))).map((s) => s.peer_id)).size;
}

export interface ModelMoverDeps {
  config: Readonly<Config>;
  clock: Clock;
  log: Logger;
  /** This node's peer id, once the network has said it. */
  self(): string | undefined;
  ask: Ask;
  /** Gossips a model_request on mvp/1/orch. */
  publish(body: ModelRequestBody): Promise<unknown>;
  /** Loads and unloads models here; absent on a node without a data directory (a simulated one). */
  control?: ModelControl;
  /** Where pulled files go (for the disk cap). */
  pullDir?: string;
  newId(): string;
}

export class ModelMover {
  private readonly migrations: Migration[] = [];
  private readonly handled: HandledRequest[] = [];
  private readonly seen = new Set<string>();
  /** Models this node loaded because its model group asked (the only ones a `release` unloads): name → sha256. */
  private readonly forDemand = new Map<string, string>();
  private stopped = false;

  constructor(private readonly deps: ModelMoverDeps) {}

  stop(): void { this.stopped = true; }

  /** Names of the models this node loaded because its model group asked (its heartbeat says so). */
  demandModels(): Set<string> { return new Set(this.forDemand.keys()); }

  status(): { migrations: Migration[]; requests: HandledRequest[] } {
    return { migrations: this.migrations.map((m) => ({ ...m })), requests: this.handled.map((r) => ({ ...r })) };
  }

  // --- the source: migrate_context -------------------------------------------------------

  /**
   * Starts moving a model served here to a target; answers at once with the migration (its
   * progress is in status()). Throws MigrationError when it cannot start.
   */
  async migrate(p: MigrateParams): Promise<Migration> {
    const { deps } = this;
    const self = deps.self();
    if (!self) throw new MigrationError('the network has not started yet');
    const mine = await deps.ask('network', { type: 'network.manifest' }, QUICK_MS);
    const model = mine.models.find((m) => m.name === p.model || m.sha256 === p.model);
    if (!model) throw new MigrationError(`model ${p.model} is not served here (served: ${mine.models.map((m) => m.name).join(', ') || 'none'})`);
    const peers = await deps.ask('network', { type: 'network.manifests' }, QUICK_MS);
    const target = peers.find((x) => x.peer_id === p.target || x.manifest.node_id === p.target);
    if (!target) throw new MigrationError(`no known peer ${p.target} (by peer id or node id)`);
    if (target.peer_id === self) throw new MigrationError('the target is this node');
    const m: Migration = {
      id: `m-${deps.newId()}`, model: model.name, sha256: model.sha256, target: target.peer_id, target_node: target.manifest.node_id,
      unload_source: p.unload_source, state: 'requested', started_at: deps.clock.now(),
    };
    this.remember(this.migrations, m);
    deps.log.info({ migration: m.id, model: m.model, target: m.target, target_node: m.target_node, unload_source: m.unload_source }, 'Migration started');
    void this.run(m, p.timeout_ms ?? MIGRATE_TIMEOUT_MS).catch((err: Error) => this.finish(m, 'failed', err.message));
    return { ...m };
  }

  /**
   * Sends a model_request and repeats it every RESEND_MS until the target's manifest shows the
   * wanted state (serving the model, or for `release` not serving it) or the time is up.
   */
  private async askUntil(body: ModelRequestBody, serving: boolean, timeoutMs: number): Promise<boolean> {
    const { deps } = this;
    const deadline = deps.clock.now() + timeoutMs;
    let sentAt = -Infinity;
    for (;;) {
      if (this.stopped) return false;
      const served = await deps.ask('network', { type: 'network.models' }, QUICK_MS).catch(() => undefined);
      if (served && served.some((s) => s.peer_id === body.target && s.model.sha256 === body.model.sha256) === serving) return true;
      const now = deps.clock.now();
      if (now >= deadline) return false;
      if (now - sentAt >= RESEND_MS) {
        sentAt = now;
        await deps.publish(body).catch((err: Error) => deps.log.warn({ request: body.request_id, err: err.message }, 'Model request not sent'));
      }
      await this.sleep(POLL_MS);
    }
  }

  private body(target: string, model: { name: string; sha256: string }, reason: ModelRequestBody['reason'], timeoutMs: number, id?: string): ModelRequestBody {
    return { request_id: id ?? `q-${this.deps.newId()}`, requester: this.deps.self()!, target, model, reason, expires_at: Date.now() + timeoutMs };
  }

  /** The group's replication: asks a target to load a model; true once it serves it. */
  requestLoad(target: string, model: { name: string; sha256: string }, reason: 'replicate', timeoutMs = REPLICATE_TIMEOUT_MS): Promise<boolean> {
    if (!this.deps.self()) return Promise.resolve(false);
    return this.askUntil(this.body(target, model, reason, timeoutMs), true, timeoutMs).catch(() => false);
  }

  /** The group's replication, demand fallen: asks a replica added for demand to unload; true once it no longer serves it. */
  requestRelease(target: string, model: { name: string; sha256: string }, timeoutMs = 60_000): Promise<boolean> {
    const self = this.deps.self();
    if (!self) return Promise.resolve(false);
    if (target === self) {
      // The coordinator is the replica (the role moved to it): gossip does not come back to its sender.
      const body = this.body(target, model, 'release', timeoutMs);
      this.onRequest(self, body);
      return Promise.resolve(true);
    }
    return this.askUntil(this.body(target, model, 'release', timeoutMs), false, timeoutMs).catch(() => false);
  }

  private async run(m: Migration, timeoutMs: number): Promise<void> {
    const { deps } = this;
    const served = await this.askUntil(this.body(m.target, { name: m.model, sha256: m.sha256 }, 'migrate', timeoutMs, m.id), true, timeoutMs);
    if (this.stopped) return;
    if (!served) {
      this.finish(m, 'failed', `the target did not serve ${m.model} within ${Math.round(timeoutMs / 1000)} s (its log says why)`);
      return;
    }
    m.state = 'serving';
    m.served_at = deps.clock.now();
    deps.log.info({ migration: m.id, model: m.model, target: m.target, after_ms: m.served_at - m.started_at }, 'Migration: the target serves the model');
    if (!m.unload_source) { this.finish(m, 'kept', 'unload_source is false'); return; }
    const keep = await this.keepReason(m.model, m.sha256);
    if (keep) { this.finish(m, 'kept', keep); return; }
    if (!deps.control) { this.finish(m, 'kept', 'this node cannot unload models (no data directory)'); return; }
    await deps.control.unload(m.model);
    this.finish(m, 'unloaded');
  }

  /**
   * Why this node keeps a model it would otherwise unload (pinned; fewer than min_replicas other
   * live nodes serving it), or undefined.
   */
  async keepReason(name: string, sha256: string): Promise<string | undefined> {
    if (this.deps.config.models.pinned.includes(name)) return keepReasonOf(this.deps.config, name, sha256, [], []);
    const [served, peers] = await Promise.all([
      this.deps.ask('network', { type: 'network.models' }, QUICK_MS),
      this.deps.ask('network', { type: 'network.manifests' }, QUICK_MS),
    ]);
    return keepReasonOf(this.deps.config, name, sha256, served, peers);
  }

  private finish(m: Migration, state: MigrationState, reason?: string): void {
    m.state = state;
    if (reason) m.reason = reason;
    m.finished_at = this.deps.clock.now();
    const line = { migration: m.id, model: m.model, target: m.target, state, reason };
    if (state === 'failed') this.deps.log.warn(line, 'Migration failed');
    else this.deps.log.info(line, 'Migration done');
  }

  // --- the target: a model_request from a peer -------------------------------------------

  /** A model_request gossiped on mvp/1/orch (already checked: signed by its requester, schema-valid). */
  onRequest(from: string, body: ModelRequestBody): void {
    const self = this.deps.self();
    if (!self || body.target !== self || from !== body.requester) return;
    if (this.seen.has(body.request_id)) return;
    if (body.expires_at < Date.now()) return;
    this.seen.add(body.request_id);
    if (this.seen.size > 10 * MOVES_KEPT) this.seen.delete(this.seen.values().next().value!);
    const r: HandledRequest = {
      request_id: body.request_id, from, model: body.model.name, sha256: body.model.sha256, reason: body.reason, state: 'loading', at: this.deps.clock.now(),
    };
    this.remember(this.handled, r);
    void this.serve(r, body).catch((err: Error & { code?: string }) => this.settle(r, 'failed', err.code ? `${err.code}: ${err.message}` : err.message));
  }

  private async serve(r: HandledRequest, body: ModelRequestBody): Promise<void> {
    const { deps } = this;
    if (body.reason === 'release') { await this.release(r, body); return; }
    const refused = refusalOf(deps.config, body) ?? (deps.control ? undefined : 'this node has no data directory to pull models into');
    if (refused) { this.settle(r, 'refused', refused); return; }
    const mine = await deps.ask('network', { type: 'network.manifest' }, QUICK_MS);
    if (mine.models.some((m) => m.sha256 === body.model.sha256)) { this.settle(r, 'already_served'); return; }
    const cap = deps.config.models.max_pulled_mib;
    if (cap > 0 && deps.pullDir) {
      const served = await deps.ask('network', { type: 'network.models' }, QUICK_MS);
      const size = served.find((s) => s.model.sha256 === body.model.sha256)?.model.size ?? 0;
      const used = await pulledBytes(deps.pullDir);
      if (used + size > cap * 1024 * 1024) {
        this.settle(r, 'refused', `pulling ${(size / 1048576).toFixed(1)} MiB would take the pulled models past [models] max_pulled_mib = ${cap} (${(used / 1048576).toFixed(1)} MiB used)`);
        return;
      }
    }
    deps.log.info({ request: r.request_id, from: r.from, model: r.model, sha256: r.sha256, reason: r.reason }, 'Loading a model a peer asked for');
    // The name is the requester's; one already taken here keeps the load from clashing.
    const name = mine.models.some((m) => m.name === body.model.name) ? `${body.model.name}-${body.model.sha256.slice(0, 8)}` : body.model.name;
    await deps.control!.load({ sha256: body.model.sha256, name });
    if (body.reason === 'replicate') this.forDemand.set(name, body.model.sha256);
    this.settle(r, 'loaded');
  }

  /** A `release`: unload a model loaded for demand, if pinning and min_replicas allow. */
  private async release(r: HandledRequest, body: ModelRequestBody): Promise<void> {
    const name = [...this.forDemand].find(([, sha]) => sha === body.model.sha256)?.[0];
    if (name === undefined) { this.settle(r, 'refused', `${body.model.name} was not loaded here for demand`); return; }
    const keep = await this.keepReason(name, body.model.sha256);
    if (keep) { this.settle(r, 'refused', keep); return; }
    if (!this.deps.control) { this.settle(r, 'refused', 'this node cannot unload models (no data directory)'); return; }
    await this.deps.control.unload(name);
    this.forDemand.delete(name);
    this.settle(r, 'released');
  }

  private settle(r: HandledRequest, state: RequestState, detail?: string): void {
    r.state = state;
    if (detail) r.detail = detail;
    const line = { request: r.request_id, from: r.from, model: r.model, state, detail };
    if (state === 'refused' || state === 'failed') this.deps.log.warn(line, 'Model request not served');
    else this.deps.log.info(line, 'Model request served');
  }

  // --- internals -------------------------------------------------------------------------

  private remember<T>(list: T[], item: T): void {
    list.push(item);
    if (list.length > MOVES_KEPT) list.splice(0, list.length - MOVES_KEPT);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => { this.deps.clock.setTimeout(resolve, ms); });
  }
}
