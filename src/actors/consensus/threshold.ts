// The response-threshold model of adaptive consensus (Bonabeau et al.'s model of
// division of labour in social insects): a node answers a decision request with probability
// T = s² / (s² + θ²), s the stimulus of the request, θ the node's threshold for that decision type.
// Doing such work lowers θ (the node specialises), not doing it raises θ (it forgets). Pure, with
// randomness injected, so a simulator reproduces a run from its seed.
import type { DecisionType } from './router.ts';

export const THETA_INITIAL = 1;
export const THETA_MIN = 0.1;
export const THETA_MAX = 10;
/** Learning: θ falls by this much each time the node responds. */
export const THETA_LEARN = 0.1;
/** Forgetting: θ rises by this much each time the node lets a request pass. */
export const THETA_FORGET = 0.05;
/** Each further round doubles the stimulus, so a decision nobody answers gets louder. */
export const ROUND_GAIN = 2;

/** T = s² / (s² + θ²); 0 for no stimulus. */
export function responseProbability(s: number, theta: number): number {
  if (!(s > 0)) return 0;
  const t = Math.max(THETA_MIN, theta);
  return (s * s) / (s * s + t * t);
}

export interface StimulusInput {
  job_value?: number;
  /** In [0, 1]. */
  urgency?: number;
  critical?: boolean;
}

/**
 * s = value / high_value_threshold + urgency + (critical ? 1 : 0), at least 0.1, times
 * ROUND_GAIN^(round − 1). A job worth the high-value threshold, or a critical decision, starts
 * at s ≥ 1: half the nodes of initial θ answer in the first round, 80 % in the second.
 */
export function stimulus(input: StimulusInput, highValueThreshold: number, round: number): number {
  const value = Math.max(0, Number.isFinite(input.job_value) ? input.job_value! : 0);
  const urgency = Math.min(1, Math.max(0, Number.isFinite(input.urgency) ? input.urgency! : 0));
  const base = (highValueThreshold > 0 ? value / highValueThreshold : 0) + urgency + (input.critical ? 1 : 0);
  return Math.max(0.1, base) * ROUND_GAIN ** Math.max(0, round - 1);
}

/** Thresholds per decision type, adapting as the node responds or not. */
export class ThresholdTable {
  private readonly theta = new Map<DecisionType, number>();

  get(type: DecisionType): number { return this.theta.get(type) ?? THETA_INITIAL; }

  /** Draws whether to respond to a request of stimulus `s`, and adapts θ by the outcome. */
  respond(type: DecisionType, s: number, rng: () => number): boolean {
    const yes = rng() < responseProbability(s, this.get(type));
    const t = this.get(type) + (yes ? -THETA_LEARN : THETA_FORGET);
    this.theta.set(type, Math.min(THETA_MAX, Math.max(THETA_MIN, t)));
    return yes;
  }

  snapshot(): Record<string, number> { return Object.fromEntries(this.theta); }
}

/** Floor and ceiling of the passing threshold: always more than half the weight must agree. */
export const PASS_MIN = 0.51;
export const PASS_MAX = 0.95;

/**
 * The weighted share of agreement a proposal needs: base + 0.1 × criticality − 0.1 × (1 − health),
 * clamped to [PASS_MIN, PASS_MAX]. criticality is 1 for a critical decision, 0.5 for a high-value
 * one, else 0; health is the fraction of the group's electorate alive (not suspect, not dead).
 * Critical decisions need broader agreement; a sick network asks a little less so that it can
 * still decide, but never half or less.
 */
export function passingThreshold(base: number, criticality: number, health: number): number {
  const c = Math.min(1, Math.max(0, criticality));
  const h = Math.min(1, Math.max(0, Number.isFinite(health) ? health : 0));
  return Math.min(PASS_MAX, Math.max(PASS_MIN, base + 0.1 * c - 0.1 * (1 - h)));
}

/** A small seeded PRNG (mulberry32): the same seed gives the same sequence. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
