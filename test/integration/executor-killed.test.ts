// Seed-level resilience of the job path: kill -9 the node generating a job; the client moves
// the job to another node that claimed it, and ends with exactly one verified receipt, from
// that node. Uses the `small` test model so the kill lands during generation.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnNode, listenPort, type NodeProcess } from '../helpers/proc.ts';
import { tmpDir } from '../helpers/config.ts';
import { testModelPath } from '../helpers/test-model.ts';
import { submitJob } from '../../src/client/submit.ts';

describe('an executor killed mid-job', () => {
  const nodes = new Map<string, NodeProcess>();
  let boot = '';
  before(async () => {
    const dir = tmpDir();
    const model = await testModelPath('small');
    const cfg = join(dir, 'node.toml');
    writeFileSync(cfg, '[executor]\nmax_load_per_core = 1000\n');
    const first = spawnNode(['-c', cfg, '--node-id', 'exec-a', '--port', '0', '--model', model, '--data-dir', dir]);
    boot = `/ip4/127.0.0.1/tcp/${await listenPort(first)}`;
    const second = spawnNode(['-c', cfg, '--node-id', 'exec-b', '--port', '0', '--model', model, '--bootstrap', boot, '--data-dir', dir]);
    for (const n of [first, second]) {
      const l = await n.waitFor((x) => x.msg.startsWith('Node started'), 60_000, 'node start');
      nodes.set(String(l.peer_id), n);
    }
    await second.waitFor((x) => x.msg === 'Peer announced', 20_000, 'the nodes to know each other');
  });
  after(async () => { await Promise.all([...nodes.values()].map((n) => n.stop('SIGKILL'))); });

  it('completes the job on the other node, with one receipt', async () => {
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
