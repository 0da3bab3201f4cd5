// A virtual-time bus for orchestration cores: N cores (src/actors/consensus/core.ts, the code
// the consensus actor runs) exchange heartbeats and messages with modelled delay and loss, under
// crashes, restarts and partitions, and every record any node takes is checked against the
// invariant: at most one holder per group, lineage and epoch. Deterministic from its seed.
import { OrchestrationCore, type CoreConfig, type CoreEvent, type Durable, type OrchMessageType } from '../../src/actors/consensus/core.ts';
import { seededRandom } from '../../src/actors/consensus/threshold.ts';
import type { OrchSummary } from '../../src/protocol/index.ts';

export interface BusOptions {
  nodes: number;
  seed: number;
  config?: Partial<CoreConfig>;
  /** Simulation step, ms (default 50). */
  stepMs?: number;
  /** Delivery delay: uniform in [minDelayMs, maxDelayMs] (defaults 5, 60). */
  minDelayMs?: number;
  maxDelayMs?: number;
  /** Per-node affinity (default: all 0.5 plus a small per-node spread). */
  affinity?: (i: number) => number;
  /** Models served by node i (default none: swarm only). */
  models?: (i: number) => string[];
}

export const BUS_CONFIG: CoreConfig = {
  mode: 'emergent', rotation_trigger: 'adaptive', heartbeat_timeout_ms: 3000, min_nodes_per_group: 2, max_groups_per_node: 3,
  consensus_timeout_ms: 1000, max_consensus_rounds: 3, base_consensus_threshold: 0.6, high_value_threshold: 10,
};

interface Node {
  id: string;
  core?: OrchestrationCore;
  durable: Durable;
  nextHeartbeat: number;
  events: CoreEvent[];
}

interface InFlight { at: number; seq: number; from: string; to: string; hb?: OrchSummary; type?: OrchMessageType; body?: unknown }

export class OrchBus {
  readonly nodes: Node[] = [];
  readonly cfg: CoreConfig;
  now = 1_000_000;
  private seq = 0;
  private queue: InFlight[] = [];
  private side = new Map<string, number>();
  loss = 0;
  private readonly rng: () => number;
  private readonly stepMs: number;
  /** group|lineage|epoch → holder, from every record won or founded anywhere. */
  readonly holders = new Map<string, string>();
  readonly violations: string[] = [];
  delivered = 0;

  constructor(private readonly opts: BusOptions) {
    this.cfg = { ...BUS_CONFIG, ...opts.config };
    this.rng = seededRandom(opts.seed);
    this.stepMs = opts.stepMs ?? 50;
    for (let i = 0; i < opts.nodes; i++) {
      const id = `peer${String(i).padStart(3, '0')}${'x'.repeat(8)}`;
      this.nodes.push({ id, durable: { groups: {} }, nextHeartbeat: this.now + Math.floor(this.rng() * this.cfg.heartbeat_timeout_ms / 3), events: [] });
      this.start(i);
    }
  }

  core(i: number): OrchestrationCore { return this.nodes[i]!.core!; }
  up(i: number): boolean { return this.nodes[i]!.core !== undefined; }

  start(i: number): void {
    const n = this.nodes[i]!;
    if (n.core) return;
    n.core = new OrchestrationCore({
      self: { peer_id: n.id, node_id: `n${i}` }, config: this.cfg, now: this.now,
      rng: seededRandom(this.opts.seed * 1000 + i + this.seq),
      durable: structuredClone(n.durable),
      persist: (d) => { n.durable = structuredClone(d); },
    });
    const spread = this.opts.affinity ? this.opts.affinity(i) : 0.5 + (i % 7) * 0.001;
    n.core.setLocal(this.now, { affinity: spread, models: this.opts.models?.(i) ?? [] });
  }

  /** The node stops at once: its volatile state is lost, its persisted ledger kept. */
  crash(i: number): void { this.nodes[i]!.core = undefined; }

  /** Splits the nodes: side[i] for node i (nodes on different sides hear nothing from each other). */
  partition(sides: readonly number[]): void { this.nodes.forEach((n, i) => this.side.set(n.id, sides[i] ?? 0)); }
  heal(): void { this.side.clear(); }

  private connected(a: string, b: string): boolean { return (this.side.get(a) ?? 0) === (this.side.get(b) ?? 0); }

  /** Advances virtual time by `ms`, in steps. */
  run(ms: number): void {
    const end = this.now + ms;
    while (this.now < end) this.step();
  }

  step(): void {
    this.now += this.stepMs;
    // Deliver what is due, in order.
    this.queue.sort((a, b) => a.at - b.at || a.seq - b.seq);
    while (this.queue.length > 0 && this.queue[0]!.at <= this.now) {
      const m = this.queue.shift()!;
      const to = this.nodes.find((n) => n.id === m.to)!;
      if (!to.core || !this.connected(m.from, m.to)) continue;
      this.delivered++;
      if (m.hb) to.core.onHeartbeat(m.from, m.at, m.hb);
      else to.core.onMessage(m.from, m.at, m.type!, m.body);
      this.collect(to);
    }
    for (const n of this.nodes) {
      if (!n.core) continue;
      n.core.tick(this.now);
      if (this.now >= n.nextHeartbeat) {
        n.nextHeartbeat = this.now + this.cfg.heartbeat_timeout_ms / 3;
        this.broadcast(n.id, { hb: n.core.summary() });
      }
      this.collect(n);
    }
  }

  private collect(n: Node): void {
    this.collectInto(n, (o) => this.broadcast(n.id, { type: o.type, body: structuredClone(o.body) }));
  }

  /** Drains a node: checks its record events against the invariant, hands its messages to `emit`. */
  collectInto(n: Node, emit: (o: { type: OrchMessageType; body: unknown }) => void): void {
    const { out, events } = n.core!.drain();
    for (const e of events) {
      n.events.push(e);
      if (e.kind !== 'record') continue;
      const key = `${e.group}|${e.lineage}|${e.epoch}`;
      const held = this.holders.get(key);
      if (e.how === 'won' || e.how === 'founded') {
        if (held !== undefined && held !== e.holder) this.violations.push(`${key}: ${held} and ${e.holder} both hold it (t=${this.now})`);
        this.holders.set(key, e.holder);
      } else if (held !== undefined && held !== e.holder) {
        this.violations.push(`${key}: ${n.id} adopted holder ${e.holder}, but ${held} won it`);
      }
    }
    for (const o of out) emit(o);
  }

  private broadcast(from: string, what: { hb?: OrchSummary; type?: OrchMessageType; body?: unknown }): void {
    const min = this.opts.minDelayMs ?? 5;
    const max = this.opts.maxDelayMs ?? 60;
    for (const n of this.nodes) {
      if (n.id === from) continue;
      if (this.loss > 0 && this.rng() < this.loss) continue;
      // A heavy tail: one message in ten takes up to ten times the usual delay (reordering).
      const delay = (min + Math.floor(this.rng() * (max - min + 1))) * (this.rng() < 0.1 ? 1 + this.rng() * 9 : 1);
      this.queue.push({ at: this.now + delay, seq: ++this.seq, from, to: n.id, ...what });
    }
  }

  /** Each live node's view of a group: lineage, epoch, holder. */
  views(group = 'swarm'): Array<{ i: number; lineage?: string; epoch: number; holder?: string } | undefined> {
    return this.nodes.map((n, i) => {
      if (!n.core) return undefined;
      const s = n.core.groupStatus(group);
      return { i, ...(s.lineage ? { lineage: s.lineage } : {}), epoch: s.epoch, ...(s.holder ? { holder: s.holder.peer_id } : {}) };
    });
  }

  /** Whether the live nodes (of a set) agree on one record whose holder is live among them. */
  agreed(group = 'swarm', among?: readonly number[]): boolean {
    const vs = this.views(group).filter((v, i) => v !== undefined && (among ? among.includes(i) : true));
    if (vs.length === 0) return false;
    const first = vs[0]!;
    if (first.holder === undefined) return false;
    const holderIdx = this.nodes.findIndex((n) => n.id === first.holder);
    if (!this.up(holderIdx) || (among && !among.includes(holderIdx))) return false;
    return vs.every((v) => v!.lineage === first.lineage && v!.epoch === first.epoch && v!.holder === first.holder);
  }
}

/**
 * The same cores under an adversarial scheduler instead of a network model: each step delivers
 * one message chosen at random among all in flight (any age: arbitrary reordering and delay),
 * drops one, lets time pass on one node, makes nodes claim, crashes or restarts one. Elections
 * hardly ever complete in order here, which is the point: only the rules keep one holder per epoch.
 */
export class OrchChaos {
  readonly bus: OrchBus;
  private readonly pool: Array<{ from: string; to: string; hb?: OrchSummary; type?: OrchMessageType; body?: unknown }> = [];
  private readonly rng: () => number;

  constructor(nodes: number, seed: number, config: Partial<CoreConfig> = {}) {
    this.rng = seededRandom(seed ^ 0x5bd1e995);
    this.bus = new OrchBus({ nodes, seed, config: { voter_policy: 'any', ...config } });
    // Let a first lineage form in an orderly way, so that there is something to fight over.
    this.bus.run(4 * this.bus.cfg.heartbeat_timeout_ms);
  }

  step(): void {
    const b = this.bus;
    const n = b.nodes.length;
    const r = this.rng();
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(this.rng() * xs.length)]!;
    const i = Math.floor(this.rng() * n);
    if (r < 0.45 && this.pool.length > 0) {
      // Mostly protocol messages: heartbeats alone would drown the elections.
      const protocol = this.rng() < 0.8 ? this.pool.flatMap((m, k) => (m.hb ? [] : [k])) : [];
      const k = protocol.length > 0 ? pick(protocol) : Math.floor(this.rng() * this.pool.length);
      const m = this.pool.splice(k, 1)[0]!;
      const to = b.nodes.find((x) => x.id === m.to)!;
      if (!to.core) return;
      if (m.hb) to.core.onHeartbeat(m.from, b.now, m.hb);
      else to.core.onMessage(m.from, b.now, m.type!, m.body);
      this.collect(to);
    } else if (r < 0.55 && this.pool.length > 0) {
      this.pool.splice(Math.floor(this.rng() * this.pool.length), 1);
    } else if (r < 0.75) {
      b.now += Math.floor(this.rng() * 100);
      const node = b.nodes[i]!;
      if (!node.core) return;
      node.core.tick(b.now);
      if (this.rng() < 0.2) this.emit(node.id, { hb: node.core.summary() });
      this.collect(node);
    } else if (r < 0.9) {
      const node = b.nodes[i]!;
      if (!node.core) return;
      // Half the time with a view of its own: a random electorate (memberships drift apart).
      const view = this.rng() < 0.5 ? b.nodes.filter(() => this.rng() < 0.5).map((x) => x.id) : undefined;
      node.core.claimNow('swarm', b.now, pick(['rotate', 'failover', 'reconfigure'] as const), view);
      this.collect(node);
    } else if (r < 0.94) {
      b.crash(i);
    } else if (r < 0.97) {
      b.start(i);
    }
    // else: nothing happens for a while
  }

  private collect(node: OrchBus['nodes'][number]): void {
    this.bus.collectInto(node, (o) => this.emit(node.id, { type: o.type, body: structuredClone(o.body) }));
  }

  private emit(from: string, what: { hb?: OrchSummary; type?: OrchMessageType; body?: unknown }): void {
    for (const n of this.bus.nodes) if (n.id !== from) this.pool.push({ from, to: n.id, ...what });
    // Bound the pool: the oldest messages are lost (as a network would lose them eventually).
    if (this.pool.length > 4000) this.pool.splice(0, this.pool.length - 4000);
  }
}
