// The scheduler's job records and metric buckets without an actor: bounds, order, and which
// bucket a value lands in (Prometheus `le`: a value equal to a bound counts in that bucket).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { JobHistory } from '../../src/actors/scheduler/history.ts';
import { Buckets, JobStats } from '../../src/actors/scheduler/stats.ts';
import { resultWithoutOutput } from '../../src/actors/scheduler/dispatch.ts';
import type { JobResult, SchedulerJob } from '../../src/actors/scheduler/messages.ts';

const job = (id: string): SchedulerJob => ({ id, client: 'c', priority: 'normal', model: 'm', prompt: 'p', max_tokens: 8, temperature: 0 });
const result = (id: string, extra: Partial<JobResult> = {}): JobResult => ({
  job_id: id, status: 'completed', text: 'x', tokens_in: 3, tokens_out: 5, queue_ms: 7,
  timings: { load_ms: 0, queue_ms: 0, first_token_ms: 20, generation_ms: 200, tokens_per_s: 25 }, ...extra,
});

describe('job history', () => {
  it('keeps the newest records up to its capacity, newest first, and filters by status', () => {
    const h = new JobHistory(3);
    for (const [i, id] of ['a', 'b', 'c', 'd'].entries()) h.queued(job(id), 1000 + i);
    assert.equal(h.size, 3);
    assert.equal(h.get('a'), undefined, 'the oldest was dropped');
    h.started('c', 2000);
    h.ended(result('c'), true, 2300);
    assert.deepEqual(h.list(10).map((r) => [r.id, r.status]), [['d', 'queued'], ['c', 'completed'], ['b', 'queued']], 'an update does not reorder');
    assert.deepEqual(h.list(1).map((r) => r.id), ['d']);
    assert.deepEqual(h.list(10, 'completed').map((r) => r.id), ['c']);
    const c = h.get('c')!;
    assert.deepEqual([c.started_at, c.finished_at, c.queue_ms, c.first_token_ms, c.generation_ms, c.tokens_in, c.tokens_out], [2000, 2300, 7, 20, 200, 3, 5]);
  });

  it('leaves the timings of a job the inference actor never answered unknown', () => {
    const h = new JobHistory();
    h.queued(job('lost'), 0);
    h.started('lost', 1);
    h.ended({ ...resultWithoutOutput('lost', 'failed', 'actor down'), queue_ms: 1 }, false, 5);
    const r = h.get('lost')!;
    assert.deepEqual([r.status, r.reason, r.first_token_ms, r.generation_ms], ['failed', 'actor down', null, null]);
  });

  it('hands out copies: a caller cannot change a record', () => {
    const h = new JobHistory();
    h.queued(job('a'), 0);
    h.get('a')!.status = 'failed';
    h.list(1)[0]!.status = 'failed';
    assert.equal(h.get('a')!.status, 'queued');
  });
});

describe('job metrics', () => {
  it('counts a value equal to a bound in that bucket, and beyond the last bound in +Inf', () => {
    const b = new Buckets([0.1, 1]);
    for (const v of [0.05, 0.1, 0.5, 1, 3]) b.observe(v);
    assert.deepEqual(b.snapshot(), { bounds: [0.1, 1], counts: [2, 2, 1], sum: 4.65, count: 5 });
  });

  it('lists served models at zero, counts jobs by status and times only jobs that ran', () => {
    const s = new JobStats(['m', 'idle']);
    s.ended('m', result('a'), true);
    s.ended('m', result('b', { status: 'timeout', timings: { load_ms: 0, queue_ms: 0, first_token_ms: null, generation_ms: 2000, tokens_per_s: 0 } }), true);
    s.ended('m', { ...resultWithoutOutput('c', 'failed', 'lost'), queue_ms: 0 }, false);
    s.refusedWith('queue_full');
    s.refusedWith('queue_full');
    const snap = s.snapshot();
    assert.deepEqual(snap.refused, { queue_full: 2 });
    assert.deepEqual(snap.models.idle!.jobs, { completed: 0, cancelled: 0, failed: 0, timeout: 0 });
    const m = snap.models.m!;
    assert.deepEqual(m.jobs, { completed: 1, cancelled: 0, failed: 1, timeout: 1 });
    assert.deepEqual([m.tokens_in, m.tokens_out], [6, 10]);
    assert.deepEqual([m.first_token_seconds.count, m.duration_seconds.count], [1, 2]);
    assert.ok(Math.abs(m.duration_seconds.sum - 2.2) < 1e-9, `sum ${m.duration_seconds.sum}`);
  });
});
