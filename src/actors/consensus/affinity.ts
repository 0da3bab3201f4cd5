// Affinity (seed "Affinity Calculator"): how fit a node is to coordinate, a score in [0, 1]
// computed from the figures it knows about itself. Pure; higher is fitter. Each node scores
// itself and gossips the score on its heartbeats (core.ts), so every node ranks the same numbers.
//
// Score = Σ weight × component, every component in [0, 1], weights summing to 1:
//
// | component     | weight | from                          | shape                                    |
// |---------------|--------|-------------------------------|------------------------------------------|
// | queue headroom| 0.20   | depth / capacity              | 1 − load, load clamped to [0, 1]         |
// | cpu headroom  | 0.15   | load per core                 | 1 − cpu, cpu clamped to [0, 1]           |
// | memory        | 0.10   | free memory, MB               | m / (m + 2048): half at 2 GiB            |
// | uptime        | 0.15   | seconds up                    | u / (u + 600): half at 10 min (stability)|
// | connectivity  | 0.10   | connected peers               | p / (p + 4): half at 4 peers             |
// | latency       | 0.10   | round trip to peers, ms       | 100 / (100 + l): half at 100 ms          |
// | models        | 0.10   | models held                   | n / (n + 2): half at 2 models            |
// | reputation    | 0.10   | verified receipts: ok, failed | (ok + 1) / (ok + failed + 2)             |
//
// So the score falls as queue load, CPU or latency rise and rises with memory, uptime, peers,
// models and receipts that completed. Reputation is the mean of a Beta(1, 1) prior updated by the
// node's own accepted receipts (completed = success, anything else = failure): 0.5 with no
// history, approaching the success rate as receipts accumulate.
// A figure that is unknown (undefined, or not a finite number) counts as the neutral 0.5 for its
// component; `affinity` reports which ones were, so a caller can say the score is estimated.

export interface AffinityInput {
  queue_depth?: number;
  queue_capacity?: number;
  /** Load per core: 1.0 = every core busy. */
  cpu?: number;
  mem_free_mb?: number;
  uptime_s?: number;
  peers_connected?: number;
  models_held?: number;
  /** Typical round trip to connected peers, ms. */
  latency_ms?: number;
  /** This node's accepted receipts that completed, and those that did not. */
  receipts_ok?: number;
  receipts_failed?: number;
}

export type AffinityComponent = 'queue' | 'cpu' | 'memory' | 'uptime' | 'connectivity' | 'latency' | 'models' | 'reputation';

export const AFFINITY_WEIGHTS: Readonly<Record<AffinityComponent, number>> = {
  queue: 0.2, cpu: 0.15, memory: 0.1, uptime: 0.15, connectivity: 0.1, latency: 0.1, models: 0.1, reputation: 0.1,
};

/** Half-saturation points of the rising components. */
export const HALF_MEM_MB = 2048;
export const HALF_UPTIME_S = 600;
export const HALF_PEERS = 4;
export const HALF_MODELS = 2;
/** Round trip at which the latency component is one half. */
export const HALF_LATENCY_MS = 100;

const NEUTRAL = 0.5;
const known = (n: number | undefined): n is number => typeof n === 'number' && Number.isFinite(n);
const clamp01 = (x: number) => Math.min(1, Math.max(0, x));
const saturating = (x: number, half: number) => { const v = Math.max(0, x); return v / (v + half); };

export interface Affinity {
  score: number;
  components: Record<AffinityComponent, number>;
  /** Components scored NEUTRAL for want of a figure. */
  unknown: AffinityComponent[];
}

export function affinity(input: AffinityInput): Affinity {
  const unknown: AffinityComponent[] = [];
  const part = (c: AffinityComponent, ok: boolean, value: () => number) => {
    if (!ok) { unknown.push(c); return NEUTRAL; }
    return clamp01(value());
  };
  const { queue_depth: d, queue_capacity: cap } = input;
  const components: Record<AffinityComponent, number> = {
    queue: part('queue', known(d) && known(cap), () => 1 - clamp01(cap! > 0 ? d! / cap! : d! > 0 ? 1 : 0)),
    cpu: part('cpu', known(input.cpu), () => 1 - clamp01(input.cpu!)),
    memory: part('memory', known(input.mem_free_mb), () => saturating(input.mem_free_mb!, HALF_MEM_MB)),
    uptime: part('uptime', known(input.uptime_s), () => saturating(input.uptime_s!, HALF_UPTIME_S)),
    connectivity: part('connectivity', known(input.peers_connected), () => saturating(input.peers_connected!, HALF_PEERS)),
    latency: part('latency', known(input.latency_ms), () => HALF_LATENCY_MS / (HALF_LATENCY_MS + Math.max(0, input.latency_ms!))),
    models: part('models', known(input.models_held), () => saturating(input.models_held!, HALF_MODELS)),
    reputation: part('reputation', known(input.receipts_ok) || known(input.receipts_failed), () => {
      const ok = Math.max(0, known(input.receipts_ok) ? input.receipts_ok : 0);
      const failed = Math.max(0, known(input.receipts_failed) ? input.receipts_failed : 0);
      return (ok + 1) / (ok + failed + 2);
    }),
  };
  let score = 0;
  for (const c of Object.keys(AFFINITY_WEIGHTS) as AffinityComponent[]) score += AFFINITY_WEIGHTS[c] * components[c];
  return { score: clamp01(score), components, unknown };
}

/** Just the score. */
export const affinityScore = (input: AffinityInput): number => affinity(input).score;
