// The scheduler actor under the real supervisor, running jobs on a real inference actor (the
// tiny generated model, 2 sequences): results, streaming, the slot limit, refusals, idempotent
// ids, cancellation, and an inference actor dying under its jobs.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import type { ChildSpec, Supervisor } from '../../src/runtime/supervisor.ts';
import type { InferenceArgs, InferenceStatus, TokenEvent } from '../../src/actors/inference/index.ts';
import type {
  CancelReply, CanClaimReply, ClaimableState, JobRecord, JobResult, SchedulerArgs, SchedulerJob, SchedulerMetrics, SchedulerStatus,
} from '../../src/actors/scheduler/index.ts';
import { createNode } from '../../src/node/create-node.ts';
import { SEQUENCES_PER_MODEL } from '../../src/node/models.ts';
import { testConfig } from '../helpers/config.ts';
import { once, testSupervisor, until } from '../helpers/runtime.ts';
import { tinyTestModelPath } from '../helpers/test-model.ts';

const schedulerModule = fileURLToPath(new URL('../../src/actors/scheduler/index.ts', import.meta.url));
const inferenceModule = fileURLToPath(new URL('../../src/actors/inference/index.ts', import.meta.url));
const sinkModule = fileURLToPath(new URL('../fixtures/token-sink-actor.ts', import.meta.url));

const QUEUE = 4;

function job(id: string, extra: Partial<SchedulerJob> = {}): SchedulerJob {
  return { id, client: 'test', priority: 'normal', model: 'tiny', prompt: 'Once upon a time', max_tokens: 32, temperature: 0, ...extra };
}
/** This seed runs the full max_tokens without meeting EOS: a job that is still running when we act. */
const long = (id: string, extra: Partial<SchedulerJob> = {}) => job(id, { max_tokens: 2000, temperature: 0.8, seed: 1, ...extra });

describe('scheduler actor', () => {
  let sup: Supervisor;
  const submit = (j: SchedulerJob, stream_to?: string) =>
    sup.request<JobResult>('scheduler', { type: 'scheduler.submit', job: j, ...(stream_to ? { stream_to } : {}) }, 60_000);
  const status = () => sup.request<SchedulerStatus>('scheduler', { type: 'scheduler.status' }, 5000);
  const cancel = (job_id: string) => sup.request<CancelReply>('scheduler', { type: 'scheduler.cancel', job_id }, 5000);
  const tokens = (job_id: string) => sup.request<TokenEvent[]>('sink', { type: 'sink.tokens', job_id }, 5000);

  before(async () => {
    const path = await tinyTestModelPath();
    const children: ChildSpec[] = [
      {
        name: 'scheduler', module: schedulerModule, restart: 'permanent', shutdownMs: 2000, placement: 'inline',
        args: { models: [{ name: 'tiny', sequences: 2, contextSize: 2048 }], load: { minFreeMemoryBytes: 0, maxLoadPerCore: 1e9 } } satisfies SchedulerArgs,
      },
      {
        name: 'inference:tiny', module: inferenceModule, restart: 'permanent', shutdownMs: 12_000, placement: 'inline',
        args: { path, name: 'tiny', threads: 1, contextSize: 2048, sequences: 2 } satisfies InferenceArgs,
      },
      { name: 'sink', module: sinkModule, restart: 'permanent', shutdownMs: 2000, placement: 'inline' },
    ];
    sup = testSupervisor(children, { config: testConfig({ executor: { max_queue_size: QUEUE } }) });
    await sup.start();
  });

  after(async () => { await sup?.stop(); });

  it('reports its queue, slots and models', async () => {
    assert.deepEqual(await status(), { depth: 0, capacity: QUEUE, busy_slots: 0, slots: 2, models: ['tiny'] });
  });

  it('runs a submitted job on the inference actor and answers with its result and queue time', async () => {
    const r = await submit(job('one'));
    assert.equal(r.job_id, 'one');
    assert.equal(r.status, 'completed');
    assert.ok(r.tokens_in > 0 && r.tokens_out > 0 && r.tokens_out <= 32, `tokens ${r.tokens_in}/${r.tokens_out}`);
    assert.ok(r.text.length > 0);
    assert.ok(r.queue_ms >= 0);
    assert.ok(r.timings.tokens_per_s > 0);
  });

  it('streams the job\'s tokens to the stream_to actor, in order, before answering', async () => {
    const r = await submit(job('streamed', { max_tokens: 48 }), 'sink');
    const got = await tokens('streamed');
    assert.ok(got.length > 0);
    assert.deepEqual(got.map((t) => t.index), got.map((_, i) => i));
    assert.equal(got.map((t) => t.text).join(''), r.text);
  });

  it('runs 6 concurrent jobs on 2 sequences: all complete, never more than 2 at once', async () => {
    let sampling = true;
    let maxBusy = 0;
    let maxRunning = 0;
    let maxDepth = 0;
    const sampler = (async () => {
      while (sampling) {
        const [s, i] = await Promise.all([status(), sup.request<InferenceStatus>('inference:tiny', { type: 'inference.status' }, 5000)]);
        maxBusy = Math.max(maxBusy, s.busy_slots);
        maxRunning = Math.max(maxRunning, i.busy);
        maxDepth = Math.max(maxDepth, s.depth);
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    const results = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => submit(job(`six-${i}`, { max_tokens: 300, client: `c${i % 3}` }))));
    sampling = false;
    await sampler;
    for (const r of results) assert.equal(r.status, 'completed', `${r.job_id}: ${r.reason}`);
    assert.ok(maxBusy <= 2 && maxRunning <= 2, `busy slots peaked at ${maxBusy}, inference jobs at ${maxRunning}`);
    assert.equal(maxBusy, 2, 'both slots were used');
    assert.ok(maxDepth >= 1, 'jobs waited in the scheduler queue');
    assert.ok(results.filter((r) => r.queue_ms > 0).length >= 2, `queue_ms: ${results.map((r) => r.queue_ms).join(', ')}`);
    assert.deepEqual(await status(), { depth: 0, capacity: QUEUE, busy_slots: 0, slots: 2, models: ['tiny'] });
  });

  it('refuses an unknown model, naming the models it serves', async () => {
    await assert.rejects(submit(job('who', { model: 'gpt-9' })), { name: 'UnknownModelError', message: 'unknown model gpt-9; this node serves: tiny' });
  });

  it('refuses max_tokens beyond the context and temperature outside 0..2', async () => {
    await assert.rejects(submit(job('big', { max_tokens: 4096 })), { name: 'InvalidJobError', message: /max_tokens 4096 does not fit the context size 2048/ });
    await assert.rejects(submit(job('zero', { max_tokens: 0 })), { name: 'InvalidJobError', message: /max_tokens must be an integer ≥ 1/ });
    await assert.rejects(submit(job('hot', { temperature: 3 })), { name: 'InvalidJobError', message: /temperature must be between 0 and 2/ });
  });

  it('answers can_claim from the load manager, with the queue (one request per claim)', async () => {
    const ask = (model: string, max_tokens: number) => sup.request<CanClaimReply>('scheduler', { type: 'scheduler.can_claim', model, max_tokens }, 5000);
    const queue = { depth: 0, capacity: QUEUE, busy_slots: 0, slots: 2 };
    assert.deepEqual(await ask('tiny', 64), { ok: true, queue });
    assert.deepEqual(await ask('gpt-9', 64), { ok: false, reason: 'unknown model gpt-9; this node serves: tiny', queue });
  });

  it('refuses a job beyond a full queue with the queue-full reason; cancels queued and running jobs', async () => {
    const running = [long('run-1'), long('run-2')].map((j) => submit(j));
    const queued = [1, 2, 3, 4].map((i) => submit(job(`wait-${i}`)));
    await until(async () => { const s = await status(); return s.busy_slots === 2 && s.depth === QUEUE; }, 10_000, 'two running and four queued');
    await assert.rejects(submit(job('one-too-many')), { name: 'QueueFullError', message: `queue full (${QUEUE}/${QUEUE} jobs)` });
    // The machine says so: accepting ⇄ full.
    const state = () => sup.actors().find((a) => a.name === 'scheduler')!.state;
    assert.equal(state(), 'full');

    // Queued: removed at once and answered cancelled, without output.
    for (let i = 1; i <= 4; i++) assert.deepEqual(await cancel(`wait-${i}`), { job_id: `wait-${i}`, cancelled: true, state: 'queued' });
    for (const r of await Promise.all(queued)) {
      assert.equal(r.status, 'cancelled');
      assert.equal(r.reason, 'cancelled while queued');
      assert.equal(r.tokens_out, 0);
    }
    assert.equal((await status()).depth, 0);
    await until(async () => state() === 'accepting', 10_000, 'the scheduler to accept again');
    // Running: the cancel goes to the inference actor, which ends the job in-band.
    for (const id of ['run-1', 'run-2']) assert.deepEqual(await cancel(id), { job_id: id, cancelled: true, state: 'running' });
    for (const r of await Promise.all(running)) {
      assert.equal(r.status, 'cancelled');
      assert.ok(r.tokens_out < 2000);
    }
    assert.deepEqual(await cancel('run-1'), { job_id: 'run-1', cancelled: false, state: 'finished' });
    assert.deepEqual(await cancel('never-seen'), { job_id: 'never-seen', cancelled: false, state: 'unknown' });
    assert.equal((await status()).busy_slots, 0);
  });

  it('runs a job id once, however often it is submitted: while queued, running, or after it ended', async () => {
    const blockers = [long('block-1', { max_tokens: 400 }), long('block-2', { max_tokens: 400 })].map((j) => submit(j));
    const first = submit(job('dup', { max_tokens: 500 }), 'sink');
    const whileQueued = submit(job('dup', { max_tokens: 500, prompt: 'something else' }), 'sink');
    await until(async () => (await tokens('dup')).length > 0, 20_000, 'dup to be running');
    const whileRunning = submit(job('dup', { max_tokens: 500 }), 'sink');
    const [a, b, c] = await Promise.all([first, whileQueued, whileRunning]);
    assert.equal(a.status, 'completed');
    assert.deepEqual(b, a);
    assert.deepEqual(c, a);
    assert.deepEqual(await submit(job('dup', { max_tokens: 500 }), 'sink'), a);
    // One run: one stream, each index once.
    const got = await tokens('dup');
    assert.deepEqual(got.map((t) => t.index), got.map((_, i) => i));
    assert.equal(got.map((t) => t.text).join(''), a.text);
    await Promise.all(blockers);
  });

  it('fails the jobs of an inference actor killed under them, with the reason, and runs later jobs after its restart', async () => {
    const restarted = once<{ name: string }>(sup, 'restarted');
    const victims = [long('victim-1'), long('victim-2')].map((j) => submit(j, 'sink'));
    const waiting = submit(job('behind-victims'));
    await until(async () => (await tokens('victim-1')).length >= 5 && (await status()).depth === 1, 20_000, 'victims to be generating');
    await sup.kill('inference:tiny', 'throw');
    for (const r of await Promise.all(victims)) {
      assert.equal(r.status, 'failed');
      assert.match(r.reason ?? '', /^inference:tiny did not finish the job: actor inference:tiny is down/);
    }
    assert.equal((await restarted).name, 'inference:tiny');
    // The job that was queued at the time ran on the restarted actor, and so does a new one.
    assert.equal((await waiting).status, 'completed');
    assert.equal((await submit(job('after-restart'))).status, 'completed');
    assert.deepEqual(await status(), { depth: 0, capacity: QUEUE, busy_slots: 0, slots: 2, models: ['tiny'] });
  });

  it('keeps a record of every job it accepted, newest first, from queued through running to its end', async () => {
    const record = (id: string) => sup.request<JobRecord | null>('scheduler', { type: 'scheduler.job', job_id: id }, 5000);
    const list = (q: { limit?: number; status?: JobRecord['status'] } = {}) => sup.request<JobRecord[]>('scheduler', { type: 'scheduler.jobs', ...q }, 5000);
    const blockers = [long('rec-block-1'), long('rec-block-2')].map((j) => submit(j));
    const queued = submit(job('rec-queued', { client: 'alice', priority: 'high' }));
    await until(async () => (await record('rec-queued'))?.status === 'queued' && (await record('rec-block-2'))?.status === 'running', 20_000, 'one job queued behind two running');
    const q = (await record('rec-queued'))!;
    assert.deepEqual({ ...q, queued_at: 0 }, {
      id: 'rec-queued', client: 'alice', model: 'tiny', priority: 'high', max_tokens: 32, status: 'queued', queued_at: 0,
      started_at: null, finished_at: null, queue_ms: null, first_token_ms: null, generation_ms: null, tokens_in: 0, tokens_out: 0,
    });
    assert.deepEqual((await list({ limit: 3 })).map((r) => [r.id, r.status]), [['rec-queued', 'queued'], ['rec-block-2', 'running'], ['rec-block-1', 'running']]);
    await Promise.all(['rec-block-1', 'rec-block-2'].map(cancel));
    const [r] = await Promise.all([queued, ...blockers]);
    const done = (await record('rec-queued'))!;
    assert.equal(done.status, 'completed');
    assert.equal(done.tokens_out, r.tokens_out);
    assert.equal(done.tokens_in, r.tokens_in);
    assert.equal(done.queue_ms, r.queue_ms);
    assert.ok(done.started_at! >= done.queued_at && done.finished_at! >= done.started_at!, 'queued, then started, then finished');
    assert.deepEqual((await record('rec-block-1'))!.status, 'cancelled');
    assert.equal(await record('never-submitted'), null);
    assert.equal(await record('who'), null, 'a refused job is not recorded');
    const failed = await list({ status: 'failed' });
    assert.deepEqual(failed.map((x) => x.id), ['victim-2', 'victim-1']);
    assert.match(failed[0]!.reason!, /inference:tiny did not finish the job/);
  });

  it('counts jobs by status, refusals, tokens and timing buckets for GET /metrics, in step with its records', async () => {
    const m = await sup.request<SchedulerMetrics>('scheduler', { type: 'scheduler.metrics' }, 5000);
    const records = await sup.request<JobRecord[]>('scheduler', { type: 'scheduler.jobs', limit: 1000 }, 5000);
    assert.deepEqual(m.queue, await status());
    assert.deepEqual(Object.keys(m.models), ['tiny']);
    const tiny = m.models.tiny!;
    for (const st of ['completed', 'cancelled', 'failed', 'timeout'] as const) {
      assert.equal(tiny.jobs[st], records.filter((x) => x.status === st).length, st);
    }
    assert.equal(tiny.tokens_out, records.reduce((n, x) => n + x.tokens_out, 0));
    assert.equal(tiny.tokens_in, records.reduce((n, x) => n + x.tokens_in, 0));
    assert.ok(tiny.tokens_out > 0, 'tokens generated');
    assert.ok(m.refused.unknown_model! >= 1 && m.refused.invalid_job! >= 3 && m.refused.queue_full! >= 1, JSON.stringify(m.refused));
    // Jobs the inference actor answered are timed; the two lost with their actor are not, nor those cancelled while queued.
    const timed = records.filter((x) => x.generation_ms !== null);
    assert.ok(records.some((x) => x.status === 'failed') && records.some((x) => x.status === 'cancelled' && x.started_at === null), 'a lost job and one cancelled while queued');
    for (const h of [tiny.first_token_seconds, tiny.duration_seconds]) {
      assert.equal(h.counts.length, h.bounds.length + 1);
      assert.equal(h.counts.reduce((a, b) => a + b, 0), h.count);
    }
    assert.equal(tiny.duration_seconds.count, timed.length);
    assert.equal(tiny.first_token_seconds.count, timed.filter((x) => x.first_token_ms !== null).length);
    assert.ok(Math.abs(tiny.duration_seconds.sum - timed.reduce((n, x) => n + x.generation_ms! / 1000, 0)) < 1e-6, 'duration sum = sum of generation times');
  });
});

describe('scheduler in a composed node', () => {
  it('dispatches to the node\'s own inference actor for each served model', async () => {
    const node = await createNode(testConfig({ model: { path: await tinyTestModelPath(), name: 'tiny' } }), { transport: 'memory', serveModels: true });
    await node.start();
    try {
      const s = await node.supervisor.request<SchedulerStatus>('scheduler', { type: 'scheduler.status' }, 5000);
      assert.deepEqual(s.models, ['tiny']);
      assert.equal(s.slots, SEQUENCES_PER_MODEL);
      const r = await node.supervisor.request<JobResult>('scheduler', { type: 'scheduler.submit', job: job('composed') }, 60_000);
      assert.equal(r.status, 'completed');
      assert.ok(r.tokens_out > 0);
    } finally {
      await node.stop();
    }
  });
});

describe('scheduler: the claim verdicts it pushes', () => {
  let sup: Supervisor;
  after(async () => { await sup?.stop(); });

  it('tells its network actor each change: slots taken and freed, and no claims once it drains', async () => {
    const path = await tinyTestModelPath();
    sup = testSupervisor([
      {
        name: 'scheduler', module: schedulerModule, restart: 'permanent', shutdownMs: 2000, placement: 'inline',
        args: { models: [{ name: 'tiny', sequences: 2, contextSize: 2048 }], load: { minFreeMemoryBytes: 0, maxLoadPerCore: 1e9 }, claimableTo: 'network' } satisfies SchedulerArgs,
      },
      {
        name: 'inference:tiny', module: inferenceModule, restart: 'permanent', shutdownMs: 12_000, placement: 'inline',
        args: { path, name: 'tiny', threads: 1, contextSize: 2048, sequences: 2 } satisfies InferenceArgs,
      },
      // The verdicts' receiver, under the network actor's name.
      { name: 'network', module: sinkModule, restart: 'permanent', shutdownMs: 2000, placement: 'inline' },
    ], { config: testConfig({ executor: { max_queue_size: QUEUE } }) });
    await sup.start();
    const seen = () => sup.request<ClaimableState[]>('network', { type: 'sink.claimable' }, 5000);
    await until(async () => (await seen()).length > 0, 5000, 'a first verdict');
    assert.deepEqual((await seen()).at(-1), { models: { tiny: { ok: true, context_size: 2048 } }, queue: { depth: 0, capacity: QUEUE, busy_slots: 0, slots: 2 } });
    await Promise.all(['c1', 'c2'].map((id) => sup.request('scheduler', { type: 'scheduler.submit', job: job(id, { max_tokens: 8 }) }, 60_000)));
    const during = await seen();
    assert.ok(during.some((s) => s.queue.busy_slots === 2), `both slots seen taken (${during.map((s) => s.queue.busy_slots).join(', ')})`);
    assert.equal(during.at(-1)!.queue.busy_slots, 0, 'and freed');
    await sup.request('scheduler', { type: 'scheduler.drain' }, 5000);
    await until(async () => (await seen()).at(-1)!.models.tiny!.ok === false, 5000, 'a no once draining');
    const all = await seen();
    assert.ok(all.every((s, i) => i === 0 || JSON.stringify(s) !== JSON.stringify(all[i - 1])), 'sent only when changed');
  });
});
