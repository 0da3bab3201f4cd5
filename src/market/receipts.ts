// The receipts this node has accepted, one per job id: the first valid receipt
// for a job is the job's outcome; any other receipt for the same job is refused, so a job
// re-run after a failover can never be counted (or paid, or credited to reputation) twice.
// When the job's assignment has been seen (the client's job_assign, latest attempt wins), only
// the assigned executor's receipt is accepted. Each receipt stored takes a change number, so
// manifest sync can hand a peer the receipts it missed (a partition healed, a late joiner).
// One exception: a failed receipt with reason `drain` says its executor handed the job back
// (it shut down): the job is not over, so the receipt of its next run, by another executor,
// replaces it.
import { LRUCache } from 'lru-cache';
import { DRAIN_REASON, type Envelope } from '../protocol/index.ts';

export type ReceiptEnvelope = Envelope<'receipt'>;

/** Why a well-formed, correctly signed receipt was still refused. */
export type ReceiptRefusal = 'duplicate_receipt' | 'unassigned_receipt';

export class ReceiptBook {
  private readonly byJob: LRUCache<string, { receipt: ReceiptEnvelope; seq: number }>;
  private readonly assigned: LRUCache<string, { executor: string; attempt: number }>;
  private readonly clients: LRUCache<string, string>;

  /** @param nextChange the change number for a receipt stored now (sync's counter, shared with the peer table) */
  constructor(capacity = 4096, private readonly nextChange: () => number = counter()) {
    this.byJob = new LRUCache({ max: capacity });
    this.assigned = new LRUCache({ max: capacity });
    this.clients = new LRUCache({ max: capacity });
  }

  /** A work_offer seen: only its client may assign the job. */
  offer(jobId: string, client: string): void {
    if (!this.clients.has(jobId)) this.clients.set(jobId, client);
  }

  /**
   * A job_assign seen: the latest attempt names the only executor whose receipt counts. Ignored
   * unless it comes from the client of an offer seen here (no one else may steer a job).
   * Returns whether it came from that client.
   */
  assign(from: string, jobId: string, executor: string, attempt: number): boolean {
    if (this.clients.get(jobId) !== from) return false;
    const prev = this.assigned.get(jobId);
    if (!prev || attempt >= prev.attempt) this.assigned.set(jobId, { executor, attempt });
    return true;
  }

  /** Records a receipt unless the job has one already or was assigned to someone else. */
  accept(receipt: ReceiptEnvelope): ReceiptRefusal | undefined {
    const { job_id: jobId, executor } = receipt.body;
    const held = this.byJob.get(jobId);
    if (held && (held.receipt.id === receipt.id)) return undefined;
    if (held && (!handedBack(held.receipt) || held.receipt.body.executor === executor)) return 'duplicate_receipt';
    const a = this.assigned.get(jobId);
    if (a && a.executor !== executor) return 'unassigned_receipt';
    this.byJob.set(jobId, { receipt, seq: this.nextChange() });
    return undefined;
  }

  get(jobId: string): ReceiptEnvelope | undefined { return this.byJob.peek(jobId)?.receipt; }

  /** The executor the job's latest assignment seen here names, if any. */
  assignedExecutor(jobId: string): string | undefined { return this.assigned.peek(jobId)?.executor; }

  /** Receipts stored after change `since`, with their change numbers, oldest change first. */
  since(since: number): Array<{ seq: number; receipt: ReceiptEnvelope }> {
    const out: Array<{ seq: number; receipt: ReceiptEnvelope }> = [];
    for (const e of this.byJob.values()) if (e.seq > since) out.push(e);
    return out.sort((x, y) => x.seq - y.seq);
  }

  /** Newest first. */
  recent(limit: number): ReceiptEnvelope[] {
    const out: ReceiptEnvelope[] = [];
    for (const e of this.byJob.values()) {
      if (out.length >= limit) break;
      out.push(e.receipt);
    }
    return out;
  }

  get size(): number { return this.byJob.size; }
}

/** A draining executor's receipt for a job it gave back unfinished: the job goes on elsewhere. */
function handedBack(r: ReceiptEnvelope): boolean {
  return r.body.status === 'failed' && r.body.reason === DRAIN_REASON;
}

function counter(): () => number {
  let n = 0;
  return () => ++n;
}
