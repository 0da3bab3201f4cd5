// The scheduler's record of recent jobs (GET /jobs): each job it accepted, from queued through
// running to how it ended, bounded (the oldest record is dropped first). Pure bookkeeping on
// given times; the machine calls it where a job is accepted, dispatched and ended. Each change
// is also handed to `onChange` (the scheduler sends it to the store, where history outlives
// the process).
import { LRUCache } from 'lru-cache';
import type { JobResult, JobRecord, JobRecordStatus, SchedulerJob } from './messages.ts';

/** Records kept: well above the default queue (100) plus slots, so a live job is never dropped. */
export const DEFAULT_HISTORY_CAPACITY = 1000;

export class JobHistory {
  /** Records are set once and then changed in place, so the cache's recency is acceptance order. */
  private readonly records: LRUCache<string, JobRecord>;

  constructor(capacity = DEFAULT_HISTORY_CAPACITY, private readonly onChange: (r: JobRecord) => void = () => {}) {
    this.records = new LRUCache({ max: Math.max(1, capacity) });
  }

  get size(): number { return this.records.size; }

  queued(job: SchedulerJob, now: number): void {
    const r: JobRecord = {
      id: job.id, client: job.client, model: job.model, priority: job.priority, max_tokens: job.max_tokens,
      status: 'queued', queued_at: now, started_at: null, finished_at: null,
      queue_ms: null, first_token_ms: null, generation_ms: null, tokens_in: 0, tokens_out: 0,
    };
    this.records.set(job.id, r);
    this.onChange({ ...r });
  }

  started(id: string, now: number): void {
    const r = this.records.peek(id);
    if (r) { r.status = 'running'; r.started_at = now; this.onChange({ ...r }); }
  }

  /** `ran`: the inference actor answered, so the result's timings are real (else they stay null). */
  ended(result: JobResult, ran: boolean, now: number): void {
    const r = this.records.peek(result.job_id);
    if (!r) return;
    r.status = result.status;
    if (result.reason !== undefined) r.reason = result.reason;
    r.finished_at = now;
    r.queue_ms = result.queue_ms;
    r.first_token_ms = ran ? result.timings.first_token_ms : null;
    r.generation_ms = ran ? result.timings.generation_ms : null;
    r.tokens_in = result.tokens_in;
    r.tokens_out = result.tokens_out;
    this.onChange({ ...r });
  }

  get(id: string): JobRecord | undefined {
    const r = this.records.peek(id);
    return r && { ...r };
  }

  /** Newest first, at most `limit`, optionally only those in one status. */
  list(limit: number, status?: JobRecordStatus): JobRecord[] {
    const out: JobRecord[] = [];
    for (const r of this.records.values()) {
      if (out.length >= limit) break;
      if (status === undefined || r.status === status) out.push({ ...r });
    }
    return out;
  }
}
