// The network actor's judgement of its peers (src/market/reputation.ts): token buckets,
// penalties and credit, the thresholds, decay, and jobs assigned but never delivered.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CLAIMS_REFUSED_BELOW, HALF_LIFE_MS, IGNORED_BELOW, MAX_SCORE, PENALTY, RateLimiter, Reputation,
} from '../../src/market/reputation.ts';

describe('RateLimiter', () => {
  it('lets a burst through, then refills at its rate', () => {
    const r = new RateLimiter({ perSec: 10, burst: 5 });
    const t = 1_000_000;
    const takes = (now: number, n: number) => Array.from({ length: n }, () => r.take('p', now)).filter(Boolean).length;
    assert.equal(takes(t, 8), 5, 'the burst, no more');
    assert.equal(takes(t + 100, 3), 1, '100 ms at 10/s: one token');
    assert.equal(takes(t + 10_000, 20), 5, 'refilled to the burst, never beyond');
  });

  it('keeps one bucket per key, and survives a clock that goes back', () => {
    const r = new RateLimiter({ perSec: 1, burst: 1 });
    assert.equal(r.take('a', 5000), true);
    assert.equal(r.take('a', 5000), false);
    assert.equal(r.take('b', 5000), true, 'another key has its own budget');
    assert.equal(r.take('a', 1000), false, 'time going back refills nothing');
    assert.equal(r.take('a', 6000), true);
  });
});

describe('Reputation', () => {
  const now = 1_000_000;

  it('penalises by offence, credits receipts up to a cap, and names the suspects lowest first', () => {
    const rep = new Reputation();
    rep.penalise('bad', 'forged', now);
    rep.penalise('bad', 'garbage', now);
    rep.penalise('meh', 'replay', now);
    assert.equal(rep.score('bad', now), -(PENALTY.forged + PENALTY.garbage));
    assert.equal(rep.score('unknown', now), 0);
    for (let i = 0; i < 3 * MAX_SCORE; i++) rep.delivered(`job${i}`, 'good', now);
    assert.equal(rep.score('good', now), MAX_SCORE);
    assert.deepEqual(rep.suspects(now).map((s) => s.peer_id), ['bad', 'meh']);
    assert.equal(rep.offences.forged, 1);
    assert.equal(rep.offences.replay, 1);
  });

  it('refuses claims, then ignores the peer altogether, as its score falls; and forgives with time', () => {
    const rep = new Reputation();
    let n = 0;
    while (!rep.refusesClaims('p', now)) { rep.penalise('p', 'forged', now); n++; }
    assert.equal(n, Math.floor(-CLAIMS_REFUSED_BELOW / PENALTY.forged) + 1);
    assert.equal(rep.ignores('p', now), false, 'claims refused before everything is');
    while (!rep.ignores('p', now)) rep.penalise('p', 'forged', now);
    assert.ok(rep.score('p', now) < IGNORED_BELOW);
    const s = rep.score('p', now);
    assert.ok(Math.abs(rep.score('p', now + HALF_LIFE_MS) - s / 2) < 1e-9, 'halved in a half-life');
    assert.equal(rep.refusesClaims('p', now + 10 * HALF_LIFE_MS), false, 'an old offence is forgiven');
  });

  it('blames an executor its client moved the job away from, not one that delivered', () => {
    const rep = new Reputation();
    rep.assigned('j1', 'slow', 1, now + 60_000, now);
    rep.assigned('j1', 'next', 2, now + 60_000, now + 10);
    assert.equal(rep.score('slow', now + 10), -PENALTY.undelivered);
    rep.delivered('j1', 'next', now + 20);
    rep.sweep(now + 120_000);
    assert.ok(rep.score('next', now + 120_000) > 0, 'delivered: credited, never blamed');
    // The same executor again (it was busy, the job came back to it) is no failure.
    rep.assigned('j2', 'busy', 1, now + 60_000, now);
    rep.assigned('j2', 'busy', 2, now + 60_000, now + 5);
    assert.equal(rep.score('busy', now + 5), 0);
  });

  it('blames the former executor when the assignments are seen out of order, and only once', () => {
    const rep = new Reputation();
    rep.assigned('j', 'next', 2, now + 60_000, now);
    rep.assigned('j', 'dropper', 1, now + 60_000, now);
    rep.assigned('j', 'dropper', 1, now + 60_000, now);
    assert.equal(rep.score('dropper', now), -PENALTY.undelivered);
    rep.sweep(now + 59_999);
    assert.equal(rep.score('next', now + 59_999), 0, 'the latest one is waited for');
  });

  it('blames an executor whose job is past due with no receipt, once', () => {
    const rep = new Reputation();
    rep.assigned('j', 'sitter', 1, now + 1000, now);
    rep.sweep(now + 999);
    assert.equal(rep.score('sitter', now + 999), 0, 'not yet due');
    rep.sweep(now + 1000);
    rep.sweep(now + 2000);
    assert.equal(rep.offences.undelivered, 1);
  });

  it('hands an overdue job out once for a receipt lookup, without blaming anyone itself', () => {
    const rep = new Reputation();
    rep.assigned('j', 'quiet', 1, now + 1000, now);
    rep.assigned('k', 'done', 1, now + 1000, now);
    rep.delivered('k', 'done', now + 10);
    assert.deepEqual(rep.overdue(now + 999), [], 'not yet due');
    assert.deepEqual(rep.overdue(now + 1000), [{ jobId: 'j', executor: 'quiet' }], 'only the job with no receipt');
    assert.deepEqual(rep.overdue(now + 2000), [], 'handed out once');
    assert.equal(rep.offences.undelivered, 0, 'the caller decides, after its lookup');
    assert.equal(rep.hasDelivered('j', 'quiet'), false);
    rep.delivered('j', 'quiet', now + 2500);
    assert.equal(rep.hasDelivered('j', 'quiet'), true, 'a receipt the lookup found counts as delivered');
  });

  it('does not wait for a receipt that came before the assignment', () => {
    const rep = new Reputation();
    rep.delivered('j', 'fast', now);
    rep.assigned('j', 'fast', 1, now + 1000, now + 1);
    rep.sweep(now + 5000);
    assert.equal(rep.offences.undelivered, 0);
  });

  it('knows which executors a job was given to (a late receipt from one is no forgery)', () => {
    const rep = new Reputation();
    rep.assigned('j', 'first', 1, now + 1000, now);
    rep.assigned('j', 'second', 2, now + 1000, now);
    assert.equal(rep.wasAssigned('j', 'first'), true);
    assert.equal(rep.wasAssigned('j', 'second'), true);
    assert.equal(rep.wasAssigned('j', 'stranger'), false);
    assert.equal(rep.wasAssigned('other', 'first'), false);
  });
});

describe('Reputation kept across restarts', () => {
  it('gives back the scores it saved, still decaying from when they were set', () => {
    const before = new Reputation();
    before.penalise('p', 'forged', 0);
    const changes = before.changes;
    assert.ok(changes > 0, 'a change to save');
    const saved = before.standings();
    const after = new Reputation();
    after.restore(saved);
    assert.equal(after.score('p', 0), before.score('p', 0));
    assert.ok(Math.abs(after.score('p', HALF_LIFE_MS) - before.score('p', 0) / 2) < 1e-9);
    after.penalise('p', 'garbage', 10);
    after.restore(saved);
    assert.ok(after.score('p', 10) < before.score('p', 10), 'a score this run already holds is not overwritten');
  });
});
