// The fair queue, driven by fast-check with a fake clock. What holds, with A = agingMs, a job's
// level L (low 0, normal 1, high 2), a client's candidate (its best head: level·A + wait since
// enqueued) and the candidate's readyAt = max(enqueuedAt, when its client was last served):
//
// 1. Conservation: every pushed job leaves exactly once (pop or remove); a pop takes only from
//    open lanes and finds nothing only when no job waits in an open lane.
// 2. Priority: when aging cannot cover a level (A far above the waits), every pop takes a job of
//    the highest level waiting in an open lane. Within one client, lane and level: FIFO.
// 3. Aging: a low job enqueued ≥ 2·A ago, whose client has not been served since, is popped
//    before a high job pushed now — by another client or by its own.
//    Proof: its score is 0·A + wait ≥ 2·A = the fresh job's 2·A + 0; a tie goes to the earlier
//    tick, and its push came first.
// 4. Bounded wait: client B pushes one job at time r while k − 1 other clients keep the queue
//    full of jobs. Let g = max(0, highest level any other client pushes − B's level) and
//    T = r + g·A. B's job is taken within the first k pops made at or after T (one slot: one
//    pop at a time). With equal priorities (g = 0) and one flooding client (k = 2): by the
//    second pop after B's push.
//    Proof: a client C served at time t ≥ T has its next candidate ready at ≥ t, so its score
//    L_C·A + now − readyAt ≤ L_B·A + now − r (its level is at most g above B's, and it became
//    ready at least g·A after r); a tie goes to B, ready earlier (smaller tick). So each of the
//    k − 1 others is served at most once at or after T before B.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from '../helpers/property.ts';
import { DuplicateJobError, FairQueue, LEVEL, PRIORITIES, QueueFullError, type Priority, type QueuedJob } from '../../src/actors/scheduler/queue.ts';

const priority = fc.constantFrom<Priority>(...PRIORITIES);

type Op =
  | { op: 'push'; client: number; lane: number; priority: Priority; dt: number }
  | { op: 'pop'; dt: number; open: boolean[] }
  | { op: 'remove'; pick: number };

const opArb = (lanes: number, clients: number, maxDt: number): fc.Arbitrary<Op> => fc.oneof(
  fc.record({ op: fc.constant('push' as const), client: fc.nat(clients - 1), lane: fc.nat(lanes - 1), priority, dt: fc.nat(maxDt) }),
  fc.record({ op: fc.constant('pop' as const), dt: fc.nat(maxDt), open: fc.array(fc.boolean(), { minLength: lanes, maxLength: lanes }) }),
  fc.record({ op: fc.constant('remove' as const), pick: fc.nat() }),
);

function job(id: string, client: string, lane: string, priority: Priority, at: number): QueuedJob<null> {
  return { id, client, lane, priority, enqueuedAt: at, payload: null };
}

describe('FairQueue', () => {
  it('loses and duplicates no job: each pushed job leaves exactly once, from an open lane', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 12 }), fc.array(opArb(3, 4, 50_000), { maxLength: 120 }), (capacity, ops) => {
      const q = new FairQueue<null>(capacity, 10_000);
      const waiting = new Map<string, QueuedJob<null>>();
      const left = new Set<string>();
      const accepted = new Set<string>();
      let now = 0;
      let n = 0;
      const take = (j: QueuedJob<null> | undefined, open: (lane: string) => boolean) => {
        const eligible = [...waiting.values()].filter((w) => open(w.lane));
        if (!j) { assert.equal(eligible.length, 0, 'pop found nothing while jobs wait in open lanes'); return; }
        assert.ok(waiting.has(j.id), `popped ${j.id}, which is not waiting`);
        assert.ok(open(j.lane), 'popped from a closed lane');
        assert.ok(!left.has(j.id), `${j.id} left twice`);
        // FIFO within a client, lane and level.
        const earlier = eligible.filter((w) => w.client === j.client && w.lane === j.lane && w.priority === j.priority && w.enqueuedAt < j.enqueuedAt);
        assert.equal(earlier.length, 0, 'a job overtook an earlier one of its own client, lane and level');
        waiting.delete(j.id);
        left.add(j.id);
      };
      for (const o of ops) {
        if (o.op === 'push') {
          now += o.dt;
          const j = job(`j${n++}`, `c${o.client}`, `m${o.lane}`, o.priority, now);
          if (waiting.size >= capacity) {
            assert.throws(() => q.push(j), QueueFullError);
          } else {
            q.push(j);
            waiting.set(j.id, j);
            accepted.add(j.id);
            assert.throws(() => q.push(j), DuplicateJobError);
          }
        } else if (o.op === 'pop') {
          now += o.dt;
          const open = (lane: string) => o.open[Number(lane.slice(1))]!;
          take(q.pop(now, open), open);
        } else {
          const ids = [...waiting.keys()];
          if (ids.length === 0) { assert.equal(q.remove('nope'), undefined); continue; }
          const id = ids[o.pick % ids.length]!;
          assert.equal(q.remove(id)?.id, id);
          assert.equal(q.remove(id), undefined);
          waiting.delete(id);
          left.add(id);
        }
        assert.equal(q.depth, waiting.size);
        for (const lane of ['m0', 'm1', 'm2']) assert.equal(q.depthOf(lane), [...waiting.values()].filter((w) => w.lane === lane).length);
      }
      for (let j = q.pop(now); j; j = q.pop(now)) take(j, () => true);
      assert.equal(waiting.size, 0);
      assert.deepEqual(left, accepted);
      assert.equal(q.depth, 0);
    }), { numRuns: 300 });
  });

  it('respects priority while aging cannot make up a level: each pop takes the highest level waiting', () => {
    fc.assert(fc.property(fc.array(opArb(2, 4, 1000), { maxLength: 150 }), (ops) => {
      const q = new FairQueue<null>(1000, 1e12);
      const waiting = new Map<string, QueuedJob<null>>();
      let now = 0;
      let n = 0;
      for (const o of ops) {
        now += o.op === 'remove' ? 0 : o.dt;
        if (o.op === 'push') {
          const j = job(`j${n++}`, `c${o.client}`, `m${o.lane}`, o.priority, now);
          q.push(j);
          waiting.set(j.id, j);
        } else if (o.op === 'pop') {
          const open = (lane: string) => o.open[Number(lane.slice(1))]!;
          const j = q.pop(now, open);
          if (!j) continue;
          waiting.delete(j.id);
          const top = Math.max(-1, ...[...waiting.values()].filter((w) => open(w.lane)).map((w) => LEVEL[w.priority]));
          assert.ok(LEVEL[j.priority] >= top, `popped a ${j.priority} job while a level-${top} job waited`);
        }
      }
    }), { numRuns: 300 });
  });

  it('drains a frozen-clock queue high to low, round-robin between clients within a level', () => {
    const q = new FairQueue<null>(100, 30_000);
    const pushes: Array<[string, Priority]> = [['a', 'low'], ['a', 'normal'], ['a', 'normal'], ['a', 'high'], ['b', 'normal'], ['b', 'low'], ['c', 'high'], ['b', 'normal']];
    pushes.forEach(([client, p], i) => q.push(job(`${client}${i}`, client, 'm', p, 0)));
    const order: string[] = [];
    for (let j = q.pop(0); j; j = q.pop(0)) order.push(j.id);
    // high: a3 then c6 (a pushed its high first). normal: b4 before a1 (b has been ready since
    // its push, a only since it was served), then alternating. low: b5 (b was served before a).
    assert.deepEqual(order, ['a3', 'c6', 'b4', 'a1', 'b7', 'a2', 'b5', 'a0']);
  });

  it('ages: a low job waiting ≥ 2·agingMs beats a high job pushed now, from another client or its own', () => {
    const A = 10_000;
    const background = fc.array(fc.record({ client: fc.nat(3), priority, at: fc.nat(4 * A) }), { maxLength: 20 });
    fc.assert(fc.property(background, fc.nat(3 * A), fc.boolean(), fc.array(fc.nat(6 * A), { maxLength: 10 }), (bg, extra, sameClient, popTimes) => {
      const q = new FairQueue<null>(1000, A);
      const now = 2 * A + extra;
      // Background clients push at their times; some pops happen before `now` (never for L).
      const events = [
        ...bg.map((b, i) => ({ at: Math.min(b.at, now), push: job(`bg${i}`, `c${b.client}`, 'm', b.priority, Math.min(b.at, now)) })),
        ...popTimes.filter((t) => t < now).map((t) => ({ at: t, push: undefined })),
      ].sort((x, y) => x.at - y.at);
      q.push(job('low', 'L', 'm', 'low', 0));
      let lowGone = false;
      for (const e of events) {
        if (e.push) q.push(e.push);
        else if (q.pop(e.at, () => true)?.id === 'low') lowGone = true;
      }
      fc.pre(!lowGone); // L was served before `now`: this case says nothing about the rule
      q.push(job('high', sameClient ? 'L' : 'H', 'm', 'high', now));
      const order: string[] = [];
      for (let j = q.pop(now); j; j = q.pop(now)) order.push(j.id);
      assert.ok(order.indexOf('low') < order.indexOf('high'), `order: ${order.join(' ')}`);
    }), { numRuns: 300 });
  });

  it('bounds every client\'s wait: k clients, one slot, B is served within k pops made once aging covers the level gap', () => {
    const A = 1000;
    fc.assert(fc.property(
      fc.integer({ min: 2, max: 5 }), priority, fc.array(priority, { minLength: 1, maxLength: 8 }),
      fc.nat(20), fc.array(fc.nat(A), { minLength: 60, maxLength: 60 }),
      (k, bPriority, floodPriorities, bStep, dts) => {
        const q = new FairQueue<null>(10_000, A);
        let now = 0;
        let n = 0;
        let r: number | undefined;
        let popsAfterT = 0;
        const gap = Math.max(0, Math.max(...floodPriorities.map((p) => LEVEL[p])) - LEVEL[bPriority]);
        for (let step = 0; step < dts.length; step++) {
          now += dts[step]!;
          // Every other client keeps at least two jobs queued.
          for (let c = 1; c < k; c++) {
            for (let i = 0; i < 2; i++) q.push(job(`f${n}`, `c${c}`, 'm', floodPriorities[n++ % floodPriorities.length]!, now));
          }
          if (step === bStep) { q.push(job('B', 'B', 'm', bPriority, now)); r = now; }
          const j = q.pop(now)!;
          if (r === undefined) continue;
          if (now >= r + gap * A) popsAfterT++;
          if (j.id === 'B') { assert.ok(popsAfterT <= k, `B waited ${popsAfterT} pops after T`); return; }
          assert.ok(popsAfterT < k, `B not served within ${k} pops after T`);
        }
      }), { numRuns: 500 });
  });

  it('serves one waiting client by the second pop however hard another floods at the same priority', () => {
    const q = new FairQueue<null>(10_000, 30_000);
    for (let i = 0; i < 100; i++) q.push(job(`a${i}`, 'A', 'm', 'normal', 0));
    q.push(job('b', 'B', 'm', 'normal', 5));
    const first = q.pop(10)!;
    const second = q.pop(10)!;
    assert.deepEqual([first.id, second.id], ['a0', 'b']);
  });
});
