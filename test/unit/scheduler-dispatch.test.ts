// The scheduler's dispatch logic in isolation (no actors, a fake clock): admission, slots per
// model, idempotent ids, cancellation, and that every accepted submitter is answered once.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from '../helpers/property.ts';
import { Dispatcher, resultWithoutOutput, type Ending } from '../../src/actors/scheduler/dispatch.ts';
import { PRIORITIES, type Priority } from '../../src/actors/scheduler/queue.ts';
import type { JobResult, SchedulerJob } from '../../src/actors/scheduler/messages.ts';
import type { GenerateResult } from '../../src/actors/inference/messages.ts';

const MODELS = [{ name: 'a', sequences: 2, contextSize: 512 }, { name: 'b', sequences: 1, contextSize: 512 }];

function job(id: string, extra: Partial<SchedulerJob> = {}): SchedulerJob {
  return { id, client: 'c', priority: 'normal', model: 'a', prompt: 'hi', max_tokens: 8, temperature: 0, ...extra };
}

function completed(id: string): GenerateResult {
  const { timings } = resultWithoutOutput(id, 'completed', '');
  return { job_id: id, status: 'completed', text: `out-${id}`, tokens_in: 2, tokens_out: 3, timings };
}

type Op =
  | { op: 'submit'; id: number; client: number; model: 'a' | 'b'; priority: Priority; dt: number }
  | { op: 'finish'; pick: number; dt: number }
  | { op: 'cancel'; id: number; dt: number }
  | { op: 'down'; model: 'a' | 'b'; up: boolean };

const ops = fc.array(fc.oneof(
  fc.record({ op: fc.constant('submit' as const), id: fc.nat(15), client: fc.nat(3), model: fc.constantFrom('a' as const, 'b' as const), priority: fc.constantFrom<Priority>(...PRIORITIES), dt: fc.nat(1000) }),
  fc.record({ op: fc.constant('finish' as const), pick: fc.nat(), dt: fc.nat(1000) }),
  fc.record({ op: fc.constant('cancel' as const), id: fc.nat(15), dt: fc.nat(1000) }),
  fc.record({ op: fc.constant('down' as const), model: fc.constantFrom('a' as const, 'b' as const), up: fc.boolean() }),
), { maxLength: 150 });

describe('scheduler dispatch', () => {
  it('runs each id at most once, never beyond a model\'s sequences, and answers every accepted submitter exactly once', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 6 }), ops, (capacity, script) => {
      const d = new Dispatcher<number>({ models: MODELS, capacity, agingMs: 5000, finishedCapacity: 1000 });
      let now = 0;
      let waiterSeq = 0;
      const started = new Set<string>();
      const running = new Map<string, string>(); // id → model
      const pendingWaiters = new Set<number>();
      const answered = new Map<number, JobResult>();
      const firstResult = new Map<string, JobResult>();
      const settle = (e: Ending<number> | undefined) => {
        if (!e) return;
        assert.ok(!firstResult.has(e.result.job_id), `${e.result.job_id} ended twice`);
        firstResult.set(e.result.job_id, e.result);
        for (const w of e.waiters) {
          assert.ok(pendingWaiters.delete(w), `waiter ${w} answered twice or never registered`);
          answered.set(w, e.result);
        }
      };
      const pump = () => {
        for (const x of d.dispatch(now)) {
          assert.ok(!started.has(x.job.id), `${x.job.id} started twice`);
          started.add(x.job.id);
          running.set(x.job.id, x.job.model);
          assert.ok(x.queueMs >= 0);
        }
        for (const m of MODELS) {
          const busy = [...running.values()].filter((n) => n === m.name).length;
          assert.ok(busy <= m.sequences, `${busy} jobs running on ${m.name} (${m.sequences} sequences)`);
          assert.equal(d.model(m.name)!.busy, busy);
        }
        assert.equal(d.status().busy_slots, running.size);
      };
      for (const o of script) {
        if (o.op === 'down') { d.setModelUp(o.model, o.up); pump(); continue; }
        now += o.dt;
        if (o.op === 'submit') {
          const w = waiterSeq++;
          const a = d.submit(job(`j${o.id}`, { client: `c${o.client}`, model: o.model, priority: o.priority }), w, undefined, now);
          if (a.kind === 'queued' || a.kind === 'attached') pendingWaiters.add(w);
          else if (a.kind === 'finished') assert.deepEqual(a.result, firstResult.get(`j${o.id}`));
          else assert.equal(a.error.name, 'QueueFullError');
        } else if (o.op === 'finish') {
          const ids = [...running.keys()];
          if (ids.length > 0) {
            const id = ids[o.pick % ids.length]!;
            running.delete(id);
            settle(d.finish(id, completed(id)));
          }
        } else {
          const id = `j${o.id}`;
          const state = d.stateOf(id);
          const e = d.cancelQueued(id, 'cancelled while queued', now);
          assert.equal(e !== undefined, state === 'queued');
          if (e) assert.equal(e.result.status, 'cancelled');
          settle(e);
        }
        pump();
      }
      // Drain: every model up, every job run to its end.
      d.setModelUp('a', true);
      d.setModelUp('b', true);
      pump();
      while (running.size > 0) {
        for (const id of [...running.keys()]) { running.delete(id); settle(d.finish(id, completed(id))); }
        pump();
      }
      assert.equal(pendingWaiters.size, 0, 'some submitter was never answered');
      assert.equal(d.depth, 0);
      for (const [, r] of answered) assert.deepEqual(r, firstResult.get(r.job_id), 'every waiter of one id gets the same result');
    }), { numRuns: 300 });
  });

  it('refuses an unknown model, naming the models it serves', () => {
    const d = new Dispatcher<number>({ models: MODELS, capacity: 4 });
    const a = d.submit(job('x', { model: 'gpt-9' }), 1, undefined, 0);
    assert.equal(a.kind, 'refused');
    assert.equal(a.kind === 'refused' && a.error.name, 'UnknownModelError');
    assert.equal(a.kind === 'refused' && a.error.message, 'unknown model gpt-9; this node serves: a, b');
  });

  it('refuses max_tokens outside 1..context − 1 and temperature outside 0..2', () => {
    const d = new Dispatcher<number>({ models: MODELS, capacity: 4 });
    const refusal = (extra: Partial<SchedulerJob>) => {
      const a = d.submit(job('x', extra), 1, undefined, 0);
      return a.kind === 'refused' ? `${a.error.name}: ${a.error.message}` : a.kind;
    };
    assert.match(refusal({ max_tokens: 0 }), /^InvalidJobError: .*max_tokens must be an integer ≥ 1/);
    assert.match(refusal({ max_tokens: 1.5 }), /^InvalidJobError: .*max_tokens/);
    assert.match(refusal({ max_tokens: 512 }), /^InvalidJobError: .*max_tokens 512 does not fit the context size 512/);
    assert.match(refusal({ temperature: -0.1 }), /^InvalidJobError: .*temperature must be between 0 and 2/);
    assert.match(refusal({ temperature: 2.5 }), /^InvalidJobError: .*temperature/);
    assert.match(refusal({ priority: 'urgent' as Priority }), /^InvalidJobError: .*priority/);
    assert.equal(refusal({ max_tokens: 511, temperature: 2 }), 'queued');
  });

  it('refuses beyond the queue\'s capacity with the queue-full reason, but still answers a repeated id', () => {
    const d = new Dispatcher<number>({ models: [{ name: 'a', sequences: 1, contextSize: 512 }], capacity: 2 });
    assert.equal(d.submit(job('r'), 0, undefined, 0).kind, 'queued');
    assert.deepEqual(d.dispatch(0).map((x) => x.job.id), ['r']);
    // The capacity bounds waiting jobs; the running one does not count.
    for (const id of ['q1', 'q2']) assert.equal(d.submit(job(id), 0, undefined, 0).kind, 'queued');
    assert.deepEqual(d.dispatch(0), []);
    const full = d.submit(job('q3'), 0, undefined, 0);
    assert.equal(full.kind === 'refused' && full.error.message, 'queue full (2/2 jobs)');
    assert.deepEqual(d.submit(job('q1'), 7, undefined, 0), { kind: 'attached', state: 'queued' });
    assert.deepEqual(d.submit(job('r'), 8, undefined, 0), { kind: 'attached', state: 'running' });
    const ending = d.finish('r', completed('r'))!;
    assert.deepEqual(ending.waiters, [0, 8]);
    assert.deepEqual(d.submit(job('r'), 9, undefined, 5), { kind: 'finished', result: ending.result });
  });

  it('keeps a bounded number of finished results, forgetting the least recently asked first', () => {
    const d = new Dispatcher<number>({ models: [{ name: 'a', sequences: 1, contextSize: 512 }], capacity: 10, finishedCapacity: 2 });
    for (const id of ['x', 'y', 'z']) {
      d.submit(job(id), 0, undefined, 0);
      d.dispatch(0);
      d.finish(id, completed(id));
    }
    assert.equal(d.stateOf('x'), undefined);
    assert.equal(d.stateOf('y'), 'finished');
    d.submit(job('y'), 1, undefined, 0); // asked again: now the most recent
    d.submit(job('w'), 0, undefined, 0);
    d.dispatch(0);
    d.finish('w', completed('w'));
    assert.equal(d.stateOf('z'), undefined);
    assert.equal(d.stateOf('y'), 'finished');
  });

  it('holds a down model\'s jobs in the queue and dispatches them when it is up again', () => {
    const d = new Dispatcher<number>({ models: MODELS, capacity: 10 });
    d.setModelUp('b', false);
    d.submit(job('b1', { model: 'b' }), 0, undefined, 0);
    d.submit(job('a1', { model: 'a' }), 0, undefined, 0);
    assert.deepEqual(d.dispatch(1).map((x) => x.job.id), ['a1']);
    assert.equal(d.stateOf('b1'), 'queued');
    d.setModelUp('b', true);
    const [b1] = d.dispatch(40);
    assert.equal(b1!.job.id, 'b1');
    assert.equal(b1!.queueMs, 40);
  });
  it('serves a model added at runtime, and retires one: new jobs refused, queued ones handed back, running ones finish', () => {
    const d = new Dispatcher<string>({ models: [{ name: 'a', sequences: 1, contextSize: 512 }], capacity: 10 });
    assert.equal(d.submit(job('x', { model: 'late' }), 'w0', undefined, 0).kind, 'refused');
    assert.equal(d.addModel({ name: 'late', sequences: 1, contextSize: 512 }), true);
    assert.equal(d.addModel({ name: 'late', sequences: 4, contextSize: 512 }), false, 'a name already served is kept');
    assert.deepEqual(d.status().models, ['a', 'late']);
    assert.equal(d.status().slots, 2);
    for (const id of ['r', 'q1', 'q2']) assert.equal(d.submit(job(id, { model: 'late' }), `w-${id}`, undefined, 0).kind, 'queued');
    assert.deepEqual(d.dispatch(0).map((x) => x.job.id), ['r']);

    const handedBack = d.retireModel('late', 'unloaded', 50)!;
    assert.deepEqual(handedBack.map((e) => [e.result.job_id, e.result.status, e.result.reason, e.waiters]), [['q1', 'failed', 'unloaded', ['w-q1']], ['q2', 'failed', 'unloaded', ['w-q2']]]);
    assert.equal(d.depth, 0);
    const refused = d.submit(job('new', { model: 'late' }), 'w-new', undefined, 60);
    assert.equal(refused.kind === 'refused' && refused.error.name, 'UnknownModelError');
    assert.equal(d.model('late'), undefined, 'not offered to the load manager');
    assert.deepEqual(d.status().models, ['a']);
    assert.equal(d.retired('late'), false, 'a job still runs on it');
    assert.equal(d.finish('r', completed('r'))!.result.status, 'completed', 'the running job finishes');
    assert.equal(d.retired('late'), true);
    assert.equal(d.retireModel('late', 'again', 70), undefined, 'gone from the book');
    assert.equal(d.addModel({ name: 'late', sequences: 1, contextSize: 512 }), true, 'and can be loaded again');
  });
});
