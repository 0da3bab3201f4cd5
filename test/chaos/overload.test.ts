// Chaos scenario: overload. Several clients offer far more jobs at once than the
// node's queue holds (`--max-queue 2`). The node claims only what it has room for (a claim
// reserves a place until its job arrives), refuses the rest cleanly (unclaimed offers are
// weighed again when re-published), stays within a memory bound, serves the clients fairly, and
// is back to normal service when the burst is over.
// Fairness, asserted: counted from the moment every one of the k clients has a job queued at the
// node, each client gets at least 1/(2k) of the next 2k·m completions (m = the queue size), or
// all the jobs it still had if fewer. The first client to offer may fill what is free before the
// others arrive, so the count starts once all have arrived; from then on the executor's share
// rule and the scheduler's round robin apply.
// Nothing is lost: every job ends with a verified receipt. Each client is one LightClient (one
// peer id) offering all its jobs at once.
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { listenPort, spawnNode, type NodeProcess } from '../helpers/proc.ts';
import { tmpDir } from '../helpers/config.ts';
import { get } from '../helpers/api.ts';
import { describeNeeding } from '../helpers/needs.ts';
import type { JobRecord } from '../../src/actors/scheduler/messages.ts';
import { LightClient, submitJob, type SubmitResult } from '../../src/client/submit.ts';
import { record, secs } from './report.ts';

const CLIENTS = 3;
const JOBS_PER_CLIENT = 8;
const MAX_QUEUE = 2;
/**
 * Resident memory the node may reach under the burst. Each actor on its own thread has a V8
 * isolate and module graph of its own (bench:runtime measures idle RSS inline against threaded),
 * so the bound is the inline one (600 MiB) plus that per-thread cost.
 */
const RSS_BOUND_MB = 800;

/** m in the fairness bound: the window is 2·CLIENTS·WINDOW_PER_CLIENT completions. */
const WINDOW_PER_CLIENT = MAX_QUEUE;

const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

describeNeeding('chaos: overload', process.platform === 'linux' ? undefined : 'reads /proc (Linux)', () => {
  let node: NodeProcess;
  let boot = '';
  before(async () => {
    const dir = tmpDir();
    const cfg = join(dir, 'node.toml');
    writeFileSync(cfg, '[executor]\nmax_load_per_core = 1000\n');
    node = spawnNode(['-c', cfg, '--node-id', 'busy', '--port', '0', '--max-queue', String(MAX_QUEUE), '--data-dir', dir]);
    boot = `/ip4/127.0.0.1/tcp/${await listenPort(node)}`;
    await node.waitFor((l) => l.msg.startsWith('Node started'), 60_000, 'node start');
  });
  after(async () => { await node.stop('SIGKILL'); });

  it('claims what fits, serves every client fairly, loses nothing, and recovers', async () => {
    const pid = node.proc.pid!;
    const rss0 = rssMb(pid);
    let peak = rss0;
    const sampler = setInterval(() => { try { peak = Math.max(peak, rssMb(pid)); } catch { /* exited */ } }, 200);
    const order: number[] = [];
    const clientOf = new Map<string, number>();
    const t0 = performance.now();
    const results: SubmitResult[] = [];
    const clients = await Promise.all(Array.from({ length: CLIENTS }, () => LightClient.join({ bootstrap: [boot], timeoutMs: 30_000 })));
    try {
      await Promise.all(clients.map((client, c) => Promise.all(Array.from({ length: JOBS_PER_CLIENT }, async (_j, j) => {
        const r = await client.submit({
          prompt: `client ${c} job ${j}: tell me about swarms`, maxTokens: 48, temperature: 0, seed: j,
          priority: 'normal', timeoutMs: 240_000,
        });
        order.push(c);
        clientOf.set(r.receipt.body.job_id, c);
        results.push(r);
      }))));
    } finally {
      clearInterval(sampler);
      await Promise.all(clients.map((c) => c.close()));
    }
    const burstEnd = performance.now();
    const total = CLIENTS * JOBS_PER_CLIENT;
    assert.equal(results.length, total, 'every job completed');
    assert.equal(new Set(results.map((r) => r.receipt.body.job_id)).size, total, 'one receipt per job');
    assert.ok(results.every((r) => r.receipt.body.status === 'completed'));
    const refusals = node.lines.filter((l) => l.msg === 'Job stream refused or failed').length;

    // Fairness, from the node's own job records: when each job was queued and finished there.
    const api = node.lines.find((l) => typeof l.url === 'string' && l.msg.startsWith('API listening'))!.url as string;
    const records = (await get<JobRecord[]>(`${api}/jobs?limit=1000`)).body.filter((j) => clientOf.has(j.id));
    assert.equal(records.length, total, 'the node recorded every job');
    const allQueuedAt = Math.max(...Array.from({ length: CLIENTS }, (_, c) =>
      Math.min(...records.filter((j) => clientOf.get(j.id) === c).map((j) => j.queued_at))));
    const window = 2 * CLIENTS * WINDOW_PER_CLIENT;
    const next = records.filter((j) => j.finished_at! >= allQueuedAt).sort((a, b) => a.finished_at! - b.finished_at!).slice(0, window);
    assert.equal(next.length, window, `${window} completions after all ${CLIENTS} clients had a job queued`);
    const perClient = Array.from({ length: CLIENTS }, (_, c) => next.filter((j) => clientOf.get(j.id) === c).length);
    for (const [c, n] of perClient.entries()) {
      const left = records.filter((j) => clientOf.get(j.id) === c && j.finished_at! >= allQueuedAt).length;
      const due = Math.min(window / (2 * CLIENTS), left);
      assert.ok(n >= due, `client ${c} got ${n} of the ${window} completions after all had jobs queued (${perClient.join('/')}), with ${left} left; at least ${due} expected`);
    }
    const firstHalf = order.slice(0, total / 2);
    const firstHalfPerClient = Array.from({ length: CLIENTS }, (_, c) => firstHalf.filter((x) => x === c).length);
    assert.ok(peak < RSS_BOUND_MB, `peak RSS ${peak.toFixed(0)} MiB within ${RSS_BOUND_MB} MiB`);

    // Recovery: with the burst over, a job is served at once (claimed on its first offer).
    const t1 = performance.now();
    const after = await submitJob({ bootstrap: [boot], prompt: 'and now?', maxTokens: 8, temperature: 0, priority: 'normal', timeoutMs: 60_000 });
    assert.equal(after.receipt.body.status, 'completed');

    record('overload', {
      clients: CLIENTS, jobs: total, max_queue: MAX_QUEUE, completed: results.length, lost: total - results.length,
      stream_refusals: refusals, first_half_per_client: firstHalfPerClient.join('/'),
      window_per_client: perClient.join('/'), done_before_all_queued: records.filter((j) => j.finished_at! < allQueuedAt).length,
      burst_s: secs(t0, burstEnd), rss_idle_mb: Math.round(rss0), rss_peak_mb: Math.round(peak), after_burst_job_s: secs(t1, performance.now()),
    });
  });
});
