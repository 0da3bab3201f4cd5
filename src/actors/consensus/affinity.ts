// Affinity (seed "Affinity Calculator"): how fit a node is to coordinate, a score in [0, 1]
// computed from the figures its manifest carries. Pure; higher is fitter.
//
// Score = Σ weight × component, every component in [0, 1], weights summing to 1:
//
// | component     | weight | from                 | shape                                     |
// |---------------|--------|----------------------|-------------------------------------------|
// | queue headroom| 0.25   | depth / capacity     | 1 − load, load clamped to [0, 1]          |
// | cpu headroom  | 0.20   | load per core        | 1 − cpu, cpu clamped to [0, 1]            |
// | memory        | 0.15   | free memory, MB      | m / (m + 2048): half at 2 GiB             |
// | uptime        | 0.15   | seconds up           | u / (u + 600): half at 10 min (stability) |
// | connectivity  | 0.15   | connected peers      | p / (p + 4): half at 4 peers              |
// | models        | 0.10   | models held          | n / (n + 2): half at 2 models             |
//
// So the score falls as queue load or CPU rise and rises with memory, uptime, peers and models.
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
}

export type AffinityComponent = 'queue' | 'cpu' | 'memory' | 'uptime' | 'connectivity' | 'models';

export const AFFINITY_WEIGHTS: Readonly<Record<AffinityComponent, number>> = {
  queue: 0.25, cpu: 0.2, memory: 0.15, uptime: 0.15, connectivity: 0.15, models: 0.1,
};

/** Half-saturation points of the rising components. */
export const HALF_MEM_MB = 2048;
export const HALF_UPTIME_S = 600;
export const HALF_PEERS = 4;
export const HALF_MODELS = 2;

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
    models: part('models', known(input.models_held), () => saturating(input.models_held!, HALF_MODELS)),
  };
  let score = 0;
  for (const c of Object.keys(AFFINITY_WEIGHTS) as AffinityComponent[]) score += AFFINITY_WEIGHTS[c] * components[c];
  return { score: clamp01(score), components, unknown };
}

/** Just the score. */
export const affinityScore = (input: AffinityInput): number => affinity(input).score;
