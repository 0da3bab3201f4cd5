// The load manager deciding whether this node claims an offer, on injected host readings (so
// the answers do not depend on the machine running the tests).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Dispatcher } from '../../src/actors/scheduler/dispatch.ts';
import { canClaim, DEFAULT_LOAD_THRESHOLDS, type HostReadings } from '../../src/actors/scheduler/load.ts';
import type { SchedulerJob } from '../../src/actors/scheduler/messages.ts';

const GiB = 1024 ** 3;

function readings(r: Partial<{ free: number; load: number; cores: number }> = {}): HostReadings {
  return { freeMemoryBytes: () => r.free ?? 4 * GiB, loadAverage: () => r.load ?? 0.5, cores: () => r.cores ?? 2 };
}

function book(capacity = 10) {
  return new Dispatcher<number>({ models: [{ name: 'tiny', sequences: 2, contextSize: 2048 }, { name: 'other', sequences: 1, contextSize: 2048 }], capacity });
}

function fill(d: Dispatcher<number>, n: number, model = 'tiny'): void {
  for (let i = 0; i < n; i++) {
    const job: SchedulerJob = { id: `${model}-${i}`, client: 'c', priority: 'normal', model, prompt: '', max_tokens: 8, temperature: 0 };
    d.submit(job, i, undefined, 0);
    d.dispatch(0);
  }
}

describe('scheduler load manager (can_claim)', () => {
  it('claims on an idle node with room, memory and CPU to spare', () => {
    assert.deepEqual(canClaim({ model: 'tiny', max_tokens: 64 }, book(), readings()), { ok: true });
  });

  it('does not claim a model it does not serve, or one whose actor is restarting', () => {
    const d = book();
    assert.deepEqual(canClaim({ model: 'llama', max_tokens: 64 }, d, readings()), { ok: false, reason: 'unknown model llama; this node serves: tiny, other' });
    d.setModelUp('tiny', false);
    assert.deepEqual(canClaim({ model: 'tiny', max_tokens: 64 }, d, readings()), { ok: false, reason: 'model tiny is restarting' });
  });

  it('does not claim a job whose max_tokens does not fit', () => {
    assert.match(canClaim({ model: 'tiny', max_tokens: 0 }, book(), readings()).reason ?? '', /max_tokens must be an integer ≥ 1/);
    assert.match(canClaim({ model: 'tiny', max_tokens: 2048 }, book(), readings()).reason ?? '', /does not fit the context size 2048/);
  });

  it('does not claim when the queue is full', () => {
    const d = book(2);
    fill(d, 4); // 2 running, 2 queued
    assert.deepEqual(canClaim({ model: 'other', max_tokens: 8 }, d, readings()), { ok: false, reason: 'queue full (2/2 jobs)' });
  });

  it('does not claim below the free-memory floor', () => {
    const r = canClaim({ model: 'tiny', max_tokens: 8 }, book(), readings({ free: 100 * 1024 * 1024 }));
    assert.deepEqual(r, { ok: false, reason: 'free memory 100 MiB is below 256 MiB' });
  });

  it('does not claim at a load of 2 per core or more, counted per core', () => {
    assert.equal(canClaim({ model: 'tiny', max_tokens: 8 }, book(), readings({ load: 3.9, cores: 2 })).ok, true);
    assert.deepEqual(canClaim({ model: 'tiny', max_tokens: 8 }, book(), readings({ load: 4, cores: 2 })),
      { ok: false, reason: 'CPU load 2.00 per core is at or above 2' });
    assert.equal(canClaim({ model: 'tiny', max_tokens: 8 }, book(), readings({ load: 4, cores: 8 })).ok, true);
  });

  it('does not claim when the projected wait for the model reaches the limit, whatever waits for other models', () => {
    const d = book();
    fill(d, 2 + 3); // both slots busy, 3 queued: 1.5 per slot
    assert.equal(canClaim({ model: 'tiny', max_tokens: 8 }, d, readings()).ok, true);
    const d2 = book();
    fill(d2, 2 + 4); // 4 queued on 2 slots: 2 per slot
    assert.deepEqual(canClaim({ model: 'tiny', max_tokens: 8 }, d2, readings()),
      { ok: false, reason: 'projected wait too long: 4 jobs queued for tiny on 2 slots (limit 2 per slot)' });
    assert.equal(canClaim({ model: 'other', max_tokens: 8 }, d2, readings()).ok, true, 'the other model has a free slot');
    assert.equal(canClaim({ model: 'tiny', max_tokens: 8 }, d2, readings(), { ...DEFAULT_LOAD_THRESHOLDS, maxQueuedPerSlot: 3 }).ok, true);
  });
});
