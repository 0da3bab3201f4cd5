// Placement comparison in virtual time: one generated workload (Poisson
// arrivals, exponential job sizes, heterogeneous nodes with speed factors and slots), placed by
// the response-threshold model — scoped offers, nodes claiming with probability T = s²/(s²+θ²)
// (threshold.ts), the offerer ranking claims with routeJob (router.ts), the code the node runs —
// and by random, round-robin, power-of-two-choices and an omniscient join-the-shortest-expected-
// wait. Nodes serve jobs FIFO on their slots (list scheduling with the modelled service time
// size / speed). Every message is one delivery to one node. Deterministic from the seed.
import { responseProbability, seededRandom, stimulus, THETA_MIN } from '../actors/consensus/threshold.ts';
import { claimsOffer, takeAtOnce } from '../market/claim-rule.ts';
import { routeJob, type RoutingCandidate } from '../actors/consensus/router.ts';
import { LinkModel, VirtualClock } from './clock.ts';

export type PlacementPolicy = 'threshold' | 'random' | 'round_robin' | 'power_of_two' | 'omniscient';
export const POLICIES: readonly PlacementPolicy[] = ['omniscient', 'threshold', 'power_of_two', 'random', 'round_robin'];

export interface WorkloadOptions {
  nodes: number;
  seed: number;
  /** Offered load: arrival rate × mean size / total capacity (Σ speed × slots). */
  load: number;
  jobs: number;
  /** Mean job size, ms of work at speed 1 (default 1000). */
  meanSizeMs?: number;
}

export interface SimNodeSpec { speed: number; slots: number }
export interface SimJob { id: number; arrival: number; size: number; origin: number }
export interface Workload { opts: WorkloadOptions; nodes: SimNodeSpec[]; jobs: SimJob[]; meanSizeMs: number; capacity: number }

const SPEEDS = [0.5, 1, 1, 2] as const;
const SLOTS = [1, 2, 2, 4] as const;

/** Heterogeneous nodes and a Poisson stream of jobs with exponential sizes, from the seed. */
export function generateWorkload(opts: WorkloadOptions): Workload {
  const rng = seededRandom(opts.seed);
  const meanSizeMs = opts.meanSizeMs ?? 1000;
  const nodes: SimNodeSpec[] = [];
  for (let i = 0; i < opts.nodes; i++) nodes.push({ speed: SPEEDS[Math.floor(rng() * SPEEDS.length)]!, slots: SLOTS[Math.floor(rng() * SLOTS.length)]! });
  const capacity = nodes.reduce((s, n) => s + n.speed * n.slots, 0);
  const rate = (opts.load * capacity) / meanSizeMs; // jobs per ms
  const jobs: SimJob[] = [];
  let t = 0;
  for (let id = 0; id < opts.jobs; id++) {
    t += -Math.log(1 - rng()) / rate;
    jobs.push({ id, arrival: t, size: -Math.log(1 - rng()) * meanSizeMs, origin: Math.floor(rng() * opts.nodes) });
  }
  return { opts, nodes, jobs, meanSizeMs, capacity };
}

/** A node's slots as list scheduling: each job starts on the slot free first, FIFO. */
class ServerState {
  readonly free: Float64Array;
  private starts: number[] = [];
  busy = 0;
  assigned = 0;
  constructor(readonly spec: SimNodeSpec) { this.free = new Float64Array(spec.slots); }
  private minSlot(): number {
    let k = 0;
    for (let j = 1; j < this.free.length; j++) if (this.free[j]! < this.free[k]!) k = j;
    return k;
  }
  /** When a job arriving at `t` would start. */
  startAt(t: number): number { return Math.max(t, this.free[this.minSlot()]!); }
  freeSlots(t: number): number { let c = 0; for (const f of this.free) if (f <= t) c++; return c; }
  /** Jobs assigned and not started at `t`. */
  queued(t: number): number {
    if (this.starts.length > 0 && this.starts[0]! <= t) this.starts = this.starts.filter((s) => s > t);
    return this.starts.length;
  }
  /** Jobs running or queued at `t`. */
  inSystem(t: number): number { return this.queued(t) + (this.spec.slots - this.freeSlots(t)); }
  /** Takes a job arriving at `t`; returns its finish time. */
  assign(t: number, size: number): number {
    const k = this.minSlot();
    const start = Math.max(t, this.free[k]!);
    const service = size / this.spec.speed;
    this.free[k] = start + service;
    if (start > t) this.starts.push(start);
    this.busy += service;
    this.assigned++;
    return start + service;
  }
}

export interface ThresholdOptions {
  /** Offers per round (default ⌈log₂N⌉ − 1: with the claims and the dispatch, ≤ 2·log₂N messages). */
  fanout?: number;
  /**
   * How long the offerer waits for claims when none is good enough to take at once, ms; default:
   * the slowest offered node's round trip plus 5 ms (an offerer knows its peers' RTTs from ping).
   */
  windowMs?: number;
  /** Without windowMs: wait for this quantile of the offered nodes' round trips (default 1: the slowest). */
  windowQuantile?: number;
  rounds?: number;
  /** Targets that do not claim answer "no" (one message each), so the offerer decides at the last answer. */
  declines?: boolean;
  /** Urgency of a job (stimulus s = value/high_value + urgency; default 0.9 with value 1 → s = 1). */
  urgency?: number;
  /**
   * 'completion' (default): claims carry est_done_ms (wait + this job's service at the node's
   * speed) and θ is the node's expected completion relative to the fastest possible one;
   * 'job_path': claims carry only slots / start / queue, θ is the node's backlog (the ranking the
   * job path used before the simulator).
   */
  rank?: 'completion' | 'job_path';
  /** θ = thetaScale × expected completion / best possible completion (default 0.3). */
  thetaScale?: number;
  /** Choose at once on a claim finishing within this factor of the best possible (default 1.2). */
  immediateWithin?: number;
  /** …or on a claim that can start now (a free slot) and finishes within this factor of the best possible (default 2). */
  freeWithin?: number;
}

export interface PlacementResult {
  policy: PlacementPolicy;
  nodes: number;
  load: number;
  jobs: number;
  measured: number;
  mean_ms: number;
  p50_ms: number;
  p99_ms: number;
  /** Coefficient of variation of per-node utilisation. */
  util_cv: number;
  mean_util: number;
  messages_per_job: number;
  /** Threshold only: share of jobs needing a second round, jobs that fell back to a random pick. */
  rerounds?: number;
  fallbacks?: number;
}

/** Places the workload's jobs by `policy`; returns completion-time figures. */
export function runPlacement(w: Workload, policy: PlacementPolicy, th: ThresholdOptions = {}): PlacementResult {
  const N = w.nodes.length;
  const rng = seededRandom(w.opts.seed * 7919 + POLICIES.indexOf(policy) + 1);
  const links = new LinkModel(N, w.opts.seed, 2, 25, seededRandom(w.opts.seed ^ 0x9e3779b9));
  const clock = new VirtualClock(0);
  const servers = w.nodes.map((s) => new ServerState(s));
  const finish = new Float64Array(w.jobs.length).fill(NaN);
  let messages = 0;
  let rr = 0;
  let rerounds = 0;
  let fallbacks = 0;
  const fanout = Math.max(1, Math.min(N, th.fanout ?? Math.ceil(Math.log2(N)) - 1));
  const windowMs = th.windowMs;
  const windowQuantile = Math.min(1, Math.max(0.01, th.windowQuantile ?? 1));
  const rank = th.rank ?? 'completion';
  const thetaScale = th.thetaScale ?? 0.3;
  const immediateWithin = th.immediateWithin ?? 1.2;
  const freeWithin = th.freeWithin ?? 2;
  const maxRounds = th.rounds ?? 3;
  const urgency = th.urgency ?? 0.9;
  const speedMax = Math.max(...w.nodes.map((n) => n.speed));

  const dispatch = (job: SimJob, to: number) => {
    messages++;
    clock.after(links.delay(job.origin, to), () => { finish[job.id] = servers[to]!.assign(clock.now, job.size); });
  };
  const sample = (k: number, exclude: number): number[] => {
    const picked = new Set<number>();
    while (picked.size < Math.min(k, N - 1)) {
      const i = Math.floor(rng() * N);
      if (i !== exclude) picked.add(i);
    }
    return [...picked];
  };

  const offer = (job: SimJob, round: number) => {
    const s = stimulus({ job_value: 1, urgency }, 10, round);
    const claims: Array<RoutingCandidate & { i: number }> = [];
    let decided = false;
    let answered = 0;
    const decide = () => {
      if (decided) return;
      decided = true;
      const pick = routeJob(claims, { dead: () => false, affinity: (p) => w.nodes[Number(p)]!.speed / speedMax });
      if (pick) return dispatch(job, Number(pick.choice));
      if (round < maxRounds) { rerounds++; return offer(job, round + 1); }
      fallbacks++;
      dispatch(job, targets[Math.floor(rng() * targets.length)]!);
    };
    const targets = sample(fanout, job.origin);
    for (const i of targets) {
      messages++;
      clock.after(links.delay(job.origin, i), () => {
        const sv = servers[i]!;
        const now = clock.now;
        const wait = sv.startAt(now) - now;
        // The job's size is known as an estimate (its mean); its real size only when it runs.
        const done = wait + w.meanSizeMs / sv.spec.speed;
        // θ: 'completion' — the node's expected completion over the best possible one, so idle
        // fast nodes nearly always answer and slow or queued ones seldom do; 'job_path' — the
        // node's backlog in its own mean service times.
        // 'job_path': the node's own rule (claimsOffer), θ its backlog in its mean service times.
        const claims_ = rank === 'completion'
          ? rng() < responseProbability(s, Math.max(THETA_MIN, thetaScale * done / (w.meanSizeMs / speedMax)))
          : claimsOffer(round, wait, w.meanSizeMs / sv.spec.speed, rng, urgency);
        if (!claims_) {
          if (!th.declines) return;
          messages++;
          clock.after(links.delay(i, job.origin), () => { if (!decided && ++answered === targets.length) decide(); });
          return;
        }
        const claim: RoutingCandidate & { i: number } = {
          i, peer_id: String(i), capacity: sv.freeSlots(now), est_start_ms: Math.round(wait), queue_depth: sv.queued(now),
          ...(rank === 'completion' ? { est_done_ms: Math.round(done) } : {}),
        };
        messages++;
        clock.after(links.delay(i, job.origin), () => {
          if (decided) return;
          claims.push(claim);
          if (th.declines && ++answered === targets.length) return decide();
          // The job path's rule: choose at once when a claim can start now ('completion': see takeAtOnce).
          // (a job-path claim carries no completion estimate: takeAtOnce then asks a free slot, starting now)
          if (takeAtOnce(claim, w.meanSizeMs / speedMax, immediateWithin, freeWithin)) decide();
        });
      });
    }
    if (windowMs !== undefined) clock.after(windowMs, decide);
    else {
      const rtts = targets.map((i) => 2 * links.delay(job.origin, i)).sort((a, b) => a - b);
      clock.after(rtts[Math.min(rtts.length - 1, Math.ceil(windowQuantile * rtts.length) - 1)]! + 5, decide);
    }
  };

  const place = (job: SimJob) => {
    switch (policy) {
      case 'random': return dispatch(job, Math.floor(rng() * N));
      case 'round_robin': return dispatch(job, rr++ % N);
      case 'power_of_two': {
        const [a, b] = sample(2, -1) as [number, number];
        messages += 4; // two probes, two answers
        const rtt = Math.max(links.delay(job.origin, a) * 2, links.delay(job.origin, b) * 2);
        const qa = { t: clock.now + links.delay(job.origin, a) }, qb = { t: clock.now + links.delay(job.origin, b) };
        clock.at(qa.t, () => {
          const la = servers[a]!.inSystem(clock.now);
          clock.at(qb.t, () => {
            const lb = servers[b]!.inSystem(clock.now);
            clock.at(job.arrival + rtt, () => dispatch(job, la < lb ? a : lb < la ? b : rng() < 0.5 ? a : b));
          });
        });
        return;
      }
      case 'omniscient': {
        let best = 0;
        let bestAt = Infinity;
        for (let i = 0; i < N; i++) {
          const arrive = clock.now + links.delay(job.origin, i);
          const done = servers[i]!.startAt(arrive) + job.size / w.nodes[i]!.speed;
          if (done < bestAt) { bestAt = done; best = i; }
        }
        messages++;
        finish[job.id] = servers[best]!.assign(clock.now + links.delay(job.origin, best), job.size);
        return;
      }
      case 'threshold': return offer(job, 1);
    }
  };

  for (const job of w.jobs) clock.at(job.arrival, () => place(job));
  clock.drain();

  // Measure after a warm-up of the first 10 % of jobs; utilisation over the arrival horizon.
  const from = Math.floor(w.jobs.length * 0.1);
  const times: number[] = [];
  for (let k = from; k < w.jobs.length; k++) times.push(finish[k]! - w.jobs[k]!.arrival);
  times.sort((a, b) => a - b);
  const horizon = w.jobs[w.jobs.length - 1]!.arrival;
  const utils = servers.map((s) => Math.min(1, s.busy / (s.spec.slots * horizon)));
  const mu = utils.reduce((a, b) => a + b, 0) / N;
  const sd = Math.sqrt(utils.reduce((a, b) => a + (b - mu) ** 2, 0) / N);
  return {
    policy, nodes: N, load: w.opts.load, jobs: w.jobs.length, measured: times.length,
    mean_ms: round(times.reduce((a, b) => a + b, 0) / times.length),
    p50_ms: round(quantile(times, 0.5)), p99_ms: round(quantile(times, 0.99)),
    util_cv: round(sd / mu, 3), mean_util: round(mu, 3),
    messages_per_job: round(messages / w.jobs.length, 2),
    ...(policy === 'threshold' ? { rerounds: round(rerounds / w.jobs.length, 4), fallbacks } : {}),
  };
}

// The claim rule and take-at-once rule are the job path's own (src/market/claim-rule.ts).
export { takeAtOnce } from '../market/claim-rule.ts';

export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export function round(x: number, digits = 1): number { const f = 10 ** digits; return Math.round(x * f) / f; }

export interface ComparisonRow extends PlacementResult { mean_x: number; p99_x: number }

/** Every policy on one workload; means and p99s relative to the omniscient placement. */
export function comparePlacements(opts: WorkloadOptions, th: ThresholdOptions = {}, policies: readonly PlacementPolicy[] = POLICIES): ComparisonRow[] {
  const w = generateWorkload(opts);
  const rows = policies.map((p) => runPlacement(w, p, th));
  const omni = rows.find((r) => r.policy === 'omniscient') ?? runPlacement(w, 'omniscient');
  return rows.map((r) => ({ ...r, mean_x: round(r.mean_ms / omni.mean_ms, 2), p99_x: round(r.p99_ms / omni.p99_ms, 2) }));
}
