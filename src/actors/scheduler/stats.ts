// Cumulative job figures the scheduler keeps for GET /metrics: jobs by model and status,
// refusals by reason, tokens, and histogram buckets of time to first token and generation time.
// Actors may run on other threads, so no metrics registry is shared: the api actor asks for a
// snapshot (`scheduler.metrics`) at scrape time. Counts start at zero when the actor starts.
import type { JobStatus } from '../inference/messages.ts';
import type { HistogramSnapshot, JobResult, ModelJobStats, SchedulerMetricsModels } from './messages.ts';

/** Upper bounds, in seconds, of the time-to-first-token buckets (prompt evaluation included). */
export const FIRST_TOKEN_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] as const;
/** Upper bounds, in seconds, of the generation-time buckets. */
export const DURATION_BUCKETS_S = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300] as const;

/** A histogram in the making: per-bucket counts (the last one is +Inf), their sum and count. */
export class Buckets {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }

  observe(value: number): void {
    const i = this.bounds.findIndex((b) => value <= b);
    this.counts[i === -1 ? this.bounds.length : i]!++;
    this.sum += value;
    this.count++;
  }

  snapshot(): HistogramSnapshot {
    return { bounds: [...this.bounds], counts: [...this.counts], sum: this.sum, count: this.count };
  }
}

const ZERO_JOBS = (): Record<JobStatus, number> => ({ completed: 0, cancelled: 0, failed: 0, timeout: 0 });

class ModelStats {
  readonly jobs = ZERO_JOBS();
  tokensIn = 0;
  tokensOut = 0;
  readonly firstToken = new Buckets(FIRST_TOKEN_BUCKETS_S);
  readonly duration = new Buckets(DURATION_BUCKETS_S);

  snapshot(): ModelJobStats {
    return {
      jobs: { ...this.jobs }, tokens_in: this.tokensIn, tokens_out: this.tokensOut,
      first_token_seconds: this.firstToken.snapshot(), duration_seconds: this.duration.snapshot(),
    };
  }
}

export class JobStats {
  private readonly models = new Map<string, ModelStats>();
  private readonly refused: Record<string, number> = {};

  /** `models` are listed (with zeros) before any job ends, so every series exists from the start. */
  constructor(models: readonly string[]) {
    for (const m of models) this.models.set(m, new ModelStats());
  }

  /** A model loaded at runtime: its series exist (with zeros) from now on. */
  addModel(model: string): void {
    if (!this.models.has(model)) this.models.set(model, new ModelStats());
  }

  /**
   * A job has ended. `ran`: the inference actor answered it (its timings are real); a job
   * cancelled in the queue, or lost with its actor, counts by status only.
   */
  ended(model: string, result: JobResult, ran: boolean): void {
    let m = this.models.get(model);
    if (!m) { m = new ModelStats(); this.models.set(model, m); }
    m.jobs[result.status]++;
    m.tokensIn += result.tokens_in;
    m.tokensOut += result.tokens_out;
    if (!ran) return;
    if (result.timings.first_token_ms !== null) m.firstToken.observe(result.timings.first_token_ms / 1000);
    m.duration.observe(result.timings.generation_ms / 1000);
  }

  /** A submission refused at once, by the error's code (`unknown_model`, `invalid_job`, `queue_full`). */
  refusedWith(code: string): void {
    this.refused[code] = (this.refused[code] ?? 0) + 1;
  }

  snapshot(): { models: SchedulerMetricsModels; refused: Record<string, number> } {
    return {
      models: Object.fromEntries([...this.models].map(([name, m]) => [name, m.snapshot()])),
      refused: { ...this.refused },
    };
  }
}
