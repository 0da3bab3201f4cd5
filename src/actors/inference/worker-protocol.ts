// Between an inference actor and its pool worker: the piscina tasks, and the messages on the
// MessagePort each generation task carries (tokens out, cancel in, a final `end`).
import type { MessagePort } from 'node:worker_threads';
import type { GenerationTimings, JobStatus } from './messages.ts';

export interface LoadTask {
  kind: 'load';
  path: string;
  /** Threads while one sequence generates. */
  threads: number;
  /** Threads while two or more sequences generate (the context is created with this many). */
  batch_threads: number;
  /** The process's thread budget (threads.ts) and this model's slot in it. */
  budget?: SharedArrayBuffer;
  budget_slot?: number;
  /** Per sequence. */
  contextSize: number;
  sequences: number;
  /** Receives the loader's progress, a number in [0, 1], as it reads the model. */
  progress?: MessagePort;
}

export interface GenerateTask {
  kind: 'generate';
  job_id: string;
  prompt: string;
  max_tokens: number;
  temperature: number;
  seed?: number;
  /** Text chunks are batched this long after the first (0: each on its own); default TOKEN_BATCH_MS. */
  token_batch_ms?: number;
  /** Transferred: the worker streams TokenChunk/End on it and listens for Cancel. */
  port: MessagePort;
}

/** Releases the context, model and llama in order before the pool is destroyed. */
export interface DisposeTask { kind: 'dispose' }

/** Tests: raise an uncaught exception in the worker, the way a bug would. */
export interface CrashTask { kind: 'crash'; reason: string }

export type WorkerTask = LoadTask | GenerateTask | DisposeTask | CrashTask;

export interface LoadResult {
  /** getLlama + loadModel + createContext, in the worker. */
  load_ms: number;
  context_size: number;
  sequences: number;
  threads: number;
  batch_threads: number;
}

/** A generation's outcome as the worker sees it; the actor adds load_ms. */
export interface WorkerGeneration {
  status: JobStatus;
  reason?: string;
  text: string;
  tokens_in: number;
  tokens_out: number;
  timings: Omit<GenerationTimings, 'load_ms'>;
}

/** Worker → actor on a job's port. */
export type WorkerToActor =
  | { type: 'token'; text: string }
  | { type: 'end'; result: WorkerGeneration };

/** Actor → worker on a job's port. `kind` decides the status the job ends with. */
export type ActorToWorker = { type: 'cancel'; kind: 'cancelled' | 'timeout'; reason: string };
