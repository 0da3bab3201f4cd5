// The job queue: bounded, priority-ordered, fair between clients, with aging. Pure: time comes
// in as `now`, so property tests and the simulator drive it with a fake clock.
//
// Shape: client → lane (the model a job needs) → one FIFO per priority level. A pop looks only
// at FIFO heads in lanes that are open (the model has a free slot): O(clients × open lanes × 3).
//
// A pop is two contests (all comparisons in milliseconds, so they are exact on integer clocks):
// 1. Within a client: each head scores level·agingMs + (now − enqueuedAt); the best is the
//    client's candidate (ties: pushed first). A client's own low job is passed only by its own
//    higher jobs pushed less than (level difference)·agingMs after it.
// 2. Between clients: a candidate scores level·agingMs + (now − readyAt), where readyAt =
//    max(enqueuedAt, when its client was last served). Being served puts a client at the back:
//    its next candidate starts waiting anew. Ties go to whoever became ready first (a tick
//    counter, unique per push and pop, so a frozen clock still orders them).
// What follows (proved in the comments of test/unit/scheduler-queue.test.ts and checked there):
// equal-priority clients are served round-robin; a client's candidate that became ready at r
// is served before any client that becomes ready after r with no higher priority; a candidate
// whose wait covers the level gap (≥ 2·agingMs from low to high) beats any fresh one.

import { CodedError } from '../../errors/registry.ts';
export type Priority = 'high' | 'normal' | 'low';
export const PRIORITIES: readonly Priority[] = ['high', 'normal', 'low'];
export const LEVEL: Record<Priority, number> = { low: 0, normal: 1, high: 2 };

export const DEFAULT_AGING_MS = 30_000;

export interface QueuedJob<T = unknown> {
  id: string;
  client: string;
  priority: Priority;
  /** What the job needs to run (the model): pops can be restricted to open lanes. */
  lane: string;
  enqueuedAt: number;
  payload: T;
}

export class QueueFullError extends CodedError {
  override readonly name = 'QueueFullError';
  constructor(readonly capacity: number) { super('queue_full', `queue full (${capacity}/${capacity} jobs)`); }
}
export class DuplicateJobError extends CodedError {
  override readonly name = 'DuplicateJobError';
  constructor(readonly jobId: string) { super('duplicate_job', `job ${jobId} is already queued`); }
}

interface Entry<T> { job: QueuedJob<T>; tick: number }

interface ClientQueue<T> {
  /** lane → FIFOs indexed by level (0 low, 1 normal, 2 high). */
  lanes: Map<string, Entry<T>[][]>;
  size: number;
  servedAt: number;
  servedTick: number;
}

interface Candidate<T> { client: string; cq: ClientQueue<T>; fifo: Entry<T>[]; score: number; tick: number }

export class FairQueue<T = unknown> {
  private readonly clients = new Map<string, ClientQueue<T>>();
  private readonly where = new Map<string, Entry<T>[]>();
  private readonly laneDepth = new Map<string, number>();
  private tick = 0;

  constructor(public capacity: number, readonly agingMs = DEFAULT_AGING_MS) {}

  get depth(): number { return this.where.size; }
  has(id: string): boolean { return this.where.has(id); }
  /** Jobs waiting for one lane. */
  depthOf(lane: string): number { return this.laneDepth.get(lane) ?? 0; }

  /** Throws DuplicateJobError or QueueFullError. */
  push(job: QueuedJob<T>): void {
    if (this.where.has(job.id)) throw new DuplicateJobError(job.id);
    if (this.where.size >= this.capacity) throw new QueueFullError(this.capacity);
    let cq = this.clients.get(job.client);
    if (!cq) {
      cq = { lanes: new Map(), size: 0, servedAt: -Infinity, servedTick: -1 };
      this.clients.set(job.client, cq);
    }
    let fifos = cq.lanes.get(job.lane);
    if (!fifos) { fifos = [[], [], []]; cq.lanes.set(job.lane, fifos); }
    const fifo = fifos[LEVEL[job.priority]]!;
    fifo.push({ job, tick: this.tick++ });
    cq.size++;
    this.where.set(job.id, fifo);
    this.laneDepth.set(job.lane, this.depthOf(job.lane) + 1);
  }

  /**
   * Takes the job that should run next among lanes for which `open(lane)` holds, or undefined
   * when no such job waits.
   */
  pop(now: number, open: (lane: string) => boolean = () => true): QueuedJob<T> | undefined {
    let best: Candidate<T> | undefined;
    for (const [client, cq] of this.clients) {
      const own = this.candidateOf(cq, now, open);
      if (!own) continue;
      const { job } = own[0]!;
      const readyAt = Math.max(job.enqueuedAt, cq.servedAt);
      const c: Candidate<T> = {
        client, cq, fifo: own,
        score: LEVEL[job.priority] * this.agingMs + (now - readyAt),
        tick: Math.max(own[0]!.tick, cq.servedTick),
      };
      if (!best || c.score > best.score || (c.score === best.score && c.tick < best.tick)) best = c;
    }
    if (!best) return undefined;
    const { job } = best.fifo.shift()!;
    best.cq.servedAt = now;
    best.cq.servedTick = this.tick++;
    this.forget(best.client, best.cq, job);
    return job;
  }

  remove(id: string): QueuedJob<T> | undefined {
    const fifo = this.where.get(id);
    if (!fifo) return undefined;
    const i = fifo.findIndex((e) => e.job.id === id);
    const [{ job }] = fifo.splice(i, 1) as [Entry<T>];
    this.forget(job.client, this.clients.get(job.client)!, job);
    return job;
  }

  /** Every queued job, in no particular order. */
  *jobs(): IterableIterator<QueuedJob<T>> {
    for (const cq of this.clients.values()) for (const fifos of cq.lanes.values()) for (const f of fifos) for (const e of f) yield e.job;
  }

  // --- internals -------------------------------------------------------------------------

  /** The FIFO whose head is the client's best job in an open lane. */
  private candidateOf(cq: ClientQueue<T>, now: number, open: (lane: string) => boolean): Entry<T>[] | undefined {
    let best: Entry<T>[] | undefined;
    let bestScore = -Infinity;
    for (const [lane, fifos] of cq.lanes) {
      if (!open(lane)) continue;
      for (let level = 0; level < 3; level++) {
        const head = fifos[level]![0];
        if (!head) continue;
        const score = level * this.agingMs + (now - head.job.enqueuedAt);
        if (!best || score > bestScore || (score === bestScore && head.tick < best[0]!.tick)) { best = fifos[level]!; bestScore = score; }
      }
    }
    return best;
  }

  private forget(client: string, cq: ClientQueue<T>, job: QueuedJob<T>): void {
    this.where.delete(job.id);
    const left = this.depthOf(job.lane) - 1;
    if (left > 0) this.laneDepth.set(job.lane, left); else this.laneDepth.delete(job.lane);
    const fifos = cq.lanes.get(job.lane)!;
    if (fifos.every((f) => f.length === 0)) cq.lanes.delete(job.lane);
    // An emptied client is forgotten: its next job's readyAt is its own push, later than any
    // past service, so nothing is lost.
    if (--cq.size === 0) this.clients.delete(client);
  }
}
