// Terminating the network actor (its worker thread) under a stream of jobs, with real processes:
// node A serves the model, node B is its peer, and 12 CLI `submit`s of 64 tokens start 0.3 s
// apart while A's network actor is terminated (`POST /actors/network/kill?mode=terminate`).
// Every submit must complete: a job the user sees fail is a lost job. A's network actor must
// run again and B be connected to it again; both are timed and printed (the target is 3 s;
// a time is not asserted, the machine running the tests may be loaded). Run
// NETWORK_KILL_ROUNDS times (default 3), each on a fresh pair of nodes.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { listenPort, runCli, spawnNode, type NodeProcess } from '../helpers/proc.ts';
import { tmpDir } from '../helpers/config.ts';

const ROUNDS = Number(process.env.NETWORK_KILL_ROUNDS ?? 3);
const JOBS = 12;

interface ActorRow { name: string; placement: string; status: string; restarts: number }
interface PeerRow { peer_id: string; connected: boolean }

async function getJson<T>(url: string): Promise<T> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status}`);
  return await r.json() as T;
}

async function until<T>(fn: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('network actor terminated under a stream of CLI jobs', () => {
  const procs: NodeProcess[] = [];
  after(async () => { await Promise.all(procs.map((p) => p.stop('SIGKILL'))); });

  for (let round = 1; round <= ROUNDS; round++) {
    it(`round ${round}: all ${JOBS} submits complete, the network is back and B reconnected`, async () => {
      const dir = tmpDir();
      // The machine running the tests is loaded: claim whatever the load average says. B claims
      // nothing (its limit is below any load), so every job runs on A, the node whose network dies.
      const cfgA = join(dir, 'a.toml');
      const cfgB = join(dir, 'b.toml');
      writeFileSync(cfgA, '[executor]\nmax_load_per_core = 1000\n');
      writeFileSync(cfgB, '[executor]\nmax_load_per_core = 0.000001\n');
      const a = spawnNode(['-c', cfgA, '--node-id', 'a', '--port', '0', '--data-dir', join(dir, 'a')]);
      procs.push(a);
      const boot = `/ip4/127.0.0.1/tcp/${await listenPort(a)}`;
      await a.waitFor((l) => l.msg.startsWith('Node started'), 60_000, 'A started');
      const url = (JSON.parse(readFileSync(join(dir, 'a', 'a', 'api.json'), 'utf8')) as { url: string }).url;
      const b = spawnNode(['-c', cfgB, '--node-id', 'b', '--port', '0', '--data-dir', join(dir, 'b'), '-b', boot]);
      procs.push(b);
      await b.waitFor((l) => l.msg.startsWith('Node started'), 60_000, 'B started');
      const bPeer = String((await b.waitFor((l) => typeof l.peer_id === 'string' && l.msg.startsWith('Node started'))).peer_id);
      const bConnected = async () => ((await getJson<PeerRow[]>(`${url}/peers`)).some((p) => p.peer_id === bPeer && p.connected) ? true : undefined);
      await until(bConnected, 30_000, 'B connected to A');
      const network = async () => (await getJson<ActorRow[]>(`${url}/actors`)).find((x) => x.name === 'network')!;
      assert.equal((await network()).placement, 'thread');
      const restartsBefore = (await network()).restarts;

      const results: Array<Promise<{ code: number | null; stdout: string; stderr: string }>> = [];
      let killed: Promise<{ back_ms: number; reconnected_ms: number }> | undefined;
      for (let i = 0; i < JOBS; i++) {
        results.push(runCli(['submit', '-b', boot, '--max-tokens', '64', '--temperature', '0', '--seed', String(i), '--timeout', '120', '--json', `job ${i} of round ${round}`], 180_000));
        if (i === 3) {
          killed = (async () => {
            const t0 = performance.now();
            const r = await fetch(`${url}/actors/network/kill?mode=terminate`, { method: 'POST' });
            assert.equal(r.status, 200, `kill: ${r.status} ${await r.text()}`);
            await until(async () => { const n = await network(); return n.status === 'running' && n.restarts > restartsBefore ? true : undefined; }, 60_000, 'the network actor to run again');
            const back = performance.now() - t0;
            await until(bConnected, 60_000, 'B connected to A again');
            return { back_ms: Math.round(back), reconnected_ms: Math.round(performance.now() - t0) };
          })();
        }
        await new Promise((r) => setTimeout(r, 300));
      }
      const outs = await Promise.all(results);
      const times = await killed!;
      const failed = outs.map((o, i) => ({ i, ...o })).filter((o) => o.code !== 0);
      assert.deepEqual(failed.map((f) => `job ${f.i}: exit ${f.code}: ${f.stderr.trim().split('\n').slice(-2).join(' ')}`), [], 'every submit completed');
      for (const o of outs) {
        const r = JSON.parse(o.stdout) as { receipt: { body: { status: string } } };
        assert.equal(r.receipt.body.status, 'completed');
      }
      console.log(`round ${round}: network running again after ${times.back_ms} ms, B reconnected after ${times.reconnected_ms} ms`);
      if (process.env.NETWORK_KILL_TRACE) {
        const t0 = Number(a.lines.find((l) => l.msg === 'Actor crashed')?.time ?? 0);
        for (const l of a.lines.filter((x) => x.actor === 'network' || x.msg === 'Actor crashed')) console.log(`  +${Number(l.time) - t0} ms ${l.msg}`);
      }
      await Promise.all([a.stop('SIGKILL'), b.stop('SIGKILL')]);
    });
  }
});
