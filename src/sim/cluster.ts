// The virtual-time cluster: N OrchestrationCores — the code the consensus actor
// runs — on one VirtualClock, exchanging heartbeats and orchestration messages over an in-memory
// bus with per-link latency (LinkModel), extra delay, message loss and partitions; jobs placed by
// the response-threshold model (scoped offers, claims drawn with T = s²/(s²+θ²), the offerer's
// pick by routeJob) and served with modelled service times on heterogeneous nodes; faults at
// given times. It checks the invariants as it goes and reports; the same seed gives the same
// report, byte for byte (no wall clock, no Math.random, no I/O).
import { tickMs } from '../actors/consensus/index.ts';
import { OrchestrationCore, type CoreConfig, type CoreEvent, type Durable, type OrchMessageType } from '../actors/consensus/core.ts';
import type { ConsensusResult } from '../actors/consensus/decisions.ts';
import { routeJob, type RoutingCandidate } from '../actors/consensus/router.ts';
import { responseProbability, seededRandom, stimulus, THETA_MIN } from '../actors/consensus/threshold.ts';
import type { CoordVoteBody, DecisionVoteBody, OrchSummary } from '../protocol/index.ts';
import { LinkModel, VirtualClock } from './clock.ts';
import { quantile, round, takeAtOnce } from './placement.ts';

export type Fault =
  | { at_ms: number; kind: 'kill'; node: number | 'coordinator' }
  | { at_ms: number; kind: 'restart'; node: number }
  /** The node's consensus actor dies and is restarted by its supervisor: volatile state lost, ledger kept. */
  | { at_ms: number; kind: 'kill_actor'; node: number | 'coordinator'; actor: string }
  | { at_ms: number; kind: 'partition'; /** Share of the nodes (the first ones) cut off on side 1. */ fraction: number }
  | { at_ms: number; kind: 'heal' }
  | { at_ms: number; kind: 'delay'; extra_ms: number; duration_ms: number }
  | { at_ms: number; kind: 'loss'; rate: number; duration_ms: number }
  | { at_ms: number; kind: 'decision'; count: number };

export interface Scenario {
  name: string;
  nodes: number;
  seed: number;
  duration_ms: number;
  /** Jobs per second over the whole cluster (0: none). */
  job_rate: number;
  /** Jobs stop arriving this long before the end, so that the last ones can finish. */
  drain_ms: number;
  /**
   * The network grows from one node to all of them over this time (0: all start at once): in a
   * seeded order, the k-th node starts at join_ms × ln(1 + k) / ln(nodes), so the first found
   * the coordination before the crowd arrives. Jobs and decisions start 3 heartbeat timeouts
   * after it.
   */
  join_ms: number;
  mean_job_ms: number;
  /** Consensus decisions proposed per second by random live nodes. */
  decision_rate: number;
  loss: number;
  min_delay_ms: number;
  max_delay_ms: number;
  config: CoreConfig;
  faults: Fault[];
}

/**
 * The default scenario's settings: a short heartbeat timeout (3 s) and a council of 15 (the
 * node's default is 31), so that large runs take minutes — heartbeats dominate their cost.
 */
export const SIM_CORE_CONFIG: CoreConfig = {
  mode: 'emergent', rotation_trigger: 'adaptive', heartbeat_timeout_ms: 3000, min_nodes_per_group: 2, max_groups_per_node: 3,
  consensus_timeout_ms: 1000, max_consensus_rounds: 3, base_consensus_threshold: 0.6, high_value_threshold: 10, council_size: 15,
};

/**
 * The default scenario: N/2 jobs/s (at most 1 000), a coordinator killed, a partition healed, a
 * spell of delay and of loss.
 */
export function defaultScenario(nodes: number, seed: number): Scenario {
  // Past 1 000 nodes the network grows over 10 s (see join_ms) and the script starts after it.
  const join = nodes > 1000 ? 10_000 : 0;
  return {
    name: 'default', nodes, seed, duration_ms: join + 60_000, job_rate: Math.min(1000, Math.max(1, nodes / 2)), drain_ms: 15_000, mean_job_ms: 1000,
    join_ms: join, decision_rate: 1, loss: 0, min_delay_ms: 2, max_delay_ms: 25, config: { ...SIM_CORE_CONFIG },
    faults: [
      { at_ms: join + 10_000, kind: 'kill', node: 'coordinator' },
      { at_ms: join + 20_000, kind: 'partition', fraction: 0.3 },
      { at_ms: join + 28_000, kind: 'heal' },
      { at_ms: join + 34_000, kind: 'delay', extra_ms: 100, duration_ms: 3000 },
      { at_ms: join + 38_000, kind: 'loss', rate: 0.05, duration_ms: 3000 },
    ],
  };
}

interface SimNode {
  i: number;
  id: string;
  core?: OrchestrationCore;
  durable: Durable;
  side: number;
  speed: number;
  slots: number;
  slotFree: number[];
  executed: number;
  busy: number;
  hbTimer: number;
  tickTimer: number;
  /** Bumped when the whole node dies (its running jobs die with it), not when only its consensus actor restarts. */
  incarnation: number;
  /** The swarm record its core holds, as a key of ClusterSim.records ('' for none, undefined when down). */
  recKey?: string;
  /** That record (records are replaced, never changed in place: same object, same key). */
  rec?: object;
}

/**
 * The nodes holding one swarm record, and whom they listen to (OrchestrationCore.hearsIn): the
 * holder and the electorate; without the electorate (partial), the holder and each node's own
 * peer table.
 */
interface RecordBucket { nodes: Set<SimNode>; hears: Set<string>; holder: string; partial: boolean }

interface JobState {
  id: number;
  origin: number;
  size: number;
  submitted: number;
  attempt: number;
  executor?: number;
  completed?: number;
  completions: number;
  deadline?: number;
  dispatchedAt?: number;
  /** When the current attempt's run ends on its executor. */
  finishAt?: number;
}

export interface NodeReport { node: string; up: boolean; speed: number; slots: number; executed: number; utilisation: number; epoch: number; coordinator?: string; partition: string }

export interface SimReport {
  scenario: string;
  nodes: number;
  seed: number;
  virtual_ms: number;
  events: number;
  messages: { delivered: number; dropped: number; by_type: Record<string, number> };
  jobs: { submitted: number; completed: number; in_flight_at_end: number; lost: number; orphaned_by_submitter_death: number; duplicate_executions: number; reoffers: number; mean_ms: number; p99_ms: number; messages_per_job: number };
  decisions: { proposed: number; accepted: number; rejected: number; no_quorum: number; p50_ms: number; p90_ms: number; p99_ms: number };
  elections: Array<{ killed: string; at_ms: number; agreed_after_ms?: number }>;
  partitions: Array<{ at_ms: number; detected_after_ms?: number; healed_at_ms?: number; converged_after_ms?: number }>;
  invariants: { ok: boolean; violations: string[] };
  per_node: NodeReport[];
}

const SPEEDS = [0.5, 1, 1, 2];
const SLOTS = [1, 2, 2, 4];

export class ClusterSim {
  readonly clock = new VirtualClock(0);
  readonly nodes: SimNode[] = [];
  private readonly rng: () => number;
  private readonly links: LinkModel;
  private readonly cfg: CoreConfig;
  private loss: number;
  private extraDelay = 0;
  private partitioned = false;
  private readonly jobs: JobState[] = [];
  private jobMessages = 0;
  private reoffers = 0;
  private duplicates = 0;
  private delivered = 0;
  private dropped = 0;
  private readonly byType: Record<string, number> = {};
  private readonly holders = new Map<string, string>();
  readonly violations: string[] = [];
  private readonly decisionLat: number[] = [];
  private readonly decisionCounts = { proposed: 0, accepted: 0, rejected: 0, no_quorum: 0 };
  private readonly decided = new Set<string>();
  private nextDecision = 0;
  private readonly elections: SimReport['elections'] = [];
  private readonly partitions: SimReport['partitions'] = [];
  private readonly tickMs: number;
  private readonly byId = new Map<string, SimNode>();
  /** Heartbeat routing: nodes with no swarm record (they listen to everyone) and the others by record. */
  private readonly seeking = new Set<SimNode>();
  private readonly records = new Map<string, RecordBucket>();
  private liveCount = 0;

  constructor(readonly sc: Scenario) {
    this.rng = seededRandom(sc.seed);
    this.cfg = sc.config;
    this.loss = sc.loss;
    this.links = new LinkModel(sc.nodes, sc.seed, sc.min_delay_ms, sc.max_delay_ms / 2, seededRandom(sc.seed ^ 0x2545f491));
    // The consensus actor's own tick period (a tenth of the heartbeat timeout, within [100, 500] ms).
    this.tickMs = tickMs(this.cfg.heartbeat_timeout_ms / 1000);
    for (let i = 0; i < sc.nodes; i++) {
      const speed = SPEEDS[Math.floor(this.rng() * SPEEDS.length)]!;
      const slots = SLOTS[Math.floor(this.rng() * SLOTS.length)]!;
      this.nodes.push({ i, id: `sim${String(i).padStart(5, '0')}`, durable: { groups: {} }, side: 0, speed, slots, slotFree: new Array<number>(slots).fill(0), executed: 0, busy: 0, hbTimer: 0, tickTimer: 0, incarnation: 0 });
    }
    for (const n of this.nodes) this.byId.set(n.id, n);
    if (sc.join_ms > 0 && sc.nodes > 1) {
      const order = this.nodes.map((n) => n.i);
      for (let k = order.length - 1; k > 0; k--) { const j = Math.floor(this.rng() * (k + 1)); [order[k], order[j]] = [order[j]!, order[k]!]; }
      order.forEach((i, k) => this.clock.at(sc.join_ms * Math.log(1 + k) / Math.log(sc.nodes), () => this.start(i)));
    } else for (const n of this.nodes) this.start(n.i);
  }

  // --- nodes ---------------------------------------------------------------------------------

  private start(i: number): void {
    const n = this.nodes[i]!;
    if (n.core) return;
    const now = this.clock.now;
    n.core = new OrchestrationCore({
      self: { peer_id: n.id, node_id: `node-${i}` }, config: this.cfg, now,
      rng: seededRandom(this.sc.seed * 7 + i * 131 + n.hbTimer),
      durable: structuredClone(n.durable),
      persist: (d) => { n.durable = structuredClone(d); },
    });
    this.liveCount++;
    // Affinity from capacity (speed × slots, out of the best: 2 × 4), as the affinity formula weighs it.
    n.core.setLocal(now, { affinity: Math.min(1, (n.speed * n.slots) / 8), models: [] });
    this.reindex(n);
    const gen = ++n.hbTimer;
    const hbEvery = this.cfg.heartbeat_timeout_ms / 3;
    const hb = () => {
      if (!n.core || n.hbTimer !== gen) return;
      this.heartbeat(n, n.core.summary());
      this.clock.after(hbEvery, hb);
    };
    this.clock.after(this.rng() * hbEvery, hb);
    const tick = () => {
      if (!n.core || n.hbTimer !== gen) return;
      n.core.tick(this.clock.now);
      this.collect(n);
      this.clock.after(this.tickMs, tick);
    };
    this.clock.after(this.rng() * this.tickMs, tick);
  }

  private kill(i: number): void {
    const n = this.nodes[i]!;
    this.down(n);
    n.incarnation++;
  }

  /** Only the consensus core dies and comes back at once from its ledger; jobs keep running. */
  private restartCore(i: number): void {
    this.down(this.nodes[i]!);
    this.start(i);
  }

  private down(n: SimNode): void {
    if (!n.core) return;
    n.core = undefined;
    n.hbTimer++;
    this.liveCount--;
    this.reindex(n);
  }

  /** Files a node under the swarm record its core holds, for heartbeat routing. */
  private reindex(n: SimNode): void {
    const rec = n.core?.recordOf('swarm');
    if (rec !== undefined && rec === n.rec) return;
    n.rec = rec;
    const key = !n.core ? undefined : !rec ? '' : `${rec.lineage}|${rec.epoch}|${rec.electorate ? 'full' : 'partial'}`;
    if (key === n.recKey) return;
    if (n.recKey === '') this.seeking.delete(n);
    else if (n.recKey !== undefined) {
      const b = this.records.get(n.recKey)!;
      b.nodes.delete(n);
      if (b.nodes.size === 0) this.records.delete(n.recKey);
    }
    n.recKey = key;
    if (key === '') this.seeking.add(n);
    else if (key !== undefined && rec) {
      let b = this.records.get(key);
      if (!b) { b = { nodes: new Set(), hears: new Set([rec.holder, ...(rec.electorate ?? [])]), holder: rec.holder, partial: !rec.electorate }; this.records.set(key, b); }
      b.nodes.add(n);
    }
  }

  // --- the bus -------------------------------------------------------------------------------

  private connected(a: SimNode, b: SimNode): boolean { return a.side === b.side; }

  /**
   * An orchestration message goes to every node, as gossip; votes only to the candidate or
   * proposer they answer, the one core that reads them (a direct reply).
   */
  private broadcast(from: SimNode, type: OrchMessageType, body: unknown): void {
    const deliver = (to: SimNode) => this.send(from, to, type, () => { to.core!.onMessage(from.id, this.clock.now, type, body); this.collect(to); });
    const to = type === 'coord_vote' ? (body as CoordVoteBody).candidate : type === 'decision_vote' ? (body as DecisionVoteBody).proposer : undefined;
    if (to !== undefined) { const n = this.byId.get(to); if (n && n !== from) deliver(n); return; }
    for (const n of this.nodes) if (n !== from) deliver(n);
  }

  /**
   * A heartbeat goes to the nodes that listen to its sender (OrchestrationCore.hearsIn): those
   * with no swarm record, the holders, the nodes whose record's council includes the sender, and
   * the nodes holding a record without its electorate that have the sender in their table.
   * (The cores apply the rule themselves; this only skips deliveries they would drop.)
   */
  private heartbeat(from: SimNode, hb: OrchSummary): void {
    const hear = (to: SimNode) => {
      if (to === from) return;
      this.send(from, to, 'heartbeat', () => { to.core!.onHeartbeat(from.id, this.clock.now, hb); this.collect(to); });
    };
    for (const to of this.seeking) hear(to);
    for (const b of this.records.values()) {
      if (b.hears.has(from.id)) { for (const to of b.nodes) hear(to); continue; }
      if (b.partial) { for (const to of b.nodes) if (to.core!.hearsIn('swarm', from.id)) hear(to); continue; }
      const h = this.byId.get(b.holder);
      if (h && b.nodes.has(h)) hear(h);
    }
  }

  /** One delivery to one node: latency, loss, partition; `deliver` runs only if it arrives at a live node. */
  private send(from: SimNode, to: SimNode, type: string, deliver: () => void): void {
    if (!to.core || (this.loss > 0 && this.rng() < this.loss)) { this.dropped++; return; }
    const delay = this.links.delay(from.i, to.i) + this.extraDelay;
    this.clock.after(delay, () => {
      if (!to.core || !this.connected(from, to)) { this.dropped++; return; }
      this.delivered++;
      this.byType[type] = (this.byType[type] ?? 0) + 1;
      deliver();
    });
  }

  private collect(n: SimNode): void {
    if (!n.core) return;
    const { out, events } = n.core.drain();
    for (const e of events) this.onEvent(n, e);
    for (const o of out) this.broadcast(n, o.type, structuredClone(o.body));
    this.reindex(n);
  }

  private onEvent(n: SimNode, e: CoreEvent): void {
    if (e.kind === 'record') {
      // At most one coordinator per group per epoch (and lineage), across every node's records.
      const key = `${e.group}|${e.lineage}|${e.epoch}`;
      const held = this.holders.get(key);
      if (held !== undefined && held !== e.holder) this.violations.push(`two coordinators for ${key}: ${held} and ${e.holder} (t=${this.clock.now}, seen at ${n.id})`);
      if (held === undefined && (e.how === 'won' || e.how === 'founded')) this.holders.set(key, e.holder);
    } else if (e.kind === 'decided') {
      this.onDecided(e.result);
    }
  }

  private onDecided(r: ConsensusResult): void {
    if (this.decided.has(r.id)) { this.violations.push(`decision ${r.id} decided twice`); return; }
    this.decided.add(r.id);
    this.decisionCounts[r.outcome]++;
    if (r.outcome === 'accepted') this.decisionLat.push(r.decided_at - r.started_at);
  }

  // --- views ---------------------------------------------------------------------------------

  private live(side?: number): SimNode[] { return this.nodes.filter((n) => n.core && (side === undefined || n.side === side)); }

  /** The live nodes a node's core keeps in its peer table. */
  private tracked(n: SimNode): SimNode[] {
    const out: SimNode[] = [];
    for (const id of n.core!.trackedPeers()) { const m = this.byId.get(id); if (m?.core) out.push(m); }
    return out;
  }

  /** A node's record of the swarm group, from its heartbeat summary (cheap: no member walk). */
  private swarm(n: SimNode): { lineage?: string; epoch: number; holder?: string } {
    const g = n.core!.summary().groups.find((x) => x.group === 'swarm');
    return { epoch: g?.epoch ?? 0, ...(g?.lineage ? { lineage: g.lineage } : {}), ...(g?.holder ? { holder: g.holder } : {}) };
  }

  /** The swarm coordinator most live nodes name. */
  coordinator(): SimNode | undefined {
    const votes = new Map<string, number>();
    for (const n of this.live()) {
      const h = this.swarm(n).holder;
      if (h) votes.set(h, (votes.get(h) ?? 0) + 1);
    }
    let best: string | undefined;
    for (const [h, c] of votes) if (best === undefined || c > votes.get(best)! || (c === votes.get(best)! && h < best)) best = h;
    return best === undefined ? undefined : this.byId.get(best);
  }

  /** Whether the live nodes of a side agree on one swarm record whose holder is live on that side. */
  agreed(side?: number): boolean {
    const ns = this.live(side);
    if (ns.length === 0) return false;
    const s0 = this.swarm(ns[0]!);
    const holder = s0.holder === undefined ? undefined : this.byId.get(s0.holder);
    if (!holder?.core || (side !== undefined && holder.side !== side)) return false;
    return ns.every((n) => {
      const s = this.swarm(n);
      return s.lineage === s0.lineage && s.epoch === s0.epoch && s.holder === s0.holder;
    });
  }

  // --- jobs ----------------------------------------------------------------------------------

  /** A live node drawn at random (a few draws, then a scan: O(1) while most are up). */
  private randomLive(): SimNode | undefined {
    for (let k = 0; k < 16; k++) {
      const n = this.nodes[Math.floor(this.rng() * this.nodes.length)]!;
      if (n.core) return n;
    }
    const live = this.live();
    return live[Math.floor(this.rng() * live.length)];
  }

  private submit(): void {
    if (this.liveCount < 2) return;
    const origin = this.randomLive()!;
    const job: JobState = { id: this.jobs.length, origin: origin.i, size: -Math.log(1 - this.rng()) * this.sc.mean_job_ms, submitted: this.clock.now, attempt: 0, completions: 0 };
    this.jobs.push(job);
    this.offer(job, 1);
  }

  /** Offers to ⌈log₂N⌉ − 1 peers its core does not know dead; claims by T = s²/(s²+θ²); routeJob picks. */
  private offer(job: JobState, round: number): void {
    const o = this.nodes[job.origin]!;
    if (!o.core || job.completed !== undefined) return;
    const attempt = ++job.attempt;
    job.executor = undefined;
    const fanout = Math.max(1, Math.ceil(Math.log2(this.nodes.length)) - 1);
    const targets = new Set<number>();
    for (let k = 0; k < fanout * 4 && targets.size < Math.min(fanout, this.nodes.length - 1); k++) {
      const i = Math.floor(this.rng() * this.nodes.length);
      if (i !== o.i && !o.core.knownDead(this.nodes[i]!.id) && o.core.liveness(this.nodes[i]!.id) !== 'suspect') targets.add(i);
    }
    const s = stimulus({ job_value: 1, urgency: 0.9 }, this.cfg.high_value_threshold, round);
    const claims: RoutingCandidate[] = [];
    let decided = false;
    const best = this.sc.mean_job_ms / 2;
    const decide = () => {
      if (decided || job.attempt !== attempt || !o.core) return;
      decided = true;
      const pick = routeJob(claims, { dead: (p) => o.core?.knownDead(p) ?? true, affinity: (p) => o.core?.affinityOf(p) ?? 0 });
      if (!pick) return this.clock.after(100, () => this.offer(job, Math.min(round + 1, this.cfg.max_consensus_rounds)));
      const ex = this.byId.get(pick.choice)!;
      job.executor = ex.i;
      job.dispatchedAt = this.clock.now;
      job.finishAt = undefined;
      job.deadline = this.clock.now + 4 * (Number(pick.params.est_start_ms ?? 0) + this.sc.mean_job_ms * 3) + 2000;
      this.jobMessages++;
      this.send(o, ex, 'job_dispatch', () => this.execute(ex, job, attempt));
      const deadline = job.deadline;
      this.clock.at(deadline, () => {
        if (job.completed === undefined && job.attempt === attempt) { this.reoffers++; this.offer(job, 1); }
      });
      // As the job path's client does: re-offer at once when the offerer's core marks the
      // executor dead (a crash, or the far side of a partition), not only at the deadline.
      const watchExecutor = () => {
        if (job.completed !== undefined || job.attempt !== attempt || !o.core) return;
        if (o.core.knownDead(ex.id)) { this.reoffers++; return this.offer(job, 1); }
        this.clock.after(this.tickMs, watchExecutor);
      };
      this.clock.after(this.tickMs, watchExecutor);
    };
    for (const i of targets) {
      const t = this.nodes[i]!;
      this.jobMessages++;
      this.send(o, t, 'job_offer', () => {
        const now = this.clock.now;
        const startAt = Math.min(...t.slotFree);
        const wait = Math.max(0, startAt - now);
        const done = wait + this.sc.mean_job_ms / t.speed;
        const theta = Math.max(THETA_MIN, 0.3 * done / best);
        if (this.rng() >= responseProbability(s, theta)) return;
        const claim: RoutingCandidate = { peer_id: t.id, capacity: t.slotFree.filter((f) => f <= now).length, est_start_ms: Math.round(wait), est_done_ms: Math.round(done) };
        this.jobMessages++;
        this.send(t, o, 'job_claim', () => {
          if (decided) return;
          claims.push(claim);
          if (takeAtOnce(claim, best)) decide();
        });
      });
    }
    const window = Math.max(0, ...[...targets].map((i) => 2 * this.links.delay(o.i, i))) + 5 + 2 * this.extraDelay;
    this.clock.after(window, decide);
  }

  private execute(n: SimNode, job: JobState, attempt: number): void {
    const k = n.slotFree.indexOf(Math.min(...n.slotFree));
    const start = Math.max(this.clock.now, n.slotFree[k]!);
    const service = job.size / n.speed;
    n.slotFree[k] = start + service;
    n.busy += service;
    if (job.attempt === attempt) job.finishAt = start + service;
    const gen = n.incarnation;
    this.clock.at(start + service, () => {
      if (n.incarnation !== gen) return; // the node died while it ran: the job is lost here
      if (!n.core) return;
      n.executed++;
      const o = this.nodes[job.origin]!;
      this.jobMessages++;
      this.send(n, o, 'job_result', () => {
        if (job.completed !== undefined) { this.duplicates++; return; }
        if (job.attempt !== attempt) this.duplicates++; // an earlier attempt finishing late still completes the job once
        job.completed = this.clock.now;
        job.completions++;
      });
    });
  }

  // --- faults and the run --------------------------------------------------------------------

  private schedule(f: Fault): void {
    this.clock.at(f.at_ms, () => {
      switch (f.kind) {
        case 'kill': {
          const n = f.node === 'coordinator' ? this.coordinator() : this.nodes[f.node];
          if (!n?.core) return;
          const rec = { killed: n.id, at_ms: this.clock.now } as SimReport['elections'][number];
          this.kill(n.i);
          if (f.node === 'coordinator') { this.elections.push(rec); this.watch(() => this.agreed(), (dt) => { rec.agreed_after_ms = dt; }); }
          return;
        }
        case 'restart': return this.start(f.node);
        case 'kill_actor': {
          // Only the consensus actor exists in virtual time: a crash and an immediate restart
          // from the persisted ledger (the supervisor's restart of a permanent child).
          const n = f.node === 'coordinator' ? this.coordinator() : this.nodes[f.node];
          if (!n?.core) return;
          this.restartCore(n.i);
          return;
        }
        case 'partition': {
          const cut = Math.max(1, Math.floor(this.nodes.length * f.fraction));
          this.nodes.forEach((n, i) => { n.side = i < cut ? 1 : 0; });
          this.partitioned = true;
          const rec: SimReport['partitions'][number] = { at_ms: this.clock.now };
          this.partitions.push(rec);
          // Detected when every live node has marked dead every live node across the cut it keeps
          // in its table (all of them in a group within the council size; else its council, and
          // for a holder everyone).
          this.watch(() => this.live().every((n) => this.tracked(n).every((m) => m.side === n.side || n.core!.knownDead(m.id))), (dt) => { rec.detected_after_ms = dt; });
          return;
        }
        case 'heal': {
          if (!this.partitioned) return;
          for (const n of this.nodes) n.side = 0;
          this.partitioned = false;
          const rec = this.partitions[this.partitions.length - 1];
          if (rec) {
            rec.healed_at_ms = this.clock.now;
            // Converged: all agree on one live coordinator, and see alive every live node they listen to.
            this.watch(() => this.agreed() && this.live().every((n) => this.tracked(n).every((m) => !n.core!.hearsIn('swarm', m.id) || n.core!.liveness(m.id) === 'alive')), (dt) => { rec.converged_after_ms = dt; });
          }
          return;
        }
        case 'delay':
          this.extraDelay += f.extra_ms;
          this.clock.after(f.duration_ms, () => { this.extraDelay -= f.extra_ms; });
          return;
        case 'loss': {
          const before = this.loss;
          this.loss = f.rate;
          this.clock.after(f.duration_ms, () => { this.loss = before; });
          return;
        }
        case 'decision':
          for (let k = 0; k < f.count; k++) this.propose();
      }
    });
  }

  /** Polls `cond` every 50 ms of virtual time from now; reports the delay when it first holds. */
  private watch(cond: () => boolean, done: (dt: number) => void, limitMs = 120_000): void {
    const from = this.clock.now;
    const poll = () => {
      if (cond()) return done(this.clock.now - from);
      if (this.clock.now - from < limitMs && this.clock.now < this.sc.duration_ms) this.clock.after(50, poll);
    };
    this.clock.after(50, poll);
  }

  private propose(): void {
    const n = this.randomLive();
    if (!n) return;
    this.decisionCounts.proposed++;
    n.core!.propose(this.clock.now, {
      id: `d${this.nextDecision++}`, group: 'swarm', decision_type: 'infrastructure', choice: 'scale_up',
      confidence: 0.8, strategy: 'heuristic', critical: true,
    });
    this.collect(n);
  }

  run(): SimReport {
    const sc = this.sc;
    for (const f of sc.faults) this.schedule(f);
    const poisson = (rate: number, fire: () => void, until: number) => {
      if (rate <= 0) return;
      const next = () => {
        fire();
        const t = this.clock.now - Math.log(1 - this.rng()) * 1000 / rate;
        if (t < until) this.clock.at(t, next);
      };
      this.clock.at(-Math.log(1 - this.rng()) * 1000 / rate + sc.join_ms + 3 * this.cfg.heartbeat_timeout_ms, next);
    };
    poisson(sc.job_rate, () => this.submit(), sc.duration_ms - sc.drain_ms);
    poisson(sc.decision_rate, () => this.propose(), sc.duration_ms - sc.drain_ms);
    this.clock.runUntil(sc.duration_ms);
    return this.report();
  }

  private report(): SimReport {
    const now = this.clock.now;
    const violations = [...this.violations];
    let lost = 0;
    let orphaned = 0;
    let inFlight = 0;
    const times: number[] = [];
    for (const j of this.jobs) {
      if (j.completed !== undefined) { times.push(j.completed - j.submitted); if (j.completions > 1) violations.push(`job ${j.id} completed ${j.completions} times`); continue; }
      if (!this.nodes[j.origin]!.core) { orphaned++; continue; }
      // Still being worked on when the run ends (not lost): dispatched within the last second, or
      // queued / running on a live executor whose run ends after the end (or within a second of it).
      const ex = j.executor === undefined ? undefined : this.nodes[j.executor];
      if (ex?.core && ((j.dispatchedAt ?? -Infinity) > now - 1000 || (j.finishAt ?? -Infinity) > now - 1000)) { inFlight++; continue; }
      lost++;
      violations.push(`job ${j.id} (from ${this.nodes[j.origin]!.id}, attempt ${j.attempt}) never completed`);
    }
    if (this.partitions.some((p) => p.healed_at_ms !== undefined && p.converged_after_ms === undefined)) violations.push('no convergence after heal');
    if (this.elections.some((e) => e.agreed_after_ms === undefined)) violations.push('no coordinator agreed after a kill');
    times.sort((a, b) => a - b);
    this.decisionLat.sort((a, b) => a - b);
    const coord = this.coordinator();
    return {
      scenario: this.sc.name, nodes: this.nodes.length, seed: this.sc.seed, virtual_ms: now, events: this.clock.fired,
      messages: { delivered: this.delivered, dropped: this.dropped, by_type: Object.fromEntries(Object.entries(this.byType).sort()) },
      jobs: {
        submitted: this.jobs.length, completed: times.length, in_flight_at_end: inFlight, lost, orphaned_by_submitter_death: orphaned,
        duplicate_executions: this.duplicates, reoffers: this.reoffers,
        mean_ms: times.length ? round(times.reduce((a, b) => a + b, 0) / times.length) : 0,
        p99_ms: times.length ? round(quantile(times, 0.99)) : 0,
        messages_per_job: this.jobs.length ? round(this.jobMessages / this.jobs.length, 2) : 0,
      },
      decisions: {
        ...this.decisionCounts,
        p50_ms: round(quantile(this.decisionLat, 0.5) || 0), p90_ms: round(quantile(this.decisionLat, 0.9) || 0), p99_ms: round(quantile(this.decisionLat, 0.99) || 0),
      },
      elections: this.elections,
      partitions: this.partitions,
      invariants: { ok: violations.length === 0, violations: violations.slice(0, 50) },
      per_node: this.nodes.map((n) => {
        const s = n.core?.groupStatus('swarm');
        return {
          node: n.id, up: n.core !== undefined, speed: n.speed, slots: n.slots, executed: n.executed,
          utilisation: round(n.busy / (n.slots * Math.max(1, now)), 3), epoch: s?.epoch ?? 0,
          ...(s?.holder ? { coordinator: s.holder.peer_id } : {}),
          partition: n.core?.partitionStatus().state ?? 'down',
          ...(n === coord ? {} : {}),
        };
      }),
    };
  }
}

/** Runs a scenario in virtual time. */
export function simulate(sc: Scenario): SimReport { return new ClusterSim(sc).run(); }
