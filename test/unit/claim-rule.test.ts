// The marketplace's claim rule, shared by the job path and the simulator: idle nodes claim
// nearly always, queued ones seldom at first and more as the client's offers repeat; the
// take-at-once rule takes a claim that starts now.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { claimsOffer, offerStimulus, offerTheta, takeAtOnce } from '../../src/market/claim-rule.ts';
import { responseProbability, seededRandom } from '../../src/actors/consensus/threshold.ts';

const rate = (round: number, waitMs: number) => {
  const rng = seededRandom(42);
  let yes = 0;
  for (let i = 0; i < 10_000; i++) if (claimsOffer(round, waitMs, 1000, rng)) yes++;
  return yes / 10_000;
};

describe('claim rule (response threshold)', () => {
  it('an idle node claims nearly always; a node with a backlog seldom in the first round', () => {
    assert.ok(rate(1, 0) > 0.97, `idle: ${rate(1, 0)}`);
    assert.ok(rate(1, 3000) < 0.2, `queued 3 jobs deep: ${rate(1, 3000)}`);
  });

  it('each further offer of the same job is louder: a queued node claims more often', () => {
    assert.ok(rate(3, 3000) > rate(2, 3000) && rate(2, 3000) > rate(1, 3000));
    assert.equal(offerStimulus(2), 2 * offerStimulus(1));
  });

  it('is T = s²/(s²+θ²) with θ the wait in mean service times', () => {
    assert.equal(offerTheta(2500, 1000), 2.5);
    const p = responseProbability(offerStimulus(1), 2.5);
    assert.ok(Math.abs(rate(1, 2500) - p) < 0.02, `${rate(1, 2500)} vs ${p}`);
  });

  it('takes at once a job-path claim that starts now on a free slot, not one that waits', () => {
    assert.equal(takeAtOnce({ peer_id: 'a', capacity: 1, est_start_ms: 0 }), true);
    assert.equal(takeAtOnce({ peer_id: 'a', capacity: 0, est_start_ms: 2000 }), false);
    // With a completion estimate (the simulator's ranking): within 1.2 × the best.
    assert.equal(takeAtOnce({ peer_id: 'a', capacity: 0, est_start_ms: 100, est_done_ms: 110 }, 100), true);
    assert.equal(takeAtOnce({ peer_id: 'a', capacity: 0, est_start_ms: 500, est_done_ms: 600 }, 100), false);
  });
});
