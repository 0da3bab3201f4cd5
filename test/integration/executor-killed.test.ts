// Seed-level resilience of the job path: stop (SIGSTOP: hung, its lease expires) or kill -9 the
// node generating a job; the client moves the job to another node that claimed it, and ends
// with exactly one verified receipt, from that node. Uses the `small` test model so the fault
// lands during generation.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnNode, listenPort, type NodeProcess } from '../helpers/proc.ts';
import { tmpDir } from '../helpers/config.ts';
import { testModelPath } from '../helpers/test-model.ts';
import { submitJob } from '../../src/client/submit.ts';

describe('an executor hung or killed mid-job', () => {
  const nodes = new Map<string, NodeProcess>();
  let boot = '';
  before(async () => {
    const dir = tmpDir();
    const model = await testModelPath('small');
    const cfg = join(dir, 'node.toml');
    writeFileSync(cfg, '[executor]\nmax_load_per_core = 1000\n');
    const first = spawnNode(['-c', cfg, '--node-id', 'exec-a', '--port', '0', '--model', model, '--data-dir', dir]);
    boot = `/ip4/127.0.0.1/tcp/${await listenPort(first)}`;
    const others = ['exec-b', 'exec-c'].map((id) => spawnNode(['-c', cfg, '--node-id', id, '--port', '0', '--model', model, '--bootstrap', boot, '--data-dir', dir]));
    for (const n of [first, ...others]) {
      const l = await n.waitFor((x) => x.msg.startsWith('Node started'), 60_000, 'node start');
      nodes.set(String(l.peer_id), n);
    }
    for (const n of others) await n.waitFor((x) => x.msg === 'Peer announced', 20_000, 'the nodes to know each other');
  });
  after(async () => {
    for (const n of nodes.values()) n.proc.kill('SIGCONT');
    await Promise.all([...nodes.values()].map((n) => n.stop('SIGKILL')));
  });

  it('a hung executor loses its lease: the job completes on another node, the hung one abandons it', async () => {
    const assigned: string[] = [];
    let hung: string | undefined;
    const result = await submitJob({
      bootstrap: [boot], prompt: 'Tell me a long story', maxTokens: 600, temperature: 0, seed: 2, priority: 'normal', timeoutMs: 120_000,
      leaseMs: 3000,
      onNote: (n) => { const m = /assigned to (\S+)/.exec(n); if (m) assigned.push(m[1]!); },
      onToken: () => {
        if (hung) return;
        hung = assigned.at(-1)!;
        nodes.get(hung)!.proc.kill('SIGSTOP');
      },
    });
    assert.ok(hung, 'the stop landed during generation');
    const stopped = nodes.get(hung)!;
    stopped.proc.kill('SIGCONT');
    assert.equal(assigned.length, 2, 'assigned once, then once more after the lease expired');
    assert.notEqual(result.executor, hung);
    assert.equal(result.receipt.from, result.executor);
    assert.equal(result.receipt.body.status, 'completed');
    // Resumed, the hung node finds its client gone and stops the job instead of finishing it.
    await stopped.waitFor((x) => x.msg === 'Job abandoned: its client is gone' || x.msg === 'Job stream refused or failed', 20_000, 'the resumed node to give the job up');
  });

  it('completes the job on another node after a kill -9, with one receipt', async () => {
    const assigned: string[] = [];
    let killed: string | undefined;
    const result = await submitJob({
      bootstrap: [boot], prompt: 'Tell me a long story', maxTokens: 600, temperature: 0, seed: 1, priority: 'normal', timeoutMs: 120_000,
      onNote: (n) => { const m = /assigned to (\S+)/.exec(n); if (m) assigned.push(m[1]!); },
      onToken: () => {
        if (killed) return;
        killed = assigned.at(-1)!;
        nodes.get(killed)!.proc.kill('SIGKILL');
      },
    });
    assert.ok(killed, 'the kill landed during generation');
    assert.equal(assigned.length, 2, 'assigned once, then once more after the kill');
    assert.notEqual(result.executor, killed);
    assert.equal(result.receipt.from, result.executor);
    assert.equal(result.receipt.body.status, 'completed');
    assert.ok(result.receipt.body.tokens_out > 0);
  });
});
