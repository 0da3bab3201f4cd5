// The job workload of the simulator's real-node mode (src/sim/real.ts): a light client on the
// memory transport submits real jobs (the generated test model, run by node-llama-cpp on the
// nodes that serve it) at Poisson times while the scenario's faults play, then the invariants
// are checked against the nodes themselves: no job lost (each ends with a verified receipt or
// a refusal that names its cause), and no job with two receipts on any node.
import type { MvpNode } from '../node/create-node.ts';
import { JobFailedError, LightClient, NoExecutorError } from '../client/submit.ts';
import type { ReceiptEnvelope } from '../protocol/index.ts';
import { quantile, round } from './placement.ts';

/** Real inference on a 2-core machine: the workload is capped whatever the scenario's job_rate. */
export const REAL_MAX_JOB_RATE = 2;
export const REAL_JOB_TOKENS = 8;

export interface RealJobsReport {
  /** Jobs per second offered (the scenario's job_rate, capped at REAL_MAX_JOB_RATE). */
  rate: number;
  serving_nodes: number;
  submitted: number;
  /** Ended with a verified receipt: completed, or failed with the executor's signed reason. */
  completed: number;
  failed_with_receipt: number;
  /** Refused with a reason, nothing ran (no node could take it in time, or the executor said no and why). */
  refused: number;
  /** Neither a receipt nor a refusal by the end of the drain. Must be 0. */
  lost: number;
  /** Jobs that moved to another executor after a failure. */
  moved: number;
  mean_ms: number;
  p99_ms: number;
  /** Jobs whose receipt every live node fetches (its own copy or a DHT lookup), out of the jobs with a receipt; and receipts that differ from the client's. */
  receipts: { held_by_all_live: number; conflicting: number };
}

interface Outcome { status: 'completed' | 'failed' | 'refused' | 'error'; ms: number; receipt?: ReceiptEnvelope; why?: string; moved: boolean }

export class RealJobWorkload {
  private readonly outcomes = new Map<string, Outcome>();
  private readonly pending = new Set<Promise<void>>();
  private submitted = 0;

  private constructor(private readonly client: LightClient, readonly rate: number, private readonly serving: number, private readonly rand: () => number) {}

  /** @param bootstrap nodes to join through (several: a fault may take one away) */
  static async join(bootstrap: string[], opts: { jobRate: number; serving: number; rand: () => number }): Promise<RealJobWorkload> {
    const client = await LightClient.join({ bootstrap, timeoutMs: 30_000, transport: 'memory' });
    return new RealJobWorkload(client, Math.min(REAL_MAX_JOB_RATE, opts.jobRate), opts.serving, opts.rand);
  }

  /** Submits jobs at Poisson times until `until` (epoch ms); each runs on while the next is offered. */
  async run(until: number, timeoutMs: number): Promise<void> {
    while (this.rate > 0 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, -Math.log(1 - this.rand()) * 1000 / this.rate));
      if (Date.now() >= until) break;
      const k = ++this.submitted;
      const started = Date.now();
      let jobId = `job-${k}`;
      let moved = false;
      const p = this.client.submit({
        prompt: `simulated job ${k}`, maxTokens: REAL_JOB_TOKENS, temperature: 0, seed: k, priority: 'normal', timeoutMs,
        onOffer: (id) => { jobId = id; },
        onAssign: (a) => { if (a.attempt > 1) moved = true; },
      }).then(
        (r) => { this.outcomes.set(jobId, { status: r.receipt.body.status === 'completed' ? 'completed' : 'failed', ms: Date.now() - started, receipt: r.receipt, moved }); },
        (err: Error) => {
          const refused = err instanceof NoExecutorError || (err instanceof JobFailedError && err.kind === 'refused');
          this.outcomes.set(jobId, { status: refused ? 'refused' : 'error', ms: Date.now() - started, why: err.message, moved });
        },
      ).finally(() => this.pending.delete(p));
      this.pending.add(p);
    }
  }

  /** Waits for the jobs in flight (each ends by its own timeout). */
  async drain(): Promise<void> { await Promise.all([...this.pending]); }

  async close(): Promise<void> { await this.client.close(); }

  /**
   * The report, and the invariants' violations: a job neither received nor refused is lost; a
   * live node holding another receipt than the client's for a job is a duplicate.
   */
  async check(live: MvpNode[]): Promise<{ report: RealJobsReport; violations: string[] }> {
    const violations: string[] = [];
    const all = [...this.outcomes.values()];
    const lost = this.submitted - all.length + all.filter((o) => o.status === 'error').length;
    for (const [id, o] of this.outcomes) if (o.status === 'error') violations.push(`job ${id.slice(0, 12)} lost: ${o.why}`);
    if (this.submitted > all.length) violations.push(`${this.submitted - all.length} job(s) neither ended nor refused by the end of the drain`);
    let heldByAll = 0;
    let conflicting = 0;
    const withReceipt = [...this.outcomes].filter(([, o]) => o.receipt);
    for (const [id, o] of withReceipt) {
      // Each node answers from its book, else by a DHT lookup: every live node can fetch it.
      const held = await Promise.all(live.map((n) => n.supervisor.request<ReceiptEnvelope | null>('network', { type: 'network.receipt', job_id: id }, 20_000).catch(() => null)));
      if (held.every((r) => r?.id === o.receipt!.id)) heldByAll++;
      for (const [i, r] of held.entries()) {
        if (r && r.id !== o.receipt!.id) {
          conflicting++;
          violations.push(`job ${id.slice(0, 12)}: ${live[i]!.nodeId} holds receipt ${r.id.slice(0, 12)} from ${r.from}, the client got ${o.receipt!.id.slice(0, 12)} from ${o.receipt!.from}`);
        }
      }
    }
    const ms = all.filter((o) => o.receipt).map((o) => o.ms).sort((a, b) => a - b);
    return {
      violations,
      report: {
        rate: this.rate, serving_nodes: this.serving, submitted: this.submitted,
        completed: all.filter((o) => o.status === 'completed').length,
        failed_with_receipt: all.filter((o) => o.status === 'failed').length,
        refused: all.filter((o) => o.status === 'refused').length,
        lost, moved: all.filter((o) => o.moved).length,
        mean_ms: ms.length ? round(ms.reduce((a, b) => a + b, 0) / ms.length) : 0,
        p99_ms: round(quantile(ms, 0.99) || 0),
        receipts: { held_by_all_live: heldByAll, conflicting },
      },
    };
  }
}
