// The job queue: bounded, priority-ordered, fair between clients, with aging.
// Each client has its own FIFO; only the heads compete, so a client flooding the queue gets one
// candidate per pick like everyone else. A head's score is its priority level plus one level per
// `agingMs` waited, so a waiting low-priority job eventually beats fresh high-priority ones.

export type Priority = 'high' | 'normal' | 'low';
const LEVEL: Record<Priority, number> = { low: 0, normal: 1, high: 2 };

export interface QueuedJob<T = unknown> {
  id: string;
  client: string;
  priority: Priority;
  enqueuedAt: number;
  payload: T;
}

export class QueueFullError extends Error {
  override name = 'QueueFullError';
  constructor(readonly capacity: number) { super(`queue full (${capacity}/${capacity} jobs)`); }
}
export class DuplicateJobError extends Error {
  override name = 'DuplicateJobError';
  constructor(readonly jobId: string) { super(`job ${jobId} is already queued`); }
}

export class FairQueue<T = unknown> {
  private readonly byClient = new Map<string, QueuedJob<T>[]>();
  private readonly ids = new Set<string>();
  private readonly served = new Map<string, number>();

  constructor(public capacity: number, private readonly agingMs = 30_000) {}

  get depth(): number { return this.ids.size; }
  has(id: string): boolean { return this.ids.has(id); }

  push(job: QueuedJob<T>): void {
    if (this.ids.has(job.id)) throw new DuplicateJobError(job.id);
    if (this.ids.size >= this.capacity) throw new QueueFullError(this.capacity);
    const q = this.byClient.get(job.client) ?? [];
    // Within one client: higher priority first, then arrival order.
    let i = q.length;
    while (i > 0 && LEVEL[q[i - 1]!.priority] < LEVEL[job.priority]) i--;
    q.splice(i, 0, job);
    this.byClient.set(job.client, q);
    this.ids.add(job.id);
  }

  /** Takes the job that should run next, or undefined when empty. */
  pop(now: number): QueuedJob<T> | undefined {
    let best: { client: string; score: number; served: number; at: number } | undefined;
    for (const [client, q] of this.byClient) {
      const head = q[0]!;
      const score = LEVEL[head.priority] + (now - head.enqueuedAt) / this.agingMs;
      const served = this.served.get(client) ?? 0;
      if (!best || score > best.score || (score === best.score && (served < best.served || (served === best.served && head.enqueuedAt < best.at)))) {
        best = { client, score, served, at: head.enqueuedAt };
      }
    }
    if (!best) return undefined;
    const q = this.byClient.get(best.client)!;
    const job = q.shift()!;
    if (q.length === 0) this.byClient.delete(best.client);
    this.ids.delete(job.id);
    this.served.set(best.client, best.served + 1);
    return job;
  }

  remove(id: string): QueuedJob<T> | undefined {
    if (!this.ids.has(id)) return undefined;
    for (const [client, q] of this.byClient) {
      const i = q.findIndex((j) => j.id === id);
      if (i < 0) continue;
      const [job] = q.splice(i, 1);
      if (q.length === 0) this.byClient.delete(client);
      this.ids.delete(id);
      return job;
    }
    return undefined;
  }
}
