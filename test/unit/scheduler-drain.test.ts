// The scheduler's part of a drain (scheduler.drain), under the real supervisor with a real
// inference actor (the tiny generated model, 2 sequences): queued jobs are handed back, answered
// `cancelled` with reason `drain`; running ones go on; later submissions are refused
// (DrainingError) and no offer is claimable.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import type { ChildSpec, Supervisor } from '../../src/runtime/supervisor.ts';
import type { InferenceArgs } from '../../src/actors/inference/index.ts';
import type { CanClaimReply, DrainReply, JobResult, SchedulerArgs, SchedulerJob, SchedulerStatus } from '../../src/actors/scheduler/index.ts';
import { DRAIN_REASON } from '../../src/protocol/index.ts';
import { testConfig } from '../helpers/config.ts';
import { testSupervisor, until } from '../helpers/runtime.ts';
import { tinyTestModelPath } from '../helpers/test-model.ts';

const schedulerModule = fileURLToPath(new URL('../../src/actors/scheduler/index.ts', import.meta.url));
const inferenceModule = fileURLToPath(new URL('../../src/actors/inference/index.ts', import.meta.url));

/** Runs its full max_tokens without meeting EOS: still running when the drain comes. */
const long = (id: string): SchedulerJob => ({ id, client: 'test', priority: 'normal', model: 'tiny', prompt: 'Once upon a time', max_tokens: 2000, temperature: 0.8, seed: 1 });

describe('scheduler drain', () => {
  let sup: Supervisor;
  const submit = (j: SchedulerJob) => sup.request<JobResult>('scheduler', { type: 'scheduler.submit', job: j }, 120_000);

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
    ];
    sup = testSupervisor(children, { config: testConfig({ executor: { max_queue_size: 4 } }) });
    await sup.start();
  });
  after(async () => { await sup?.stop(); });

  it('hands queued jobs back, lets running ones go on, then refuses submissions and claims', async () => {
    const results = ['r1', 'r2', 'q1', 'q2'].map((id) => submit(long(id)));
    await until(async () => (await sup.request<SchedulerStatus>('scheduler', { type: 'scheduler.status' }, 5000)).depth === 2, 30_000, 'two jobs queued behind two running');

    const reply = await sup.request<DrainReply>('scheduler', { type: 'scheduler.drain' }, 5000);
    assert.deepEqual([reply.handed_back.sort(), reply.running.sort()], [['q1', 'q2'], ['r1', 'r2']]);
    const [q1, q2] = await Promise.all(results.slice(2));
    for (const q of [q1!, q2!]) assert.deepEqual([q.status, q.reason, q.tokens_out], ['cancelled', DRAIN_REASON, 0]);

    await assert.rejects(submit(long('late')), (err: Error & { code?: string }) => err.name === 'DrainingError' && err.code === 'draining');
    const claim = await sup.request<CanClaimReply>('scheduler', { type: 'scheduler.can_claim', model: 'tiny', max_tokens: 8 }, 5000);
    assert.equal(claim.ok, false);

    // The running jobs were not touched by the drain: they run until cancelled.
    assert.equal((await sup.request<SchedulerStatus>('scheduler', { type: 'scheduler.status' }, 5000)).busy_slots, 2);
    for (const id of ['r1', 'r2']) await sup.request('scheduler', { type: 'scheduler.cancel', job_id: id }, 5000);
    const [r1, r2] = await Promise.all(results.slice(0, 2));
    for (const r of [r1!, r2!]) { assert.equal(r.status, 'cancelled'); assert.ok(r.tokens_out > 0, 'it had run'); }
  });
});
