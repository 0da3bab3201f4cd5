// The piscina task handler inside an inference actor's one long-lived worker thread: loads the
// model once, runs each job on its own sequence of one shared context (batching), streams text.
//
// One llama, one model, one context per worker, created by the first `load` task and kept until
// `dispose` (getLlama alone costs ~0.8 s). Jobs beyond the context's sequences wait here, in
// FIFO order, for a sequence to free up. Cancellation is in-band: an AbortSignal stops the
// generation between tokens; the thread is never killed for it.
//
// Dying: terminating this thread while llama.cpp has an async call in flight aborts the whole
// process (node-addon-api throws a C++ Napi::Error from the completion callback of a torn-down
// environment: measured with node-llama-cpp 3.21.1, about one kill in two mid-generation).
// So an uncaught exception here does not end the thread at once: generations are aborted,
// in-flight native calls are let finish, then the thread exits with code 1 without answering
// its tasks, and the actor sees what any worker death looks like (piscina rejects them).
import { performance } from 'node:perf_hooks';
import { getLlama, LlamaCompletion, LlamaLogLevel, type Llama, type LlamaContext, type LlamaContextSequence, type LlamaModel } from 'node-llama-cpp';
import { availableParallelism } from 'node:os';
import { TokenBatcher } from './token-batch.ts';
import { ThreadBudget, ThreadGovernor } from './threads.ts';
import type {
  ActorToWorker, DisposeTask, GenerateTask, LoadResult, LoadTask, WorkerGeneration, WorkerTask, WorkerToActor,
} from './worker-protocol.ts';

interface Loaded {
  llama: Llama;
  model: LlamaModel;
  context: LlamaContext;
  sequences: SequencePool;
  governor: ThreadGovernor;
  result: LoadResult;
}

let loading: Promise<Loaded> | undefined;
/** Aborters of the generations in flight, so `dispose` and `dieSafely` can stop them first. */
const inFlight = new Set<AbortController>();
let dying = false;
/** How long a dying worker waits for native calls to finish before exiting anyway. */
const DYING_DRAIN_MS = 5000;

process.on('uncaughtException', (err) => { void dieSafely(err); });

export default async function runInferenceTask(task: WorkerTask): Promise<LoadResult | WorkerGeneration | null> {
  switch (task.kind) {
    case 'load': return (await load(task)).result;
    case 'generate': return generate(task);
    case 'dispose': return dispose(task);
    case 'crash':
      // Tests: the failure this thread exists to survive, raised outside any task.
      setImmediate(() => { throw new Error(task.reason); });
      return null;
  }
}

async function dieSafely(err: unknown): Promise<void> {
  if (dying) return;
  dying = true;
  process.stderr.write(`inference worker: uncaught exception, exiting once native calls have finished: ${(err as Error)?.stack ?? String(err)}\n`);
  for (const a of inFlight) a.abort(new Error('inference worker dying'));
  const m = await loading?.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([m?.sequences.drain(), new Promise((r) => { timer = setTimeout(r, DYING_DRAIN_MS); })]);
  clearTimeout(timer);
  process.exit(1);
}

/** A dying worker answers nothing: its tasks are rejected when the thread exits. */
const never = <T>() => new Promise<T>(() => {});

function load(task: LoadTask): Promise<Loaded> {
  // Idempotent: a worker holds one model for its whole life.
  loading ??= (async () => {
    const t0 = performance.now();
    // The native loader logs through console by default; warnings from random-weight test
    // models are noise. Errors still surface as exceptions.
    const llama = await getLlama({ gpu: false, logLevel: LlamaLogLevel.error });
    const model = await llama.loadModel({ modelPath: task.path, onLoadProgress: (p) => task.progress?.postMessage(p) });
    // threads explicit: node-llama-cpp's CPU default (max(4, cores)) is 100× slower on 2 cores.
    // Created with the larger count; each decode then takes what llama.maxThreads allows (threads.ts).
    const batchThreads = Math.max(task.threads, task.batch_threads);
    const context = await model.createContext({ contextSize: task.contextSize, sequences: task.sequences, threads: batchThreads });
    const governor = new ThreadGovernor(
      { single: task.threads, batch: batchThreads, cores: availableParallelism() },
      (n) => { llama.maxThreads = n; },
      task.budget ? new ThreadBudget(task.budget).table : undefined, task.budget_slot,
    );
    governor.setBusy(0);
    return {
      llama, model, context, governor,
      sequences: new SequencePool(context, task.sequences, governor),
      result: { load_ms: performance.now() - t0, context_size: context.contextSize, sequences: task.sequences, threads: task.threads, batch_threads: batchThreads },
    };
  })();
  loading.catch(() => { loading = undefined; });
  return loading;
}

async function generate(task: GenerateTask): Promise<WorkerGeneration> {
  const { port } = task;
  const aborter = new AbortController();
  let cancelKind: 'cancelled' | 'timeout' | undefined;
  let cancelReason = '';
  const onMessage = (m: ActorToWorker) => {
    if (m.type !== 'cancel' || cancelKind) return;
    cancelKind = m.kind;
    cancelReason = m.reason;
    aborter.abort(new Error(m.reason));
  };
  port.on('message', onMessage);
  inFlight.add(aborter);

  const received = performance.now();
  let text = '';
  let tokensIn = 0;
  let tokensOut = 0;
  let started = received;
  let firstTokenAt: number | null = null;
  // Text chunks leave in batches (the first at once): see token-batch.ts.
  const batch = new TokenBatcher((chunk) => port.postMessage({ type: 'token', text: chunk } satisfies WorkerToActor), task.token_batch_ms);
  const finish = (status: WorkerGeneration['status'], reason?: string): Promise<WorkerGeneration> => {
    if (dying) return never();
    batch.end();
    const end = performance.now();
    const generationMs = end - started;
    const result: WorkerGeneration = {
      status, ...(reason !== undefined ? { reason } : {}), text, tokens_in: tokensIn, tokens_out: tokensOut,
      timings: {
        queue_ms: started - received,
        first_token_ms: firstTokenAt === null ? null : firstTokenAt - started,
        generation_ms: generationMs,
        tokens_per_s: generationMs > 0 ? (tokensOut * 1000) / generationMs : 0,
      },
    };
    // `end` travels on the same port as the tokens, so the actor sees it after the last one.
    port.postMessage({ type: 'end', result } satisfies WorkerToActor);
    port.off('message', onMessage);
    port.unref();
    inFlight.delete(aborter);
    return Promise.resolve(result);
  };
  const cancelled = () => finish(cancelKind ?? 'cancelled', cancelReason || 'cancelled');

  if (!loading) return finish('failed', 'model not loaded in this worker');
  let m: Loaded;
  try {
    m = await loading;
  } catch (err) {
    return finish('failed', `model failed to load: ${(err as Error).message}`);
  }
  tokensIn = m.model.tokenize(task.prompt).length;
  if (tokensIn + task.max_tokens > m.result.context_size) {
    return finish('failed', `invalid job: prompt (${tokensIn} tokens) + max_tokens (${task.max_tokens}) exceed the context size ${m.result.context_size}`);
  }

  let sequence: LlamaContextSequence;
  try {
    sequence = await m.sequences.acquire(aborter.signal);
  } catch {
    return cancelled();
  }
  started = performance.now();
  const completion = new LlamaCompletion({ contextSequence: sequence });
  try {
    await completion.generateCompletionWithMeta(task.prompt, {
      maxTokens: task.max_tokens,
      temperature: task.temperature,
      ...(task.seed !== undefined ? { seed: task.seed } : {}),
      signal: aborter.signal,
      stopOnAbortSignal: true,
      onToken: (tokens) => {
        firstTokenAt ??= performance.now();
        tokensOut += tokens.length;
        m.governor.tokens(tokens.length); // times the thread comparison; another model may have started or stopped
      },
      onTextChunk: (chunk) => {
        text += chunk;
        batch.push(chunk);
      },
    });
  } catch (err) {
    if (cancelKind) return cancelled();
    return finish('failed', `generation failed: ${(err as Error).message}`);
  } finally {
    completion.dispose({ disposeSequence: false });
    await m.sequences.release(sequence);
  }
  return cancelKind ? cancelled() : finish('completed');
}

async function dispose(_task: DisposeTask): Promise<null> {
  for (const a of inFlight) a.abort(new Error('worker disposing'));
  const m = await loading?.catch(() => undefined);
  loading = undefined;
  if (!m) return null;
  await m.sequences.drain();
  await m.context.dispose();
  await m.model.dispose();
  await m.llama.dispose();
  return null;
}

/**
 * The context's sequences, handed out FIFO; a waiter leaves the line when its job is cancelled.
 * Sequences are created once and cleared between jobs (disposing one frees its id only
 * asynchronously, so a dispose-then-getSequence pair races).
 */
class SequencePool {
  private readonly idle: LlamaContextSequence[];
  private readonly waiters: Array<{ grant: (s: LlamaContextSequence) => void }> = [];
  private readonly total: number;
  private readonly drained: Array<() => void> = [];

  constructor(context: LlamaContext, total: number, private readonly governor?: ThreadGovernor) {
    this.total = total;
    this.idle = Array.from({ length: total }, () => context.getSequence());
  }

  acquire(signal: AbortSignal): Promise<LlamaContextSequence> {
    if (signal.aborted) return Promise.reject(signal.reason);
    const ready = this.idle.shift();
    if (ready) { this.governor?.setBusy(this.total - this.idle.length); return Promise.resolve(ready); }
    return new Promise((resolve, reject) => {
      const waiter = {
        grant: (s: LlamaContextSequence) => { signal.removeEventListener('abort', onAbort); resolve(s); },
      };
      const onAbort = () => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  /** Clears what the job left in the sequence, then gives it to the next waiter. */
  async release(sequence: LlamaContextSequence): Promise<void> {
    await sequence.clearHistory().catch(() => undefined); // a disposed context has nothing to clear
    const next = this.waiters.shift();
    if (next) { next.grant(sequence); return; }
    this.idle.push(sequence);
    this.governor?.setBusy(this.total - this.idle.length);
    if (this.idle.length === this.total) for (const d of this.drained.splice(0)) d();
  }

  /** Resolves once every sequence is back. */
  drain(): Promise<void> {
    if (this.idle.length === this.total) return Promise.resolve();
    return new Promise((resolve) => { this.drained.push(resolve); });
  }
}
