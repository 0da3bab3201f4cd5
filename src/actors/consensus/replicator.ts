// Demand-driven replication in the node: the coordinator's side (demand.ts is the policy).
//
// Every node's heartbeat carries, per model it serves, the queue waits of that model's jobs over
// the last window (`orch.demand`). The coordinator of a model — the holder of `model:<name>`'s
// record, or, while the group has none (one server alone, or too few to elect), the live server
// with the smallest peer id — averages its servers' reports into the group's mean wait and feeds
// it to a DemandWatch:
// - grow: it proposes, by threshold consensus in the model's group (the swarm while that group
//   is inactive), that k more nodes load the model (decision type `context`, choice
//   `migrate_context`: members agree when their allowed_actions allow it). Accepted, it draws the
//   volunteers by the response-threshold rule from the live peers whose manifests show room
//   (free memory for the file) and that do not serve the model, and sends each a model_request
//   (`replicate`); the target's own policy has the last word. No new step while one is pending.
// - shrink: it sends a `release` model_request to the newest replica added for demand; that node
//   unloads only what it loaded for demand, never below min_replicas, never a pinned model.
// Departure: the volunteers' draw is made by the coordinator from their manifests (memory, load)
// rather than by each node on its own — the same rule, one message round fewer; a node that
// would not have volunteered still refuses by its policy.
import type { Ask } from '../../runtime/protocol.ts';
import type { Config } from '../../config/types.ts';
import type { Clock } from '../../runtime/clock.ts';
import type { Logger } from '../../runtime/log.ts';
import type { ModelManifest } from '../../protocol/index.ts';
import type { PeerManifest, ServedModel } from '../network/messages.ts';
import type { JobRecord } from '../scheduler/messages.ts';
import { chooseVolunteers, DemandWatch, groupMeanWait, replicaToDrop, replicationStimulus, type Candidate, type WaitReport } from './demand.ts';
import type { ConsensusResult, ProposalInput } from './decisions.ts';
import type { ModelMover } from './replication.ts';

/** Memory a volunteer must have beyond the file's size (the KV cache, the runtime). */
export const HEADROOM_MB = 256;

export interface DemandEntry {
  model: string;
  wait_ms_sum: number;
  jobs: number;
  /** This node loaded the model because its group asked (a replica added for demand, the one kind a `release` unloads). */
  for_demand?: boolean;
}

/**
 * This node's report: per model served, the waits of jobs started in the window and the ages of
 * those still queued, and whether it holds the model for demand (`forDemand`: names).
 */
export function demandOf(jobs: readonly JobRecord[], models: readonly string[], now: number, windowMs: number, forDemand: ReadonlySet<string> = new Set()): DemandEntry[] {
  return models.map((model) => {
    let sum = 0;
    let n = 0;
    for (const j of jobs) {
      if (j.model !== model) continue;
      if (j.status === 'queued') { sum += Math.max(0, now - j.queued_at); n++; } else if (j.started_at !== null && j.started_at >= now - windowMs) { sum += Math.max(0, j.started_at - j.queued_at); n++; }
    }
    return { model, wait_ms_sum: Math.round(sum), jobs: n, ...(forDemand.has(model) ? { for_demand: true } : {}) };
  });
}

export interface ReplicatorDeps {
  config: Readonly<Config>;
  clock: Clock;
  log: Logger;
  rng: () => number;
  self(): string | undefined;
  /** The holder of a group's record (undefined: no record). */
  holderOf(group: string): string | undefined;
  /** The group a decision about this model is taken in. */
  decisionGroup(model: string): string;
  propose(input: ProposalInput): Promise<ConsensusResult>;
  ask: Ask;
  mover: ModelMover;
  newId(): string;
}

export interface ReplicationStatus {
  model: string;
  coordinator: boolean;
  mean_wait_ms: number;
  pending: string[];
  added: string[];
}

const QUICK_MS = 2000;

export class Replicator {
  private readonly reports = new Map<string, { at: number; demand: Map<string, WaitReport & { for_demand?: boolean }> }>();
  private readonly watches = new Map<string, DemandWatch>();
  private readonly pending = new Map<string, Set<string>>();
  /** Replicas added for demand by this coordinator: model → peer → since. */
  private readonly added = new Map<string, Map<string, number>>();
  private readonly last = new Map<string, ReplicationStatus>();
  private busy = false;

  constructor(private readonly deps: ReplicatorDeps) {}

  private get cfg() { return this.deps.config.models; }
  private get fresh() { return this.deps.config.distributed_orchestration.heartbeat_timeout_secs * 1000; }

  /** A report from a heartbeat (this node's own included). */
  onReport(peer: string, demand: readonly DemandEntry[] | undefined, now: number): void {
    if (!demand) return;
    this.reports.set(peer, { at: now, demand: new Map(demand.map((d) => [d.model, { wait_ms_sum: d.wait_ms_sum, jobs: d.jobs, for_demand: d.for_demand === true }])) });
  }

  status(): ReplicationStatus[] { return [...this.last.values()]; }

  /** One look at every model served here; call at heartbeat pace. */
  async tick(): Promise<void> {
    if (this.busy || this.cfg.replicate_wait_secs <= 0) return;
    this.busy = true;
    try {
      const self = this.deps.self();
      if (!self) return;
      const [served, peers] = await Promise.all([
        this.deps.ask('network', { type: 'network.models' }, QUICK_MS),
        this.deps.ask('network', { type: 'network.manifests' }, QUICK_MS),
      ]);
      const alive = new Map(peers.filter((p) => p.state === 'alive').map((p) => [p.peer_id, p]));
      for (const mine of served.filter((s) => s.self)) await this.consider(self, mine.model, served, alive);
    } finally {
      this.busy = false;
    }
  }

  private async consider(self: string, model: ModelManifest, served: readonly ServedModel[], alive: Map<string, PeerManifest>): Promise<void> {
    const now = this.deps.clock.now();
    const servers = [...new Set(served.filter((s) => s.model.sha256 === model.sha256 && (s.self || alive.has(s.peer_id))).map((s) => s.peer_id))];
    const holder = this.deps.holderOf(`model:${model.name}`);
    const coordinator = holder !== undefined && servers.includes(holder) ? holder === self : [...servers].sort()[0] === self;
    const reports = servers.flatMap((p) => {
      const r = this.reports.get(p);
      return r && now - r.at <= this.fresh ? [r.demand.get(model.name) ?? { wait_ms_sum: 0, jobs: 0 }] : [];
    });
    const wait = groupMeanWait(reports);
    const pending = this.pending.get(model.name) ?? new Set<string>();
    for (const p of pending) if (servers.includes(p)) pending.delete(p);
    const added = this.added.get(model.name) ?? new Map<string, number>();
    for (const p of added.keys()) if (!servers.includes(p) && !pending.has(p)) added.delete(p);
    // Replicas other coordinators added (the role moves when the servers change) say so in their reports.
    for (const p of servers) {
      const r = this.reports.get(p);
      if (r && now - r.at <= this.fresh && r.demand.get(model.name)?.for_demand && !added.has(p)) added.set(p, now);
    }
    this.pending.set(model.name, pending);
    this.added.set(model.name, added);
    this.last.set(model.name, { model: model.name, coordinator, mean_wait_ms: Math.round(wait), pending: [...pending], added: [...added.keys()] });
    if (!coordinator) { this.watches.delete(model.name); return; }
    let watch = this.watches.get(model.name);
    if (!watch) {
      watch = new DemandWatch({ high_ms: this.cfg.replicate_wait_secs * 1000, low_ms: this.cfg.unreplicate_wait_secs * 1000, after_ms: this.cfg.replicate_after_secs * 1000 });
      this.watches.set(model.name, watch);
    }
    const verdict = watch.observe(now, wait);
    if (verdict === 'grow' && pending.size === 0) await this.grow(model, wait, servers, alive, pending, added);
    else if (verdict === 'shrink' && added.size > 0) await this.shrink(model, servers, added);
  }

  private async grow(model: ModelManifest, wait: number, servers: string[], alive: Map<string, PeerManifest>,
    pending: Set<string>, added: Map<string, number>): Promise<void> {
    const { deps } = this;
    const k = this.cfg.replicate_count;
    const id = `r-${deps.newId()}`;
    const r = await deps.propose({
      id, group: deps.decisionGroup(model.name), decision_type: 'context', choice: 'migrate_context',
      params: JSON.stringify({ replicate: model.name, k, wait_ms: Math.round(wait) }).slice(0, 256),
      confidence: 0.8, strategy: 'heuristic', critical: false, urgency: Math.min(1, wait / (this.cfg.replicate_wait_secs * 4000)),
    }).catch((err: Error) => { deps.log.warn({ model: model.name, err: err.message }, 'Replication: no consensus decision'); return undefined; });
    if (!r || r.outcome !== 'accepted') {
      deps.log.info({ model: model.name, id, outcome: r?.outcome, reason: r?.reason }, 'Replication not agreed');
      return;
    }
    const needMb = (model.size ?? 0) / 1048576 + HEADROOM_MB;
    const candidates: Candidate[] = [...alive.values()].filter((p) => !servers.includes(p.peer_id) && p.manifest.load).map((p) => ({
      id: p.peer_id,
      free_mb: p.manifest.load!.mem_free_mb,
      load: (p.manifest.load!.busy_slots + p.manifest.load!.queue_depth) / Math.max(1, p.manifest.capacity?.slots ?? 1),
    }));
    const chosen = chooseVolunteers(candidates, needMb, replicationStimulus(wait, this.cfg.replicate_wait_secs * 1000), k, deps.rng);
    deps.log.info({ model: model.name, wait_ms: Math.round(wait), decision: id, candidates: candidates.length, chosen }, 'Replication agreed: asking volunteers to load the model');
    for (const target of chosen) {
      pending.add(target);
      // Given up (and the step open again) after a pull at 20 MiB/s, or a minute: a target that refused says so only in its log.
      const timeoutMs = Math.max(60_000, ((model.size ?? 0) / (20 * 1048576)) * 1000);
      void deps.mover.requestLoad(target, { name: model.name, sha256: model.sha256 }, 'replicate', timeoutMs).then((ok) => {
        pending.delete(target);
        if (ok) added.set(target, deps.clock.now());
      });
    }
  }

  private async shrink(model: ModelManifest, servers: string[], added: Map<string, number>): Promise<void> {
    const replicas = servers.map((p) => ({ id: p, since: added.get(p) ?? -Infinity, pinned: !added.has(p) }));
    const drop = replicaToDrop(replicas, this.cfg.min_replicas);
    if (drop === undefined) return;
    this.deps.log.info({ model: model.name, replica: drop, replicas: servers.length }, 'Demand fell: asking a replica added for it to unload');
    added.delete(drop);
    await this.deps.mover.requestRelease(drop, { name: model.name, sha256: model.sha256 });
  }
}
