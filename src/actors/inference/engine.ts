// The side of an inference actor that touches the world: validates and hashes the model file,
// owns the piscina pool (one long-lived worker holding the model), and keeps the book of jobs:
// every job it accepts ends with exactly one GenerateResult, whatever happens to the worker.
//
// Streaming: each job gets a MessageChannel; one end is transferred with the piscina task and
// the worker posts text chunks on it, then `end` with the result. The engine forwards chunks as
// `inference.token` events to the requester (routed actor messages cannot carry a port, as the
// supervisor posts them without a transfer list). Tokens and `end` share one port, so every
// token event is sent before the reply.
//
// Cancel and timeout travel on the same port to the worker (an AbortSignal there): piscina's own
// `signal` option would terminate the worker thread of a running task, and with it the model.
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { progressLine } from '../../runtime/progress.ts';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { Clock, Timer } from '../../runtime/clock.ts';
import type { Logger } from '../../runtime/log.ts';
import { ModelLoadError, sha256File, validateModel, type ValidatedModel } from '../../models/index.ts';
import { InferenceWorkerError, InvalidJobError } from './errors.ts';
import { DEFAULT_CANCEL_GRACE_MS, type GenerateRequest, type GenerateResult, type InferenceStatus, type JobStatus, type TokenEvent } from './messages.ts';
import type { ActorToWorker, LoadResult, WorkerGeneration, WorkerTask, WorkerToActor } from './worker-protocol.ts';
import { processThreadBudget } from './threads.ts';
import { COMPILED, ROOT_URL, srcModule } from '../../paths.ts';

// Built: the compiled entry; from the sources: the one that registers tsx first.
const WORKER_ENTRY = fileURLToPath(COMPILED ? srcModule('actors/inference/worker-entry.ts') : new URL('workers/inference.js', ROOT_URL));

export const DEFAULT_SEQUENCES = 4;
/**
 * The process's table of busy sequences per model (threads.ts), shared by every model of a node
 * whichever thread its actor runs on, so their workers keep the cores from oversubscription.
 */
const threadBudget = processThreadBudget();
/** Graceful stop: how long the worker gets to stop its generations and release the model. */
const DISPOSE_TIMEOUT_MS = 10_000;
/** Piscina settles a task on its own port; `end` on the job's port normally arrives first. */
const END_AFTER_RESULT_MS = 1000;

/** Structured-cloneable start arguments of an `inference:<model>` actor. */
export interface InferenceArgs {
  /** The GGUF file. */
  path: string;
  /** The model's name in manifests and requests (the file name without `.gguf` unless configured). */
  name: string;
  /** llama.cpp threads while one job generates: always explicit (the library's CPU default is 100× slower on 2 cores). */
  threads: number;
  /** llama.cpp threads while two or more jobs generate together (default: `threads`). */
  batchThreads?: number;
  /** Context per sequence (default `model.max_context_length`). */
  contextSize?: number;
  /** Concurrent jobs batched in the one context (default 4). */
  sequences?: number;
  /** Text chunks of a job are sent in batches this long after the first (0: each token on its own; default 100 ms). */
  tokenBatchMs?: number;
  /** Overrides `executor.job_timeout_secs` (tests). */
  jobTimeoutMs?: number;
  cancelGraceMs?: number;
  /** Accept `inference.debug.kill_worker` (tests of crash recovery). */
  debug?: boolean;
}

export interface EngineDeps {
  args: InferenceArgs;
  contextSize: number;
  jobTimeoutMs: number;
  clock: Clock;
  log: Logger;
  reply(replyTo: string, result: GenerateResult): void;
  replyError(replyTo: string, err: Error): void;
  stream(to: string, ev: TokenEvent): void;
  /** Called after a job was taken or has ended (the actor's state follows `busy`). */
  changed?(): void;
}

interface Job {
  id: string;
  replyTo: string;
  /** Where token events go; null when nobody can receive them (the supervisor itself). */
  streamTo: string | null;
  port: MessagePort;
  deadline: Timer;
  grace?: Timer;
  afterResult?: Timer;
  chunks: number;
  text: string;
  cancelled?: 'cancelled' | 'timeout';
  done: boolean;
}

export class InferenceEngine {
  private readonly deps: EngineDeps;
  private pool: Piscina | undefined;
  private model: ValidatedModel | undefined;
  private sha256 = '';
  private loaded: LoadResult | undefined;
  private readonly jobs = new Map<string, Job>();
  private dead: InferenceWorkerError | undefined;
  private closing = false;
  /** This engine's slot in the process's thread budget. */
  private budgetSlot: number | undefined;
  private onDeath: ((err: InferenceWorkerError) => void) | undefined;

  constructor(deps: EngineDeps) {
    this.deps = deps;
  }

  /** Jobs held (generating or waiting for a sequence). */
  get busy(): number { return this.jobs.size; }

  get sequences(): number { return this.deps.args.sequences ?? DEFAULT_SEQUENCES; }

  /** Validate, hash, start the worker and load the model in it. Throws ModelLoadError & co. */
  async load(): Promise<void> {
    const { args, contextSize, log } = this.deps;
    const t0 = performance.now();
    this.model = await validateModel(args.path, { contextLength: contextSize * this.sequences });
    const t1 = performance.now();
    this.sha256 = await sha256File(args.path);
    const t2 = performance.now();
    this.pool = new Piscina({
      filename: WORKER_ENTRY,
      minThreads: 1,
      maxThreads: 1,
      idleTimeout: Infinity,
      // Jobs beyond the sequences wait inside the worker, where a cancel reaches them.
      concurrentTasksPerWorker: 1 << 16,
      // Piscina's Atomics.wait loop blocks the worker's event loop between tasks; node-llama-cpp
      // finishes work (sequence clean-up, disposal) asynchronously after a task returns.
      atomics: 'disabled',
      // The entry registers tsx and the polyfill itself; inherited --import flags would race it.
      execArgv: [],
    });
    this.pool.on('error', (err: Error) => this.die(`worker error: ${err.message}`, err));
    const progress = new MessageChannel();
    const bar = progressLine(`Loading model ${args.name}`);
    progress.port1.on('message', (p: number) => bar.update(p));
    this.budgetSlot ??= threadBudget.take();
    try {
      this.loaded = (await this.pool.run({
        kind: 'load', path: this.model.path, threads: args.threads, batch_threads: args.batchThreads ?? args.threads,
        budget: threadBudget.buffer, ...(this.budgetSlot !== undefined ? { budget_slot: this.budgetSlot } : {}),
        contextSize, sequences: this.sequences, progress: progress.port2,
      } satisfies WorkerTask, { transferList: [progress.port2] })) as LoadResult;
    } catch (err) {
      throw new ModelLoadError('invalid_format', this.model.path,
        `Model load error: llama.cpp could not load ${this.model.path}: ${(err as Error).message}`, { cause: err });
    } finally {
      progress.port1.close();
      bar.end();
    }
    log.info({
      model: args.name, path: this.model.path, sha256: this.sha256, params: this.model.params,
      quantization: this.model.quantization, test_model: this.model.testModel, threads: args.threads, batch_threads: this.loaded.batch_threads,
      sequences: this.sequences, context_size: this.loaded.context_size,
      validate_ms: Math.round(t1 - t0), sha256_ms: Math.round(t2 - t1), load_ms: Math.round(this.loaded.load_ms),
    }, 'Model loaded');
  }

  /** Called once if the worker dies; the actor then crashes so its supervisor restarts it. */
  onWorkerDeath(fn: (err: InferenceWorkerError) => void): void {
    this.onDeath = fn;
    if (this.dead) fn(this.dead);
  }

  generate(req: GenerateRequest, from: string, replyTo: string): void {
    const { clock, log } = this.deps;
    const refused = this.refusal(req);
    if (refused) { this.deps.replyError(replyTo, refused); return; }
    const pool = this.pool!;

    const { port1, port2 } = new MessageChannel();
    const streamTo = req.stream_to ?? from;
    const timeoutMs = Math.min(this.deps.jobTimeoutMs, req.timeout_ms ?? Infinity);
    const job: Job = {
      id: req.job_id, replyTo, port: port1, chunks: 0, text: '', done: false,
      // `$supervisor` (and any `$` name) is the router itself: it has no mailbox for events.
      streamTo: streamTo.startsWith('$') ? null : streamTo,
      deadline: clock.setTimeout(() => this.cancel(req.job_id, 'timeout', `job timeout after ${timeoutMs} ms`), timeoutMs),
    };
    this.jobs.set(job.id, job);
    this.deps.changed?.();
    port1.on('message', (m: WorkerToActor) => {
      if (job.done) return;
      if (m.type === 'token') {
        job.text += m.text;
        if (job.streamTo) this.deps.stream(job.streamTo, { type: 'inference.token', job_id: job.id, index: job.chunks, text: m.text });
        job.chunks++;
      } else {
        this.finish(job, m.result);
      }
    });
    const task: WorkerTask = {
      kind: 'generate', job_id: req.job_id, prompt: req.prompt, max_tokens: req.max_tokens,
      temperature: req.temperature, ...(req.seed !== undefined ? { seed: req.seed } : {}), port: port2,
      ...(this.deps.args.tokenBatchMs !== undefined ? { token_batch_ms: this.deps.args.tokenBatchMs } : {}),
    };
    pool.run(task, { transferList: [port2] }).then(
      (result: WorkerGeneration) => {
        // `end` is normally already here; if not, it is still in flight on the job's port.
        if (!job.done) job.afterResult = clock.setTimeout(() => this.finish(job, result), END_AFTER_RESULT_MS);
      },
      (err: Error) => {
        if (this.closing) return;
        log.error({ job_id: job.id, err }, 'Inference worker lost a running job');
        this.die(err.message, err);
      },
    );
  }

  /** Cancels a running job in-band; false when no such job is running. */
  cancel(jobId: string, kind: 'cancelled' | 'timeout' = 'cancelled', reason = 'cancelled by request'): boolean {
    const job = this.jobs.get(jobId);
    if (!job || job.done) return false;
    if (job.cancelled) return true;
    job.cancelled = kind;
    job.port.postMessage({ type: 'cancel', kind, reason } satisfies ActorToWorker);
    const grace = this.deps.args.cancelGraceMs ?? DEFAULT_CANCEL_GRACE_MS;
    job.grace = this.deps.clock.setTimeout(
      () => this.die(`job ${jobId} did not stop within ${grace} ms of its ${kind === 'timeout' ? 'timeout' : 'cancel'}`), grace);
    return true;
  }

  status(): InferenceStatus {
    const m = this.model!;
    return {
      model: this.deps.args.name, path: m.path, sha256: this.sha256, params: m.params, quantization: m.quantization,
      context_length: m.contextLength, context_size: this.loaded?.context_size ?? this.deps.contextSize,
      threads: this.deps.args.threads, sequences: this.sequences,
      busy: this.jobs.size, queued: Math.max(0, this.jobs.size - this.sequences),
      test_model: m.testModel, load_ms: Math.round(this.loaded?.load_ms ?? 0),
    };
  }

  /**
   * Tests: make the worker die the way a bug in it would (an uncaught exception). Not
   * `worker.terminate()`: terminating it mid-generation aborts the whole process (see worker.ts).
   */
  async killWorker(): Promise<boolean> {
    if (!this.pool || this.dead) return false;
    await this.pool.run({ kind: 'crash', reason: 'worker crash requested by inference.debug.kill_worker' } satisfies WorkerTask);
    return true;
  }

  /**
   * Graceful stop: cancel what runs, release the model inside the worker, destroy the pool.
   * (Replies are no longer possible here; the supervisor fails the requests still open.)
   */
  async close(): Promise<void> {
    this.closing = true;
    this.releaseBudget();
    for (const job of this.jobs.values()) {
      this.clearTimers(job);
      if (!job.done) job.port.postMessage({ type: 'cancel', kind: 'cancelled', reason: 'inference actor stopping' } satisfies ActorToWorker);
      job.port.close();
    }
    this.jobs.clear();
    const pool = this.pool;
    this.pool = undefined;
    if (!pool) return;
    if (!this.dead && this.loaded) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        pool.run({ kind: 'dispose' } satisfies WorkerTask).catch(() => undefined),
        // Long enough for a decode in flight to finish: destroying the pool under it aborts the process.
        new Promise((r) => { timer = setTimeout(r, DISPOSE_TIMEOUT_MS); }),
      ]);
      clearTimeout(timer);
    }
    await pool.destroy().catch(() => undefined);
  }

  // --- internals -------------------------------------------------------------------------

  private refusal(req: GenerateRequest): Error | null {
    const id = typeof req.job_id === 'string' ? req.job_id : String(req.job_id);
    const bad = (what: string) => new InvalidJobError(id, what);
    if (this.dead) return this.dead;
    if (typeof req.job_id !== 'string' || req.job_id.length === 0) return bad('job_id must be a non-empty string');
    if (this.jobs.has(req.job_id)) return bad('a job with this id is already running');
    if (typeof req.prompt !== 'string') return bad('prompt must be a string');
    if (!Number.isInteger(req.max_tokens) || req.max_tokens < 1) return bad(`max_tokens must be an integer ≥ 1 (got ${req.max_tokens})`);
    if (req.max_tokens >= this.deps.contextSize) return bad(`max_tokens ${req.max_tokens} does not fit the context size ${this.deps.contextSize}`);
    if (typeof req.temperature !== 'number' || !(req.temperature >= 0 && req.temperature <= 2)) {
      return bad(`temperature must be between 0 and 2 (got ${req.temperature})`);
    }
    if (req.seed !== undefined && !Number.isSafeInteger(req.seed)) return bad(`seed must be an integer (got ${req.seed})`);
    if (req.timeout_ms !== undefined && !(typeof req.timeout_ms === 'number' && req.timeout_ms > 0)) {
      return bad(`timeout_ms must be a positive number (got ${req.timeout_ms})`);
    }
    if (req.stream_to !== undefined && typeof req.stream_to !== 'string') return bad('stream_to must be an actor name');
    return null;
  }

  private finish(job: Job, result: WorkerGeneration): void {
    if (job.done) return;
    job.done = true;
    this.clearTimers(job);
    job.port.close();
    this.jobs.delete(job.id);
    const out: GenerateResult = {
      job_id: job.id, status: result.status, ...(result.reason !== undefined ? { reason: result.reason } : {}),
      text: result.text, tokens_in: result.tokens_in, tokens_out: result.tokens_out,
      timings: { load_ms: Math.round(this.loaded?.load_ms ?? 0), ...result.timings },
    };
    this.deps.log.debug({ job_id: job.id, status: out.status, tokens_out: out.tokens_out, tokens_per_s: out.timings.tokens_per_s }, 'Job ended');
    this.deps.reply(job.replyTo, out);
    this.deps.changed?.();
  }

  /** The worker is gone or wedged: end every job as failed (never silently lost), then report. */
  private die(reason: string, cause?: unknown): void {
    if (this.dead || this.closing) return;
    const err = new InferenceWorkerError(this.deps.args.name, reason, { cause });
    this.dead = err;
    this.releaseBudget();
    for (const job of [...this.jobs.values()]) {
      const status: JobStatus = 'failed';
      // What the worker streamed before it died: its text, and its chunk count for tokens (≈).
      this.finish(job, {
        status, reason: `inference worker crashed: ${reason}`, text: job.text, tokens_in: 0, tokens_out: job.chunks,
        timings: { queue_ms: 0, first_token_ms: null, generation_ms: 0, tokens_per_s: 0 },
      });
    }
    this.onDeath?.(err);
  }

  /** This model no longer counts against the other models' threads. */
  private releaseBudget(): void {
    if (this.budgetSlot === undefined) return;
    threadBudget.release(this.budgetSlot);
    this.budgetSlot = undefined;
  }

  private clearTimers(job: Job): void {
    const { clock } = this.deps;
    clock.clearTimeout(job.deadline);
    if (job.grace) clock.clearTimeout(job.grace);
    if (job.afterResult) clock.clearTimeout(job.afterResult);
  }
}
