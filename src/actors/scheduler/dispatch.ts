// The scheduler's book of jobs, without messages, threads or real time: admission (validation,
// bounds, idempotent ids), the fair queue, one slot per sequence of each model, and the
// recently finished results. The actor (machine.ts) turns its answers into messages.
//
// Every accepted job ends exactly once (finish or cancelQueued), and its waiters are handed
// back then: one submitter, plus any that sent the same id while it was queued or running.
import type { GenerateResult, JobStatus } from '../inference/messages.ts';
import { InvalidJobError, QueueFullError, UnknownModelError } from './errors.ts';
import { FairQueue, LEVEL } from './queue.ts';
import type { JobResult, JobState, SchedulerJob, SchedulerStatus } from './messages.ts';

/** How many finished results are kept to answer a repeated id without running it again (a cancelled one runs again). */
export const DEFAULT_FINISHED_CAPACITY = 512;

export interface ServedModel {
  name: string;
  /** Sequences of the model's context: jobs it runs at once, so the scheduler's slots for it. */
  sequences: number;
  /** Context size per sequence: max_tokens must be smaller (as the inference actor checks). */
  contextSize: number;
}

export interface DispatcherOptions {
  models: readonly ServedModel[];
  capacity: number;
  agingMs?: number;
  finishedCapacity?: number;
}

/** What became of a submission. */
export type Admission =
  | { kind: 'refused'; error: Error }
  | { kind: 'queued' }
  /** The id is already queued or running: the waiter gets that job's result. */
  | { kind: 'attached'; state: 'queued' | 'running' }
  /** The id finished recently: here is its result again. */
  | { kind: 'finished'; result: JobResult };

/** A job leaving the queue for its inference actor. */
export interface Dispatch { job: SchedulerJob; streamTo?: string; queueMs: number }

/** A job that has ended (on which model), and everyone waiting for it. */
export interface Ending<W> { result: JobResult; model: string; waiters: W[] }

interface Tracked<W> { job: SchedulerJob; waiters: W[]; streamTo?: string; acceptedAt: number; queueMs: number }

interface ModelSlots { spec: ServedModel; busy: number; up: boolean; retiring: boolean }

export class Dispatcher<W> {
  private readonly models = new Map<string, ModelSlots>();
  private readonly queue: FairQueue<Tracked<W>>;
  private readonly queued = new Map<string, Tracked<W>>();
  private readonly running = new Map<string, Tracked<W>>();
  /** Insertion order is recency: the oldest is evicted first, a repeated id refreshes its entry. */
  private readonly finished = new Map<string, JobResult>();
  private readonly finishedCapacity: number;

  constructor(opts: DispatcherOptions) {
    for (const spec of opts.models) this.addModel(spec);
    this.queue = new FairQueue(opts.capacity, opts.agingMs);
    this.finishedCapacity = Math.max(1, opts.finishedCapacity ?? DEFAULT_FINISHED_CAPACITY);
  }

  get capacity(): number { return this.queue.capacity; }
  set capacity(n: number) { this.queue.capacity = Math.max(1, Math.floor(n)); }
  get depth(): number { return this.queue.depth; }
  /** Models that take jobs (one being retired does not). */
  get modelNames(): string[] { return [...this.models.values()].filter((m) => !m.retiring).map((m) => m.spec.name); }
  model(name: string): Readonly<ServedModel> & { busy: number; up: boolean; queued: number } | undefined {
    const m = this.models.get(name);
    return m && !m.retiring ? { ...m.spec, busy: m.busy, up: m.up, queued: this.queue.depthOf(name) } : undefined;
  }

  /** Serve a model loaded at runtime (up: its inference actor already runs). False when one of that name is already here. */
  addModel(spec: ServedModel): boolean {
    if (this.models.has(spec.name)) return false;
    this.models.set(spec.name, { spec, busy: 0, up: true, retiring: false });
    return true;
  }

  /**
   * Stop serving a model: from now on it is refused as unknown; its queued jobs are handed back
   * (ended `failed` with `reason`, so their offerer re-offers them elsewhere) and returned; its
   * running jobs finish. It leaves the book once the last of them ends (see retired()).
   */
  retireModel(name: string, reason: string, now: number): Ending<W>[] | undefined {
    const m = this.models.get(name);
    if (!m) return undefined;
    m.retiring = true;
    const ids = [...this.queued.values()].filter((t) => t.job.model === name).map((t) => t.job.id);
    const endings = ids.map((id) => {
      const t = this.queued.get(id)!;
      this.queue.remove(id);
      this.queued.delete(id);
      return this.end(t, { ...resultWithoutOutput(id, 'failed', reason), queue_ms: now - t.acceptedAt });
    });
    this.dropIfIdle(name);
    return endings;
  }

  /** True once a retired model has no job left (it is then gone from the book). */
  retired(name: string): boolean {
    this.dropIfIdle(name);
    return !this.models.has(name);
  }

  status(): SchedulerStatus {
    let busy = 0;
    let slots = 0;
    for (const m of this.models.values()) { busy += m.busy; if (!m.retiring) slots += m.spec.sequences; }
    return { depth: this.queue.depth, capacity: this.queue.capacity, busy_slots: busy, slots, models: this.modelNames };
  }

  stateOf(id: string): JobState | undefined {
    if (this.queued.has(id)) return 'queued';
    if (this.running.has(id)) return 'running';
    if (this.finished.has(id)) return 'finished';
    return undefined;
  }

  /** Admit a job (or attach to the one with its id). Queued jobs start on the next dispatch(). */
  submit(job: SchedulerJob, waiter: W, streamTo: string | undefined, now: number): Admission {
    const id = job?.id;
    if (typeof id === 'string') {
      const live = this.queued.get(id) ?? this.running.get(id);
      if (live) { live.waiters.push(waiter); return { kind: 'attached', state: this.queued.has(id) ? 'queued' : 'running' }; }
      const done = this.finished.get(id);
      // A cancelled job never ran to its end: brought again, it runs.
      if (done && done.status !== 'cancelled') { this.remember(done); return { kind: 'finished', result: done }; }
    }
    const refused = this.refusal(job);
    if (refused) return { kind: 'refused', error: refused };
    if (this.queue.depth >= this.queue.capacity) return { kind: 'refused', error: new QueueFullError(this.queue.capacity) };
    const t: Tracked<W> = { job, waiters: [waiter], acceptedAt: now, queueMs: 0, ...(streamTo !== undefined ? { streamTo } : {}) };
    this.queue.push({ id, client: job.client, priority: job.priority, lane: job.model, enqueuedAt: now, payload: t });
    this.queued.set(id, t);
    return { kind: 'queued' };
  }

  /** Takes every job that can start now (its model is up and has a free slot), in fair order. */
  dispatch(now: number): Dispatch[] {
    const out: Dispatch[] = [];
    const open = (lane: string) => { const m = this.models.get(lane); return m !== undefined && !m.retiring && m.up && m.busy < m.spec.sequences; };
    for (let q = this.queue.pop(now, open); q; q = this.queue.pop(now, open)) {
      const t = q.payload;
      this.queued.delete(q.id);
      this.running.set(q.id, t);
      this.models.get(q.lane)!.busy++;
      t.queueMs = now - t.acceptedAt;
      out.push({ job: t.job, queueMs: t.queueMs, ...(t.streamTo !== undefined ? { streamTo: t.streamTo } : {}) });
    }
    return out;
  }

  /** A running job has ended (its result, or a failure made up by the caller): its slot frees. */
  finish(id: string, result: GenerateResult): Ending<W> | undefined {
    const t = this.running.get(id);
    if (!t) return undefined;
    this.running.delete(id);
    this.models.get(t.job.model)!.busy--;
    this.dropIfIdle(t.job.model);
    return this.end(t, { ...result, job_id: id, queue_ms: t.queueMs });
  }

  /** Removes a queued job, ending it as cancelled; undefined when it is not queued. */
  cancelQueued(id: string, reason: string, now: number): Ending<W> | undefined {
    const t = this.queued.get(id);
    if (!t) return undefined;
    this.queue.remove(id);
    this.queued.delete(id);
    return this.end(t, { ...resultWithoutOutput(id, 'cancelled', reason), queue_ms: now - t.acceptedAt });
  }

  /** Removes every queued job, ending each as cancelled with this reason (a draining node hands them back). */
  cancelAllQueued(reason: string, now: number): Ending<W>[] {
    return [...this.queued.keys()].map((id) => this.cancelQueued(id, reason, now)!);
  }

  /** The jobs running now. */
  runningIds(): string[] { return [...this.running.keys()]; }

  /** The model a running job occupies (to forward a cancel). */
  runningModel(id: string): string | undefined { return this.running.get(id)?.job.model; }

  /**
   * Mark a model's inference actor down (it is restarting: its queued jobs wait here, where a
   * cancel still reaches them) or up again. False for a model this scheduler does not serve.
   */
  setModelUp(name: string, up: boolean): boolean {
    const m = this.models.get(name);
    if (!m) return false;
    m.up = up;
    return true;
  }

  // --- internals -------------------------------------------------------------------------

  private dropIfIdle(name: string): void {
    const m = this.models.get(name);
    if (m?.retiring && m.busy === 0) this.models.delete(name);
  }

  private end(t: Tracked<W>, result: JobResult): Ending<W> {
    this.remember(result);
    return { result, model: t.job.model, waiters: t.waiters };
  }

  private remember(result: JobResult): void {
    this.finished.delete(result.job_id);
    this.finished.set(result.job_id, result);
    while (this.finished.size > this.finishedCapacity) this.finished.delete(this.finished.keys().next().value!);
  }

  /** Parameters are checked here so a bad job is refused at once, not after its queue wait. */
  private refusal(job: SchedulerJob): Error | null {
    if (!job || typeof job !== 'object') return new InvalidJobError('', 'job must be an object');
    const bad = (what: string) => new InvalidJobError(typeof job.id === 'string' ? job.id : String(job.id), what);
    if (typeof job.id !== 'string' || job.id.length === 0) return bad('id must be a non-empty string');
    if (typeof job.client !== 'string') return bad('client must be a string');
    if (!Object.hasOwn(LEVEL, job.priority)) return bad(`priority must be high, normal or low (got ${String(job.priority)})`);
    const m = this.models.get(job.model);
    if (!m || m.retiring) return new UnknownModelError(String(job.model), this.modelNames);
    if (typeof job.prompt !== 'string') return bad('prompt must be a string');
    return paramsRefusal(job, m.spec.contextSize, bad);
  }
}

/** The checks on generation parameters shared by submissions and claims. */
export function paramsRefusal(
  job: { max_tokens: number; temperature?: number; seed?: number; timeout_ms?: number },
  contextSize: number,
  bad: (what: string) => Error,
): Error | null {
  if (!Number.isInteger(job.max_tokens) || job.max_tokens < 1) return bad(`max_tokens must be an integer ≥ 1 (got ${job.max_tokens})`);
  if (job.max_tokens >= contextSize) return bad(`max_tokens ${job.max_tokens} does not fit the context size ${contextSize}`);
  if ('temperature' in job && !(typeof job.temperature === 'number' && job.temperature >= 0 && job.temperature <= 2)) {
    return bad(`temperature must be between 0 and 2 (got ${job.temperature})`);
  }
  if (job.seed !== undefined && !Number.isSafeInteger(job.seed)) return bad(`seed must be an integer (got ${job.seed})`);
  if (job.timeout_ms !== undefined && !(typeof job.timeout_ms === 'number' && job.timeout_ms > 0)) {
    return bad(`timeout_ms must be a positive number (got ${job.timeout_ms})`);
  }
  return null;
}

/** The result of a job that produced nothing (cancelled in the queue, or lost with its actor). */
export function resultWithoutOutput(id: string, status: JobStatus, reason: string): GenerateResult {
  return {
    job_id: id, status, reason, text: '', tokens_in: 0, tokens_out: 0,
    timings: { load_ms: 0, queue_ms: 0, first_token_ms: null, generation_ms: 0, tokens_per_s: 0 },
  };
}
