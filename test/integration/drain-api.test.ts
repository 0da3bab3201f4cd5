// Draining through the API and the CLI, against real node processes: POST /drain needs the
// token like every route; it answers 202 at once, /health turns 503 `draining` and /metrics
// shows it, a job already generating finishes within executor.drain_timeout_secs with its
// receipt, and the node exits 0. `mvp-node drain --wait` does the same from the command line.
// A job still generating at the drain's deadline ends with a signed failed receipt (reason
// `drain`) and a retryable refusal: its client offers it again and another node completes it,
// whose receipt replaces the drain receipt.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { listenPort, runCli, spawnNode, type NodeProcess } from '../helpers/proc.ts';
import { tmpDir } from '../helpers/config.ts';
import { testModelPath } from '../helpers/test-model.ts';
import { get, parseMetrics, post, sample } from '../helpers/api.ts';
import { submitJob } from '../../src/client/submit.ts';

const TOKEN = 'drain-test-token';

describe('draining a node through its API', () => {
  const procs: NodeProcess[] = [];
  after(async () => { await Promise.all(procs.map((n) => n.stop('SIGKILL'))); });

  async function startNode(id: string, preset: 'tiny' | 'small', drainTimeoutSecs = 60, bootstrap: string[] = []) {
    const dir = tmpDir();
    const cfg = join(dir, 'node.toml');
    writeFileSync(cfg, `[executor]\nmax_load_per_core = 1000\ndrain_timeout_secs = ${drainTimeoutSecs}\n[api]\ntoken = "${TOKEN}"\n`);
    const n = spawnNode(['-c', cfg, '--node-id', id, '--port', '0', '--model', await testModelPath(preset), '--data-dir', dir, ...bootstrap.flatMap((b) => ['--bootstrap', b])]);
    procs.push(n);
    const boot = `/ip4/127.0.0.1/tcp/${await listenPort(n)}`;
    await n.waitFor((l) => l.msg.startsWith('Node started'), 90_000, 'node start');
    const api = (JSON.parse(readFileSync(join(dir, id, 'api.json'), 'utf8')) as { url: string }).url;
    return { n, boot, api, dir };
  }

  it('POST /drain (with the token) lets the running job finish, shows draining, and exits 0', async () => {
    const { n, boot, api } = await startNode('drain-api', 'small');
    const auth = { authorization: `Bearer ${TOKEN}` };
    let generating!: () => void;
    const firstToken = new Promise<void>((r) => { generating = r; });
    const job = submitJob({ bootstrap: [boot], prompt: 'a long story', maxTokens: 200, temperature: 0, priority: 'normal', timeoutMs: 120_000, onToken: () => generating() });
    await firstToken;
    assert.equal((await post(`${api}/drain`)).status, 401, 'state-changing: the token is needed');
    const accepted = await post<{ draining: boolean; timeout_secs: number }>(`${api}/drain`, undefined, auth);
    assert.equal(accepted.status, 202);
    assert.deepEqual(accepted.body, { draining: true, timeout_secs: 60 });
    const health = await get<{ status: string }>(`${api}/health`, auth);
    assert.deepEqual([health.status, health.body.status], [503, 'draining']);
    const m = await parseMetrics((await get<string>(`${api}/metrics`, auth)).body);
    assert.equal(sample(m, 'mvp_draining'), 1);
    const r = await job;
    assert.equal(r.receipt.body.status, 'completed', 'the running job finished within the drain timeout');
    assert.equal(await n.exited, 0);
    const drained = n.lines.find((l) => l.msg === 'Drained')!;
    assert.deepEqual([drained.finished, drained.ended_by_drain, drained.handed_back], [1, 0, 0]);
  });

  it('a job still generating at the deadline ends with a drain receipt, and its client has another node run it', async () => {
    const a = await startNode('cut-a', 'small', 0);
    const b = await startNode('cut-b', 'small', 0, [a.boot]);
    await b.n.waitFor((l) => l.msg === 'Peer announced' && l.peer_node_id === 'cut-a', 30_000, 'the nodes to meet');
    await a.n.waitFor((l) => l.msg === 'Peer announced' && l.peer_node_id === 'cut-b', 30_000, 'the nodes to meet');
    const byPeer = new Map<string, typeof a>();
    for (const x of [a, b]) byPeer.set(String((await x.n.waitFor((l) => l.msg.startsWith('Node started'))).peer_id), x);
    const auth = { authorization: `Bearer ${TOKEN}` };
    const assigned: string[] = [];
    let drained: typeof a | undefined;
    const r = await submitJob({
      bootstrap: [a.boot, b.boot], prompt: 'a long story', maxTokens: 200, temperature: 0, priority: 'normal', timeoutMs: 120_000,
      onAssign: (x) => { assigned.push(x.executor); },
      onToken: () => {
        if (drained) return;
        drained = byPeer.get(assigned.at(-1)!)!;
        void post(`${drained.api}/drain`, undefined, auth);
      },
    });
    assert.ok(drained, 'the drain landed while the job generated');
    assert.equal(assigned.length, 2, 'offered again after the drain, and assigned to the other node');
    const other = [a, b].find((x) => x !== drained)!;
    assert.equal(byPeer.get(r.executor), other);
    assert.equal(r.receipt.body.status, 'completed');
    assert.equal(await drained.n.exited, 0);
    const line = drained.n.lines.find((l) => l.msg === 'Drained')!;
    assert.equal(line.ended_by_drain, 1);
    // The drain receipt was put in the DHT first; the node that ran the job answers with the completed one.
    const held = await get<{ receipt: { id: string; body: { status: string } } | null }>(`${other.api}/jobs/${r.receipt.body.job_id}`, auth);
    assert.equal(held.body.receipt?.id, r.receipt.id);
  });

  it('a second SIGTERM during a drain stops the node at once (it kills itself: status 137)', async () => {
    const { n, boot } = await startNode('drain-twice', 'small');
    let generating!: () => void;
    const firstToken = new Promise<void>((r) => { generating = r; });
    const job = submitJob({ bootstrap: [boot], prompt: 'a long story', maxTokens: 1000, temperature: 0.8, seed: 3, priority: 'normal', timeoutMs: 30_000, onToken: () => generating() })
      .catch((err: Error) => err);
    await firstToken;
    n.proc.kill('SIGTERM');
    await n.waitFor((l) => l.msg.startsWith('Draining:'), 10_000, 'the drain to begin');
    n.proc.kill('SIGTERM');
    assert.equal(await n.exited, null);
    assert.equal(n.proc.signalCode, 'SIGKILL', 'it killed itself: a normal exit while llama.cpp generates would abort');
    assert.ok(n.lines.some((l) => l.msg === 'Second signal: exiting now'));
    assert.equal(n.lines.some((l) => l.msg === 'Drained'), false, 'it did not wait for the running job');
    assert.ok(await job instanceof Error, 'the job had no other node to go to');
  });

  it('`mvp-node drain --wait` drains the node it finds and returns once it has exited', async () => {
    const { n, dir } = await startNode('drain-cli', 'tiny');
    const r = await runCli(['drain', '--data-dir', dir, '--node-id', 'drain-cli', '--token', TOKEN, '--wait']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /is draining: .* gives running ones 60 s, then exits\nNode exited\n$/);
    assert.equal(await n.exited, 0);
  });
});
