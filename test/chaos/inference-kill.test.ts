// Chaos scenario: killing the actor that holds llama.cpp while it decodes. With the default
// placement the inference actor runs on a worker thread, and terminating a thread while
// llama.cpp decodes aborts the whole process (node-llama-cpp 3.21.1). So, 20 times (or
// INFERENCE_KILLS) while a client keeps jobs decoding: `?mode=terminate` must be refused with
// the reason (409 kill_refused), `?mode=throw` must crash the actor through its cleanup and see
// it restarted, and the process must still be alive and serving afterwards.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { listenPort, spawnNode, type NodeProcess } from '../helpers/proc.ts';
import { tmpDir } from '../helpers/config.ts';
import { LightClient } from '../../src/client/submit.ts';
import { record, secs } from './report.ts';

const KILLS = Number(process.env.INFERENCE_KILLS ?? 20);
const MODEL = 'inference:mvp-test-tiny';

interface ActorRow { name: string; placement: 'inline' | 'thread'; status: string; restarts: number }

async function api(url: string, path: string, init?: RequestInit): Promise<{ status: number; body: unknown }> {
  const r = await fetch(`${url}${path}`, init);
  return { status: r.status, body: await r.json().catch(() => undefined) };
}

async function until<T>(fn: () => Promise<T | undefined> | T | undefined, timeoutMs: number, what: string): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await Promise.resolve().then(fn).catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('chaos: killing the inference actor while llama.cpp decodes', () => {
  let node: NodeProcess;
  let dir = '';
  let url = '';
  let boot = '';
  before(async () => {
    dir = tmpDir();
    // Default placement (the inference actor on a thread); restarts allowed as fast as we kill.
    const cfg = join(dir, 'node.toml');
    writeFileSync(cfg, '[executor]\nmax_load_per_core = 1000\n[runtime]\nrestart_intensity = 1000\nrestart_period_secs = 5\n');
    node = spawnNode(['-c', cfg, '--node-id', 'llama-victim', '--port', '0', '--data-dir', dir]);
    boot = `/ip4/127.0.0.1/tcp/${await listenPort(node)}`;
    await node.waitFor((l) => l.msg.startsWith('Node started'), 60_000, 'node start');
    url = (JSON.parse(readFileSync(join(dir, 'llama-victim', 'api.json'), 'utf8')) as { url: string }).url;
  });
  after(async () => { await node.stop('SIGKILL'); });

  it(`refuses a terminate and survives a throw, ${KILLS} times, while jobs decode`, async () => {
    const actor = async () => ((await api(url, '/actors')).body as ActorRow[]).find((a) => a.name === MODEL)!;
    assert.equal((await actor()).placement, 'thread', 'the inference actor runs on a worker thread');
    const client = await LightClient.join({ bootstrap: [boot], timeoutMs: 30_000 });
    let decoding = 0;
    let lastToken = 0;
    const outcome = { completed: 0, failed_with_receipt: 0, errors: 0 };
    let running = true;
    const load = async (w: number) => {
      for (let j = 0; running; j++) {
        let counted = false;
        try {
          const r = await client.submit({
            prompt: `decode ${w} ${j}`, maxTokens: 200, temperature: 0, seed: j, priority: 'normal', timeoutMs: 120_000,
            onToken: () => { lastToken = Date.now(); if (!counted) { counted = true; decoding++; } },
          });
          if (r.receipt.body.status === 'completed') outcome.completed++; else outcome.failed_with_receipt++;
        } catch {
          outcome.errors++;
          await new Promise((r) => setTimeout(r, 200));
        } finally {
          if (counted) decoding--;
        }
      }
    };
    const workers = [load(0), load(1), load(2)];
    try {
      for (let i = 0; i < KILLS; i++) {
        // Only while llama.cpp decodes: a job is streaming tokens right now.
        await until(() => (decoding > 0 && Date.now() - lastToken < 200 ? true : undefined), 120_000, 'a job decoding');
        const { restarts } = await actor();
        const refused = await api(url, `/actors/${encodeURIComponent(MODEL)}/kill?mode=terminate`, { method: 'POST' });
        assert.equal(refused.status, 409, `terminate #${i} refused: ${JSON.stringify(refused.body)}`);
        assert.equal((refused.body as { code: string }).code, 'kill_refused');
        assert.match((refused.body as { message: string }).message, /llama\.cpp context/);
        const t0 = performance.now();
        const killed = await api(url, `/actors/${encodeURIComponent(MODEL)}/kill?mode=throw`, { method: 'POST' });
        assert.equal(killed.status, 200, `throw #${i}: ${JSON.stringify(killed.body)}`);
        assert.deepEqual(killed.body, { name: MODEL, placement: 'thread', mode: 'throw' });
        await until(async () => { const a = await actor(); return a.status === 'running' && a.restarts > restarts ? a : undefined; }, 60_000, `${MODEL} to run again`);
        assert.equal(node.proc.exitCode, null, `the process survived kill #${i}`);
        assert.equal(node.proc.signalCode, null, `the process survived kill #${i}`);
        record('inference-kill', { kill: i + 1, refused: refused.status, restarted_s: secs(t0, performance.now()) });
      }
      // Still serving: a job completes after the last kill.
      const after = outcome.completed;
      await until(() => (outcome.completed > after ? true : undefined), 60_000, 'a job to complete after the last kill');
    } finally {
      running = false;
      await Promise.all(workers);
      await client.close();
    }
    assert.equal(node.proc.exitCode, null, 'the process is alive');
    assert.equal((await api(url, '/health')).status, 200);
    assert.ok(!node.lines.some((l) => /abort/i.test(String(l.msg)) && l.level >= 60), 'no fatal abort logged');
    record('inference-kill', { kill: 'total', refused: KILLS, restarted_s: null, ...outcome });
  });
});
