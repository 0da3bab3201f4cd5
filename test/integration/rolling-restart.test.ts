// Graceful drain under load, short version (the chaos suite restarts three executors in turn):
// one of two executors is drained by SIGTERM while it generates a job, and started again, while
// jobs keep streaming in. It exits 0, the job it held is finished or handed back and run
// elsewhere, and no job is lost.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rollingRestart } from '../helpers/rolling-restart.ts';

describe('a rolling restart under a steady job stream (1 restart)', () => {
  it('drains the executor (exit 0) and loses no job', async () => {
    const r = await rollingRestart({ executors: 2, restarts: 1, preset: 'small', maxTokens: 48, concurrency: 6, drainTimeoutSecs: 1, jobsBetween: 10 });
    assert.deepEqual(r.lost, [], 'every job ended with a completed receipt');
    assert.equal(r.completed, r.submitted);
    assert.ok(r.completed >= 20, `jobs flowed before and after the restart (${r.completed})`);
    const [d] = r.drains;
    assert.equal(d!.exit, 0, 'exited 0 after draining');
    assert.ok(d!.drained, 'logged its drain');
    const held = Number(d!.drained.finished) + Number(d!.drained.handed_back) + Number(d!.drained.ended_by_drain);
    assert.ok(held >= 1, `the drain caught work in flight: ${JSON.stringify(d!.drained)}`);
  });
});
