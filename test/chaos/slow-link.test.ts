// Chaos scenario, second half of the link faults: delay and loss. A client reaches the executor only
// through a userspace relay that delays every chunk and stalls some (what packet loss does to
// TCP); jobs still complete with verified receipts. Times are reported against the direct link.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { listenPort, spawnNode, type NodeProcess } from '../helpers/proc.ts';
import { tmpDir } from '../helpers/config.ts';
import { submitJob } from '../../src/client/submit.ts';
import { verifyReceipt } from '../../src/protocol/index.ts';
import { startRelay, type LinkShape } from './relay.ts';
import { record } from './report.ts';

const SHAPES: Array<{ name: string; shape?: LinkShape }> = [
  { name: 'direct' },
  { name: 'delay 50±20 ms', shape: { delayMs: 50, jitterMs: 20, loss: 0, stallMs: 0 } },
  { name: 'delay 20 ms, 5 % loss (300 ms stalls)', shape: { delayMs: 20, jitterMs: 10, loss: 0.05, stallMs: 300 } },
  { name: 'delay 150 ms, 10 % loss (800 ms stalls)', shape: { delayMs: 150, jitterMs: 50, loss: 0.1, stallMs: 800 } },
];
const JOBS = 3;

describe('chaos: delay and loss on the link', () => {
  let node: NodeProcess;
  let port = 0;
  before(async () => {
    const dir = tmpDir();
    const cfg = join(dir, 'node.toml');
    writeFileSync(cfg, '[executor]\nmax_load_per_core = 1000\n');
    node = spawnNode(['-c', cfg, '--node-id', 'far', '--port', '0', '--data-dir', dir]);
    port = await listenPort(node);
    await node.waitFor((l) => l.msg.startsWith('Node started'), 60_000, 'node start');
  });
  after(async () => { await node.stop('SIGKILL'); });

  for (const { name, shape } of SHAPES) {
    it(`jobs complete over: ${name}`, async () => {
      const relay = shape ? await startRelay({ host: '127.0.0.1', port }, shape) : undefined;
      try {
        const boot = `/ip4/127.0.0.1/tcp/${relay?.port ?? port}`;
        const times: number[] = [];
        for (let j = 0; j < JOBS; j++) {
          const prompt = `over a bad link ${j}`;
          const t0 = performance.now();
          const r = await submitJob({ bootstrap: [boot], prompt, maxTokens: 16, temperature: 0, seed: j, priority: 'normal', timeoutMs: 120_000 });
          times.push(performance.now() - t0);
          assert.equal(r.receipt.body.status, 'completed');
          assert.equal((await verifyReceipt(r.receipt, { text: r.text, prompt })).ok, true);
        }
        if (relay) assert.ok(relay.chunks > 0, 'the traffic went through the relay');
        record('slow-link', {
          link: name, jobs: JOBS, completed: times.length,
          median_job_s: Math.round([...times].sort((a, b) => a - b)[Math.floor(times.length / 2)]! / 100) / 10,
          chunks: relay?.chunks ?? null, stalls: relay?.stalls ?? null,
        });
      } finally {
        await relay?.close();
      }
    });
  }
});
