// The response-threshold rule of the job marketplace, one copy for the node's job path and the
// virtual-time simulator (src/sim/placement.ts, cluster.ts): a node hearing an offer claims it
// with probability T = s²/(s²+θ²) (consensus/threshold.ts), s the offer's stimulus — louder each
// time its client offers it again — and θ the node's backlog in its own mean service times, so
// idle nodes nearly always claim and queued ones seldom do until nobody else has. The offerer
// takes a claim at once when it can start now (takeAtOnce); otherwise it waits a short window
// for others.
import { responseProbability, stimulus, THETA_MIN } from '../actors/consensus/threshold.ts';
import type { RoutingCandidate } from '../actors/consensus/router.ts';

/** An offer's value and urgency as the stimulus sees them (a job worth a tenth of high value, urgent). */
export const OFFER_VALUE = 1;
export const OFFER_URGENCY = 0.9;
export const OFFER_HIGH_VALUE = 10;

/** The stimulus of the `round`-th offer of one job (1 for the first; each further doubles it). */
export function offerStimulus(round: number, urgency = OFFER_URGENCY): number {
  return stimulus({ job_value: OFFER_VALUE, urgency }, OFFER_HIGH_VALUE, round);
}

/** θ of a node for an offer: its expected wait before the job would start, in its own mean service times. */
export function offerTheta(waitMs: number, meanServiceMs: number): number {
  return Math.max(THETA_MIN, Math.max(0, waitMs) / Math.max(1, meanServiceMs));
}

/** Draws whether a node claims the `round`-th offer of a job, given its wait and mean service time. */
export function claimsOffer(round: number, waitMs: number, meanServiceMs: number, rng: () => number, urgency = OFFER_URGENCY): boolean {
  return rng() < responseProbability(offerStimulus(round, urgency), offerTheta(waitMs, meanServiceMs));
}

/**
 * Whether an offerer takes a claim without waiting for the others. A claim with a completion
 * estimate (the simulator's 'completion' ranking): it finishes within `within` (1.2) × the best
 * possible completion `bestMs` whatever its queue, or it can start now and finishes within
 * `freeWithin` (2) × it. A claim without one (the job path's claims carry a free-slot count and
 * an estimated start): it has a free slot and starts now. Waiting for more claims (the slowest
 * target's round trip) pays only when no claim is such (BENCHMARKS.md, "Placement").
 */
export function takeAtOnce(c: RoutingCandidate, bestMs = Infinity, within = 1.2, freeWithin = 2): boolean {
  if (c.est_done_ms === undefined) return (c.capacity ?? 0) > 0 && c.est_start_ms === 0;
  const done = c.est_done_ms;
  return done <= within * bestMs || (c.est_start_ms === 0 && done <= freeWithin * bestMs);
}
