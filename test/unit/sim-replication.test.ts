// Replication policies in the virtual-time simulator (src/sim/replication.ts) at 1 000 nodes,
// and the demand policy's parts (src/actors/consensus/demand.ts) on their own.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chooseVolunteers, DemandWatch, groupMeanWait, replicaToDrop } from '../../src/actors/consensus/demand.ts';
import { seededRandom } from '../../src/actors/consensus/threshold.ts';
import { demandOf } from '../../src/actors/consensus/replicator.ts';
import type { JobRecord } from '../../src/actors/scheduler/messages.ts';
import { compareReplication, defaultReplicationScenario, runReplication } from '../../src/sim/replication.ts';

describe('demand policy', () => {
  it('grows only after the wait stays above the high bound for after_ms, shrinks only below the low bound, and holds in between', () => {
    const w = new DemandWatch({ high_ms: 10_000, low_ms: 1000, after_ms: 5000 });
    assert.equal(w.observe(0, 20_000), undefined);
    assert.equal(w.observe(4000, 20_000), undefined);
    assert.equal(w.observe(5000, 20_000), 'grow');
    assert.equal(w.observe(6000, 20_000), undefined, 'once per after_ms');
    assert.equal(w.observe(7000, 5000), undefined, 'inside the band: nothing');
    assert.equal(w.observe(11_000, 20_000), undefined, 'the run restarted after the band');
    assert.equal(w.observe(12_000, 500), undefined);
    assert.equal(w.observe(16_000, 900), undefined);
    assert.equal(w.observe(17_000, 900), 'shrink');
  });

  it('weighs every reported job the same', () => {
    assert.equal(groupMeanWait([{ wait_ms_sum: 3000, jobs: 3 }, { wait_ms_sum: 9000, jobs: 1 }]), 3000);
    assert.equal(groupMeanWait([]), 0);
  });

  it('takes volunteers with room only, idle ones answering more often, the loudest stimulus the most', () => {
    const cands = [
      { id: 'full', free_mb: 100, load: 0 },
      { id: 'idle', free_mb: 8000, load: 0 },
      { id: 'busy', free_mb: 9000, load: 6 },
    ];
    const count = (s: number) => {
      const got = new Map<string, number>();
      const rng = seededRandom(7);
      for (let i = 0; i < 2000; i++) for (const id of chooseVolunteers(cands, 4000, s, 1, rng, 1)) got.set(id, (got.get(id) ?? 0) + 1);
      return got;
    };
    const quiet = count(0.5);
    assert.equal(quiet.get('full'), undefined, 'no room: never');
    assert.ok((quiet.get('idle') ?? 0) > 3 * (quiet.get('busy') ?? 0), `idle answers more: ${JSON.stringify([...quiet])}`);
    const loud = count(4);
    assert.ok((loud.get('idle') ?? 0) + (loud.get('busy') ?? 0) > (quiet.get('idle') ?? 0) + (quiet.get('busy') ?? 0), 'a longer wait calls louder');
  });

  it("a node's report: waits of the jobs started in the window and ages of the queued ones, per model, and which it holds for demand", () => {
    const job = (model: string, status: JobRecord['status'], queued_at: number, started_at: number | null): JobRecord => ({
      id: `${model}-${queued_at}`, client: 'c', model, priority: 'normal', max_tokens: 8, status, queued_at, started_at, finished_at: null,
      queue_ms: null, first_token_ms: null, generation_ms: null, tokens_in: 0, tokens_out: 0,
    });
    const jobs = [
      job('m', 'completed', 1000, 4000), // started in the window: waited 3 s
      job('m', 'queued', 8000, null), // still queued at 10 s: 2 s so far
      job('m', 'completed', 0, 500), // started before the window: not counted
      job('n', 'running', 9000, 9500),
    ];
    assert.deepEqual(demandOf(jobs, ['m', 'n', 'idle'], 10_000, 7000, new Set(['n'])), [
      { model: 'm', wait_ms_sum: 5000, jobs: 2 },
      { model: 'n', wait_ms_sum: 500, jobs: 1, for_demand: true },
      { model: 'idle', wait_ms_sum: 0, jobs: 0 },
    ]);
  });

  it('drops the newest unpinned replica, never below min_replicas', () => {
    const r = [{ id: 'a', since: 0, pinned: true }, { id: 'b', since: 5 }, { id: 'c', since: 9 }];
    assert.equal(replicaToDrop(r, 1), 'c');
    assert.equal(replicaToDrop(r, 3), undefined);
    assert.equal(replicaToDrop([{ id: 'a', since: 0, pinned: true }, { id: 'b', since: 1, pinned: true }], 1), undefined);
  });
});

describe('replication policies at 1 000 nodes (virtual time)', () => {
  const sc = defaultReplicationScenario({ duration_ms: 600_000 });
  const [none, demand, everywhere] = compareReplication(sc);

  it('demand-driven replication drops the mean wait against no replication, moving far less than replicate-everywhere', () => {
    assert.equal(none!.jobs, demand!.jobs, 'the same jobs arrive under every policy');
    assert.ok(demand!.mean_wait_ms < none!.mean_wait_ms / 2, `demand ${demand!.mean_wait_ms} ms vs none ${none!.mean_wait_ms} ms`);
    assert.ok(demand!.burst_mean_wait_ms < none!.burst_mean_wait_ms / 2);
    assert.ok(everywhere!.mean_wait_ms <= demand!.mean_wait_ms);
    assert.ok(demand!.moved_gib < everywhere!.moved_gib / 10, `moved ${demand!.moved_gib} vs ${everywhere!.moved_gib} GiB`);
    assert.equal(none!.moved_gib, 0);
  });

  it('a burst model gets a second replica within a bounded time, and the extras unload after the burst', () => {
    for (const t of demand!.first_extra_ms) assert.ok(t !== null && t < 120_000, `first extra replica after ${t} ms`);
    assert.ok(demand!.peak_replicas.every((p) => p >= 2));
    const long = runReplication({ ...sc, duration_ms: 900_000 }, 'demand');
    assert.equal(long.replicas_end, sc.models, 'back to one replica per model once demand falls');
    assert.equal(long.replicas_added, long.replicas_dropped);
  });

  it('is deterministic from its seed', () => {
    assert.deepEqual(runReplication(sc, 'demand'), demand);
  });
});
