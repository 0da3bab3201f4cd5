// Chaos: a rolling restart. Three executors are drained (SIGTERM) and started again one after
// another under a steady stream of jobs; each is drained while it generates a job. Every job
// ends with a completed, verified receipt: none is lost.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rollingRestart } from '../helpers/rolling-restart.ts';
import { record } from './report.ts';

describe('chaos: rolling restart of 3 executors under load', () => {
  it('loses no job', async () => {
    const r = await rollingRestart({ executors: 3, restarts: 3, preset: 'small', maxTokens: 48, concurrency: 8, drainTimeoutSecs: 2, jobsBetween: 10 });
    for (const d of r.drains) {
      record('rolling-restart', {
        node: d.node, exit: d.exit, handed_back: Number(d.drained?.handed_back ?? -1), finished_in_time: Number(d.drained?.finished ?? -1),
        ended_by_drain: Number(d.drained?.ended_by_drain ?? -1),
      });
    }
    record('rolling-restart', { node: 'all', jobs: r.submitted, completed: r.completed, lost: r.lost.length, moved: r.moved });
    assert.deepEqual(r.lost, [], 'every job ended with a completed receipt');
    assert.equal(r.completed, r.submitted);
    for (const d of r.drains) {
      assert.equal(d.exit, 0, `${d.node} exited 0 after draining`);
      assert.ok(d.drained, `${d.node} logged its drain`);
    }
    assert.ok(r.drains.some((d) => Number(d.drained?.finished) + Number(d.drained?.handed_back) + Number(d.drained?.ended_by_drain) >= 1),
      'at least one drain caught work in flight');
  });
});
