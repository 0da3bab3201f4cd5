// Replication policies compared in virtual time: which nodes serve which model, as demand moves.
//
// N nodes, each with one slot (capacity is slot-bound) and room for `capacityModels` models;
// `models` models, each served at first by one node. Jobs for a model arrive as a Poisson stream
// (a base rate, plus bursts on some models) and go to the replica that would start them first
// (an ideal router: the policy, not the routing, is measured). A node runs its jobs FIFO.
// A new replica is serving after its transfer (size / bandwidth, from up to 3 replicas in
// parallel) and its load time; until then it takes no job.
//
// Policies:
// - none: the first placement stays;
// - everywhere: from the start every node fills its room with models (round-robin), paying the
//   transfers before it serves them;
// - demand: the node's own policy (actors/consensus/demand.ts): each model's coordinator hears
//   its replicas' waits every heartbeat; DemandWatch grows by k volunteers (response-threshold
//   rule) when the mean wait stays above the high bound, and shrinks by one extra replica when
//   it stays below the low bound, never below min_replicas. It does not grow again while a
//   replica it asked for is still loading.
//
// Deterministic from the seed.
import { chooseVolunteers, DemandWatch, groupMeanWait, replicaToDrop, replicationStimulus, type Candidate, type WaitReport } from '../actors/consensus/demand.ts';
import { seededRandom } from '../actors/consensus/threshold.ts';
import { VirtualClock } from './clock.ts';
import { quantile, round } from './placement.ts';

export type ReplicationPolicy = 'none' | 'demand' | 'everywhere';
export const REPLICATION_POLICIES: readonly ReplicationPolicy[] = ['none', 'demand', 'everywhere'];

export interface Burst { model: number; from_ms: number; to_ms: number; rate_per_s: number }

export interface ReplicationScenario {
  nodes: number;
  models: number;
  seed: number;
  duration_ms: number;
  /** Mean job service time on a slot, ms (exponential). */
  mean_job_ms: number;
  /** Jobs per second per model outside bursts. */
  base_rate_per_s: number;
  bursts: Burst[];
  /** Models a node can hold. */
  capacity_models: number;
  model_mib: number;
  /** Per-transfer bandwidth from one source, MiB/s. */
  bandwidth_mib_s: number;
  /** Time to load a model once on disk, ms. */
  load_ms: number;
  heartbeat_ms: number;
  /** The demand policy ([models] replicate_wait_secs, unreplicate_wait_secs, replicate_after_secs, replicate_count, min_replicas). */
  high_ms: number;
  low_ms: number;
  after_ms: number;
  k: number;
  min_replicas: number;
}

export function defaultReplicationScenario(over: Partial<ReplicationScenario> = {}): ReplicationScenario {
  return {
    nodes: 1000, models: 20, seed: 1, duration_ms: 900_000, mean_job_ms: 2000, base_rate_per_s: 0.2,
    bursts: [
      { model: 0, from_ms: 60_000, to_ms: 420_000, rate_per_s: 4 },
      { model: 1, from_ms: 120_000, to_ms: 300_000, rate_per_s: 2 },
      { model: 2, from_ms: 300_000, to_ms: 600_000, rate_per_s: 6 },
    ],
    capacity_models: 2, model_mib: 1024, bandwidth_mib_s: 100, load_ms: 3000, heartbeat_ms: 1000,
    high_ms: 10_000, low_ms: 1000, after_ms: 10_000, k: 1, min_replicas: 1,
    ...over,
  };
}

export interface ReplicationResult {
  policy: ReplicationPolicy;
  /** Jobs that arrived (those still queued at the end count with their wait so far). */
  jobs: number;
  mean_wait_ms: number;
  p95_wait_ms: number;
  p99_wait_ms: number;
  /** Mean wait of the burst models' jobs that arrived during their bursts. */
  burst_mean_wait_ms: number;
  /** Model files moved, GiB. */
  moved_gib: number;
  replicas_added: number;
  replicas_dropped: number;
  /** Replicas serving at the end (all models). */
  replicas_end: number;
  /** Per burst: ms from its start to a second replica of its model serving (null: never). */
  first_extra_ms: Array<number | null>;
  /** Per burst model: the most replicas it had at once. */
  peak_replicas: number[];
}

interface Job { model: number; arrival: number; size: number }
interface Node {
  models: Map<number, { since: number; ready: boolean; original: boolean }>;
  queue: Job[];
  busy: boolean;
  /** ms of work queued or running, for the router. */
  backlog: number;
  /** Per model: waits of jobs started since the last heartbeat. */
  reports: Map<number, WaitReport>;
}

export function runReplication(sc: ReplicationScenario, policy: ReplicationPolicy): ReplicationResult {
  const rng = seededRandom(sc.seed);
  const vrng = seededRandom(sc.seed ^ 0x5eed);
  const clock = new VirtualClock();
  const nodes: Node[] = Array.from({ length: sc.nodes }, () => ({ models: new Map(), queue: [], busy: false, backlog: 0, reports: new Map() }));
  /** Serving (or loading) nodes per model. */
  const holders: Array<Set<number>> = Array.from({ length: sc.models }, () => new Set());
  const waits: number[] = [];
  const burstWaits: number[] = [];
  const transferMs = (sources: number) => (sc.model_mib / (sc.bandwidth_mib_s * Math.max(1, Math.min(3, sources)))) * 1000;
  let moved = 0;
  let added = 0;
  let dropped = 0;
  const firstExtra: Array<number | null> = sc.bursts.map(() => null);
  const peak = sc.bursts.map(() => 1);
  const pending = new Array<number>(sc.models).fill(0);
  const readyCount = (m: number) => [...holders[m]!].filter((i) => nodes[i]!.models.get(m)?.ready).length;

  const place = (i: number, m: number, original: boolean) => {
    const n = nodes[i]!;
    const sources = readyCount(m);
    const delay = original ? 0 : transferMs(sources) + sc.load_ms;
    n.models.set(m, { since: clock.now, ready: original, original });
    holders[m]!.add(i);
    if (original) return;
    moved += sc.model_mib;
    added++;
    pending[m]!++;
    clock.after(delay, () => {
      const e = n.models.get(m);
      pending[m]!--;
      if (!e) return;
      e.ready = true;
      // Queued jobs of the model move to whichever replica starts them first (in the real job
      // path a job waits for a claim, not in a far queue): taken back and routed again.
      const back: Job[] = [];
      for (const i of holders[m]!) {
        const h = nodes[i]!;
        const mine = h.queue.filter((j) => j.model === m);
        if (mine.length === 0) continue;
        h.queue = h.queue.filter((j) => j.model !== m);
        for (const j of mine) h.backlog -= j.size;
        back.push(...mine);
      }
      back.sort((a, b) => a.arrival - b.arrival);
      for (const j of back) route(j);
      const r = readyCount(m);
      sc.bursts.forEach((b, j) => {
        if (b.model !== m) return;
        peak[j] = Math.max(peak[j]!, r);
        if (firstExtra[j] === null && r >= 2 && clock.now >= b.from_ms && clock.now <= b.to_ms + sc.after_ms) firstExtra[j] = clock.now - b.from_ms;
      });
    });
  };

  // First placement: model m on node m.
  for (let m = 0; m < sc.models; m++) place(m % sc.nodes, m, true);
  if (policy === 'everywhere') {
    let m = 0;
    for (let i = 0; i < sc.nodes; i++) {
      const n = nodes[i]!;
      let tries = 0;
      while (n.models.size < sc.capacity_models && tries < sc.models) {
        if (!n.models.has(m)) place(i, m, false);
        m = (m + 1) % sc.models;
        tries++;
      }
    }
  }

  const start = (n: Node) => {
    if (n.busy) return;
    const j = n.queue.shift();
    if (!j) return;
    n.busy = true;
    const wait = clock.now - j.arrival;
    waits.push(wait);
    if (sc.bursts.some((b) => b.model === j.model && j.arrival >= b.from_ms && j.arrival < b.to_ms)) burstWaits.push(wait);
    const rep = n.reports.get(j.model) ?? { wait_ms_sum: 0, jobs: 0 };
    rep.wait_ms_sum += wait;
    rep.jobs++;
    n.reports.set(j.model, rep);
    clock.after(j.size, () => {
      n.busy = false;
      n.backlog -= j.size;
      start(n);
    });
  };

  const route = (j: Job) => {
    let best: Node | undefined;
    for (const i of holders[j.model]!) {
      const n = nodes[i]!;
      const e = n.models.get(j.model);
      if (!e?.ready) continue;
      if (!best || n.backlog < best.backlog) best = n;
    }
    if (!best) { clock.after(sc.heartbeat_ms, () => route(j)); return; }
    best.queue.push(j);
    best.backlog += j.size;
    start(best);
  };

  // Arrivals: a Poisson stream per model at its rate (base, plus its bursts), thinned at 1 s steps.
  const rateAt = (m: number, t: number) => sc.base_rate_per_s + sc.bursts.filter((b) => b.model === m && t >= b.from_ms && t < b.to_ms).reduce((s, b) => s + b.rate_per_s, 0);
  for (let m = 0; m < sc.models; m++) {
    const model = m;
    const next = (t: number) => {
      const rate = rateAt(model, t) / 1000;
      const at = t - Math.log(1 - rng()) / Math.max(rate, 1e-9);
      // The rate may change within the gap: re-draw at the next change point.
      const change = [...sc.bursts.flatMap((b) => (b.model === model ? [b.from_ms, b.to_ms] : [])), sc.duration_ms].filter((c) => c > t).sort((a, b) => a - b)[0]!;
      if (at >= change) { if (change < sc.duration_ms) clock.at(change, () => next(change)); return; }
      clock.at(at, () => {
        route({ model, arrival: at, size: -Math.log(1 - rng()) * sc.mean_job_ms });
        next(at);
      });
    };
    next(0);
  }

  // The demand policy: one coordinator per model, at heartbeat pace.
  if (policy === 'demand') {
    const watches = Array.from({ length: sc.models }, () => new DemandWatch({ high_ms: sc.high_ms, low_ms: sc.low_ms, after_ms: sc.after_ms }));
    const beat = () => {
      for (let m = 0; m < sc.models; m++) {
        const reports: WaitReport[] = [];
        for (const i of holders[m]!) {
          const n = nodes[i]!;
          const r = n.reports.get(m);
          // Jobs still queued count with their age so far: a stuck queue reports before it drains.
          const queued = n.queue.filter((j) => j.model === m);
          reports.push({ wait_ms_sum: (r?.wait_ms_sum ?? 0) + queued.reduce((s, j) => s + (clock.now - j.arrival), 0), jobs: (r?.jobs ?? 0) + queued.length });
          n.reports.delete(m);
        }
        const wait = groupMeanWait(reports);
        const verdict = watches[m]!.observe(clock.now, wait);
        if (verdict === 'grow' && pending[m] === 0) {
          const candidates: Candidate[] = [];
          // The coordinator asks a sample of the swarm (as the placement offers do), not all of it.
          for (let s = 0; s < Math.min(sc.nodes, 2 * Math.ceil(Math.log2(sc.nodes)) + sc.k); s++) {
            const i = Math.floor(vrng() * sc.nodes);
            const n = nodes[i]!;
            if (n.models.has(m) || candidates.some((c) => c.id === String(i))) continue;
            candidates.push({ id: String(i), free_mb: n.models.size < sc.capacity_models ? (sc.capacity_models - n.models.size) * sc.model_mib : 0, load: n.queue.length + (n.busy ? 1 : 0) });
          }
          for (const id of chooseVolunteers(candidates, sc.model_mib, replicationStimulus(wait, sc.high_ms), sc.k, vrng)) place(Number(id), m, false);
          watches[m]!.reset();
        } else if (verdict === 'shrink') {
          const replicas = [...holders[m]!].map((i) => ({ id: String(i), since: nodes[i]!.models.get(m)!.since, pinned: nodes[i]!.models.get(m)!.original }))
            .filter((r) => nodes[Number(r.id)]!.models.get(m)!.ready || r.pinned);
          const drop = replicaToDrop(replicas, sc.min_replicas);
          if (drop !== undefined) {
            const n = nodes[Number(drop)]!;
            n.models.delete(m);
            holders[m]!.delete(Number(drop));
            dropped++;
            // Its queued jobs of that model go back to the router.
            const back = n.queue.filter((j) => j.model === m);
            n.queue = n.queue.filter((j) => j.model !== m);
            for (const j of back) { n.backlog -= j.size; route(j); }
          }
        }
      }
      if (clock.now + sc.heartbeat_ms <= sc.duration_ms) clock.after(sc.heartbeat_ms, beat);
    };
    clock.after(sc.heartbeat_ms, beat);
  }

  clock.runUntil(sc.duration_ms);
  // Jobs still queued at the end count with the wait they have had so far.
  for (const n of nodes) {
    for (const j of n.queue) {
      const wait = sc.duration_ms - j.arrival;
      waits.push(wait);
      if (sc.bursts.some((b) => b.model === j.model && j.arrival >= b.from_ms && j.arrival < b.to_ms)) burstWaits.push(wait);
    }
  }
  const sorted = [...waits].sort((a, b) => a - b);
  const mean = (xs: number[]) => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : 0);
  return {
    policy,
    jobs: waits.length,
    mean_wait_ms: round(mean(waits)),
    p95_wait_ms: round(quantile(sorted, 0.95)),
    p99_wait_ms: round(quantile(sorted, 0.99)),
    burst_mean_wait_ms: round(mean(burstWaits)),
    moved_gib: round(moved / 1024, 2),
    replicas_added: added,
    replicas_dropped: dropped,
    replicas_end: holders.reduce((s, h) => s + [...h].filter((i) => nodes[i]!.models.get(holders.indexOf(h))?.ready).length, 0),
    first_extra_ms: firstExtra,
    peak_replicas: peak,
  };
}

export function compareReplication(sc: ReplicationScenario, policies: readonly ReplicationPolicy[] = REPLICATION_POLICIES): ReplicationResult[] {
  return policies.map((p) => runReplication(sc, p));
}
