// Demand-driven replication, the policy (pure, time and randomness injected, so the simulator
// runs the same code as the node):
//
// - The coordinator of a model group watches the group's mean queue wait for the model's jobs
//   (from its members' heartbeats). DemandWatch turns that series into verdicts with a
//   hysteresis band: `grow` once the wait has stayed above `high_ms` for `after_ms`, `shrink`
//   once it has stayed below `low_ms` (< high_ms) for `after_ms`; between the two nothing
//   changes, so a wait hovering near one bound does not make replicas come and go.
// - On `grow`, k more nodes should load the model. Nodes with room for it answer by the
//   response-threshold rule (threshold.ts): a node answers with probability T = s²/(s²+θ²), the
//   stimulus s the wait over the high bound (a longer wait calls louder), its threshold θ higher
//   the busier it already is; every round nobody answers doubles s. The first k that answered
//   are taken, those with the most free memory first.
// - On `shrink`, one extra replica unloads (the newest), never below min_replicas, never a
//   pinned one.
import { responseProbability, ROUND_GAIN } from './threshold.ts';

export interface DemandBounds {
  /** Above this mean wait (ms) for after_ms: replicate. */
  high_ms: number;
  /** Below this mean wait (ms) for after_ms: drop an extra replica. */
  low_ms: number;
  after_ms: number;
}

export type DemandVerdict = 'grow' | 'shrink' | undefined;

export class DemandWatch {
  private highSince: number | undefined;
  private lowSince: number | undefined;

  constructor(private readonly bounds: DemandBounds) {}

  /** One observation of the mean wait at `now`; a verdict fires once per after_ms spent past a bound. */
  observe(now: number, waitMs: number): DemandVerdict {
    const b = this.bounds;
    if (waitMs > b.high_ms) {
      this.lowSince = undefined;
      this.highSince ??= now;
      if (now - this.highSince >= b.after_ms) { this.highSince = now; return 'grow'; }
    } else if (waitMs < b.low_ms) {
      this.highSince = undefined;
      this.lowSince ??= now;
      if (now - this.lowSince >= b.after_ms) { this.lowSince = now; return 'shrink'; }
    } else {
      this.highSince = undefined;
      this.lowSince = undefined;
    }
    return undefined;
  }

  /** Forget the run so far (a replica was added or removed: the wait is about to change). */
  reset(): void {
    this.highSince = undefined;
    this.lowSince = undefined;
  }
}

/** One member's report: the summed and counted waits of the model's jobs since its last report. */
export interface WaitReport { wait_ms_sum: number; jobs: number }

/** The group's mean wait: every job the members reported weighs the same (0 with no job). */
export function groupMeanWait(reports: Iterable<WaitReport>): number {
  let sum = 0;
  let n = 0;
  for (const r of reports) { sum += r.wait_ms_sum; n += r.jobs; }
  return n > 0 ? sum / n : 0;
}

export interface Candidate {
  id: string;
  /** Free memory, MB (a candidate must have room for the model). */
  free_mb: number;
  /** Its load now: busy slots and queued jobs per slot (0 idle). */
  load: number;
}

/** A candidate's threshold: 0.5 when idle, rising with its load. */
export function volunteerTheta(load: number): number {
  return 0.5 + Math.max(0, Number.isFinite(load) ? load : 0);
}

/** The stimulus of a replication request: the wait as a multiple of the high bound. */
export function replicationStimulus(waitMs: number, highMs: number): number {
  return highMs > 0 ? Math.max(0.1, waitMs / highMs) : 1;
}

/**
 * Up to k volunteers among the candidates with room (free_mb ≥ need_mb), by the response-
 * threshold rule over at most `rounds` rounds; the ones that answered, most free memory first.
 */
export function chooseVolunteers(candidates: readonly Candidate[], needMb: number, s: number, k: number, rng: () => number, rounds = 3): string[] {
  const fits = candidates.filter((c) => c.free_mb >= needMb);
  const chosen: Candidate[] = [];
  let stim = s;
  for (let r = 0; r < rounds && chosen.length < k; r++) {
    const answered = fits.filter((c) => !chosen.includes(c) && rng() < responseProbability(stim, volunteerTheta(c.load)));
    answered.sort((a, b) => b.free_mb - a.free_mb || a.load - b.load || (a.id < b.id ? -1 : 1));
    chosen.push(...answered.slice(0, k - chosen.length));
    stim *= ROUND_GAIN;
  }
  return chosen.map((c) => c.id);
}

/** Which replica unloads on `shrink`: the newest that is neither pinned nor needed for min_replicas. */
export function replicaToDrop(replicas: ReadonlyArray<{ id: string; since: number; pinned?: boolean }>, minReplicas: number): string | undefined {
  if (replicas.length <= Math.max(1, minReplicas)) return undefined;
  return [...replicas].filter((r) => !r.pinned).sort((a, b) => b.since - a.since || (a.id < b.id ? 1 : -1))[0]?.id;
}
