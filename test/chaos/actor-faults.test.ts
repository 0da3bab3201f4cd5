// Chaos scenario: actor faults under load. While a client keeps jobs streaming at a
// real node, each of its actors is killed in turn through the control API (worker thread
// terminated, uncaught throw inside the actor; an actor holding llama.cpp refuses the
// first); the report gives, per kill, the time until the actor ran again and what became of the jobs meanwhile: completed, failed with a receipt, or
// lost (lost must be 0). Then an actor that crash-loops past `restart_intensity` makes the
// supervisor give up and the node exit non-zero, as configured.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { listenPort, spawnNode, type NodeProcess } from '../helpers/proc.ts';
import { tmpDir } from '../helpers/config.ts';
import { LightClient } from '../../src/client/submit.ts';
import { record, secs } from './report.ts';

interface ActorRow { name: string; placement: 'inline' | 'thread'; status: string; restarts: number }

/** Actors holding llama.cpp: a terminate kill is refused (it could abort the process). */
const isNative = (name: string) => name.startsWith('inference:');

async function api(url: string, path: string, init?: RequestInit): Promise<{ status: number; body: unknown }> {
  const r = await fetch(`${url}${path}`, init);
  return { status: r.status, body: await r.json().catch(() => undefined) };
}

const apiUrl = (dir: string, id: string) => (JSON.parse(readFileSync(join(dir, id, 'api.json'), 'utf8')) as { url: string }).url;

async function until<T>(fn: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('chaos: actor faults under load', () => {
  let node: NodeProcess;
  let dir = '';
  let url = '';
  let boot = '';
  before(async () => {
    dir = tmpDir();
    const cfg = join(dir, 'node.toml');
    writeFileSync(cfg, [
      '[executor]', 'max_load_per_core = 1000',
      '[runtime]', 'restart_intensity = 100', 'restart_period_secs = 5',
    ].join('\n'));
    node = spawnNode(['-c', cfg, '--node-id', 'victim', '--port', '0', '--data-dir', dir]);
    boot = `/ip4/127.0.0.1/tcp/${await listenPort(node)}`;
    await node.waitFor((l) => l.msg.startsWith('Node started'), 60_000, 'node start');
    url = apiUrl(dir, 'victim');
  });
  after(async () => { await node.stop('SIGKILL'); });

  it('restarts every actor killed under load, loses no job, and serves jobs again', async () => {
    const client = await LightClient.join({ bootstrap: [boot], timeoutMs: 30_000 });
    const outcome = { completed: 0, failed_with_receipt: 0, refused_with_reason: 0, lost: 0 };
    const reasons = new Set<string>();
    let running = true;
    const worker = async (w: number) => {
      for (let j = 0; running; j++) {
        try {
          const r = await client.submit({ prompt: `stream ${w} job ${j}`, maxTokens: 24, temperature: 0, seed: j, priority: 'normal', timeoutMs: 60_000 });
          if (r.receipt.body.status === 'completed') outcome.completed++;
          else { outcome.failed_with_receipt++; reasons.add(`${r.receipt.body.status}: ${r.receipt.body.reason ?? ''}`.slice(0, 120)); }
        } catch (err) {
          // A clear refusal (the client was told why) is not a loss; a job that no node
          // delivered in time, after it was taken, is.
          const msg = (err as Error).message;
          if (/taken but none delivered|timed out/.test(msg)) { outcome.lost++; reasons.add(`lost: ${msg.slice(0, 160)}`); }
          else { outcome.refused_with_reason++; reasons.add(msg.slice(0, 120)); }
        }
      }
    };
    const load = [worker(0), worker(1)];
    try {
      const actors = (await api(url, '/actors')).body as ActorRow[];
      // Default placement: every actor on a thread but the store.
      assert.deepEqual(actors.filter((a) => a.placement === 'inline').map((a) => a.name), ['store']);
      for (const a of actors.filter((x) => isNative(x.name))) {
        const r = await api(url, `/actors/${encodeURIComponent(a.name)}/kill`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ how: 'terminate' }) });
        assert.equal(r.status, 409, `terminating ${a.name} is refused: ${JSON.stringify(r.body)}`);
      }
      const kills = actors.flatMap((a) => (a.placement === 'thread' && !isNative(a.name) ? ['terminate', 'throw'] : ['throw']).map((how) => ({ name: a.name, how })));
      for (const { name, how } of kills) {
        if (name === 'api') continue; // killed last, below: it is the switch itself
        const before = { ...outcome };
        const restartsBefore = ((await api(url, '/actors')).body as ActorRow[]).find((a) => a.name === name)!.restarts;
        const t0 = performance.now();
        const r = await api(url, `/actors/${encodeURIComponent(name)}/kill`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ how }) });
        assert.ok(r.status < 300, `kill ${name} (${how}): ${r.status} ${JSON.stringify(r.body)}`);
        await until(async () => {
          const a = ((await api(url, '/actors')).body as ActorRow[]).find((x) => x.name === name);
          return a && a.status === 'running' && a.restarts > restartsBefore ? a : undefined;
        }, 60_000, `${name} to run again`);
        const restartedS = secs(t0, performance.now());
        await new Promise((res) => setTimeout(res, 1500)); // let jobs caught by the fault settle
        record('actor-faults', {
          actor: name, how, restarted_s: restartedS,
          completed: outcome.completed - before.completed, failed_with_receipt: outcome.failed_with_receipt - before.failed_with_receipt,
          refused: outcome.refused_with_reason - before.refused_with_reason, lost: outcome.lost - before.lost,
        });
      }
      // Service is back: with every actor restarted, the load's jobs complete again.
      const completedAfterKills = outcome.completed;
      await until(async () => (outcome.completed > completedAfterKills ? true : undefined), 60_000, 'a job to complete after the last kill');
      // The api actor kills itself after answering (202), and comes back on the same port.
      const r = await api(url, '/actors/api/kill', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ how: 'throw' }) });
      assert.equal(r.status, 202);
      const t0 = performance.now();
      await until(async () => ((await api(url, '/health')).status === 200 ? true : undefined), 60_000, 'the api to answer again');
      record('actor-faults', { actor: 'api', how: 'throw', restarted_s: secs(t0, performance.now()), completed: null, failed_with_receipt: null, refused: null, lost: null });
    } finally {
      running = false;
      await Promise.all(load);
      await client.close();
    }
    const health = await api(url, '/health');
    assert.equal(health.status, 200, 'every actor runs again');
    assert.ok(outcome.completed > 0, 'jobs went on completing');
    assert.equal(outcome.lost, 0, `no job lost (${JSON.stringify(outcome)}; ${[...reasons].join(' | ')})`);
    const metrics = await fetch(`${url}/metrics`).then((x) => x.text());
    assert.match(metrics, /mvp_actor_restarts_total\{actor="scheduler"\} [1-9]/, 'restarts in the metrics');
  });

  it('an actor crash-looping past restart_intensity makes the node give up and exit 1', async () => {
    const loopDir = tmpDir();
    const cfg = join(loopDir, 'node.toml');
    writeFileSync(cfg, '[runtime]\nrestart_intensity = 2\nrestart_period_secs = 30\n');
    const n = spawnNode(['-c', cfg, '--node-id', 'looper', '--port', '0', '--data-dir', loopDir]);
    try {
      await n.waitFor((l) => l.msg.startsWith('Node started'), 60_000, 'node start');
      const u = apiUrl(loopDir, 'looper');
      const t0 = performance.now();
      let kills = 0;
      while (n.proc.exitCode === null && kills < 10) {
        await api(u, '/actors/consensus/kill', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ how: 'throw' }) }).catch(() => undefined);
        kills++;
        await new Promise((r) => setTimeout(r, 300));
      }
      const code = await n.exited;
      assert.equal(code, 1, 'exit 1 once the supervisor gives up');
      assert.match(n.stderr(), /supervisor gave up: consensus crashed more than 2 times in 30 s/);
      record('actor-faults', { actor: 'consensus (crash loop)', how: 'throw', restarted_s: null, completed: null, failed_with_receipt: null, refused: null, lost: null, kills_until_give_up: kills, give_up_s: secs(t0, performance.now()) });
    } finally {
      await n.stop('SIGKILL');
    }
  });
});
