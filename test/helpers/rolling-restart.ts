// A rolling restart under a steady job stream, with real `mvp-node` processes over TCP on
// 127.0.0.1: executors are drained (SIGTERM) and started again one after another while a light
// client keeps several jobs in flight. Every job submitted must end with a verified, completed
// receipt: a drained node hands queued jobs back and cuts late ones with a retryable refusal,
// and the client offers them to the others. Shared by the integration test (one restart) and
// the chaos scenario (three executors, each restarted in turn).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LightClient } from '../../src/client/submit.ts';
import { spawnNode, listenPort, type LogLine, type NodeProcess } from './proc.ts';
import { tmpDir } from './config.ts';
import { testModelPath } from './test-model.ts';
import type { TestModelPreset } from '../../src/models/make-test.ts';

export interface RollingRestartOptions {
  executors: number;
  /** The first this many executors are restarted, in order. */
  restarts: number;
  preset: TestModelPreset;
  maxTokens: number;
  /** Jobs kept in flight at once. */
  concurrency: number;
  drainTimeoutSecs: number;
  /** Jobs completed before the first restart, between two, and after the last. */
  jobsBetween: number;
}

export interface DrainSeen {
  node: string;
  exit: number | null;
  /** The node's `Drained` log line: handed_back, finished, ended_by_drain, gateway_left. */
  drained?: LogLine;
}

export interface RollingRestartResult {
  submitted: number;
  completed: number;
  /** Jobs that did not end with a completed receipt: their errors. */
  lost: string[];
  /** Jobs that were assigned more than once (moved after a drain). */
  moved: number;
  /** Completed jobs by the node id of their executor. */
  byExecutor: Record<string, number>;
  drains: DrainSeen[];
}

export async function rollingRestart(o: RollingRestartOptions): Promise<RollingRestartResult> {
  const dir = tmpDir();
  const model = await testModelPath(o.preset);
  const cfg = join(dir, 'node.toml');
  writeFileSync(cfg, [
    '[network]', 'bootstrap_retry_max_secs = 2',
    '[executor]', 'max_load_per_core = 1000', `drain_timeout_secs = ${o.drainTimeoutSecs}`,
  ].join('\n'));
  const ids = Array.from({ length: o.executors }, (_, i) => `exec-${i + 1}`);
  const nodes = new Map<string, NodeProcess>();
  const ports = new Map<string, number>();
  const addr = (id: string) => `/ip4/127.0.0.1/tcp/${ports.get(id)!}`;
  const start = (id: string, port: number, bootstrap?: string) => {
    const n = spawnNode(['-c', cfg, '--node-id', id, '--port', String(port), '--model', model, '--data-dir', dir, ...(bootstrap ? ['--bootstrap', bootstrap] : [])]);
    nodes.set(id, n);
    return n;
  };
  let client: LightClient | undefined;
  try {
    ports.set(ids[0]!, await listenPort(start(ids[0]!, 0)));
    for (const id of ids.slice(1)) ports.set(id, await listenPort(start(id, 0, addr(ids[0]!))));
    await Promise.all(ids.map((id) => meetsAll(nodes.get(id)!, ids.filter((x) => x !== id), 0)));

    client = await LightClient.join({ bootstrap: ids.map(addr), timeoutMs: 30_000 });
    let submitted = 0;
    let completed = 0;
    let moved = 0;
    const byExecutor: Record<string, number> = {};
    const nodeOf = new Map<string, string>();
    for (const id of ids) nodeOf.set(String((await nodes.get(id)!.waitFor((l) => l.msg.startsWith('Node started'))).peer_id), id);
    const lost: string[] = [];
    /** Jobs generating (a token came since their last assignment), by their executor's node id. */
    const holding = new Map<string, string>();
    let running = true;
    const worker = async (w: number) => {
      for (let i = 0; running; i++) {
        submitted++;
        let attempts = 0;
        let executor = '';
        const job = `${w}-${i}`;
        try {
          const r = await client!.submit({
            prompt: `job ${job}: tell me something`, maxTokens: o.maxTokens, temperature: 0.7, seed: w * 1000 + i,
            priority: 'normal', timeoutMs: 120_000,
            onAssign: (a) => { attempts = a.attempt; executor = nodeOf.get(a.executor) ?? a.executor; holding.delete(job); },
            onToken: () => { holding.set(job, executor); },
          });
          if (r.receipt.body.status === 'completed') {
            completed++;
            const by = nodeOf.get(r.executor) ?? r.executor;
            byExecutor[by] = (byExecutor[by] ?? 0) + 1;
          }
          else lost.push(`job ${w}-${i} ended ${r.receipt.body.status}: ${r.receipt.body.reason ?? ''}`);
        } catch (err) {
          lost.push(`job ${w}-${i}: ${(err as Error).message}`);
        }
        holding.delete(job);
        if (attempts > 1) moved++;
      }
    };
    const workers = Array.from({ length: o.concurrency }, (_, w) => worker(w));
    const completedAtLeast = async (n: number) => {
      const deadline = Date.now() + 180_000;
      while (completed < n && lost.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    };

    const drains: DrainSeen[] = [];
    await completedAtLeast(o.jobsBetween);
    for (const id of ids.slice(0, o.restarts)) {
      // Drained while it generates a job (as the client sees it), when that happens within a while.
      const until = Date.now() + 30_000;
      while (![...holding.values()].includes(id) && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
      const old = nodes.get(id)!;
      const exit = await old.stop('SIGTERM');
      drains.push({ node: id, exit, drained: old.lines.find((l) => l.msg === 'Drained') });
      const other = ids.find((x) => x !== id)!;
      const since = Date.now();
      const again = start(id, ports.get(id)!, addr(other));
      await again.waitFor((l) => l.msg.startsWith('Node started'), 90_000, `${id} to start again`);
      await meetsAll(again, ids.filter((x) => x !== id), since);
      await completedAtLeast(completed + o.jobsBetween);
    }
    running = false;
    await Promise.all(workers);
    return { submitted, completed, lost, moved, byExecutor, drains };
  } finally {
    await client?.close();
    await Promise.all([...nodes.values()].map((n) => n.stop('SIGKILL')));
  }
}

/** Waits until a node has heard each of the others (announces logged at or after `since`). */
async function meetsAll(n: NodeProcess, others: string[], since: number): Promise<void> {
  for (const other of others) {
    await n.waitFor((l) => l.msg === 'Peer announced' && l.peer_node_id === other && Number(l.time) >= since, 60_000, `to hear ${other}`);
  }
}
