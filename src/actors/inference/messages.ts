// What an `inference:<model>` actor accepts, answers and emits. Requests go through the
// supervisor's router; token chunks come back to the requester as `inference.token` events.
import type { Call, DefineProtocol } from '../../runtime/protocol.ts';

export { InvalidJobError, InferenceWorkerError } from './errors.ts';

/**
 * After a cancel, how long the worker has to end the job before it is declared wedged. Public:
 * the scheduler and the network size their reply timeouts with it.
 */
export const DEFAULT_CANCEL_GRACE_MS = 30_000;

/** How a generation ended. */
export type JobStatus = 'completed' | 'cancelled' | 'failed' | 'timeout';

export type GenerateRequest = {
  type: 'inference.generate';
  /** Unique among the actor's running jobs; echoed in every token event and in the result. */
  job_id: string;
  prompt: string;
  /** Integer ≥ 1; prompt tokens + max_tokens must fit in one sequence's context. */
  max_tokens: number;
  /** 0 (greedy) to 2. */
  temperature: number;
  seed?: number;
  /**
   * Actor that receives the `inference.token` events (default: the requester). Set it when one
   * actor asks on behalf of another that streams to the client.
   */
  stream_to?: string;
  /** This job's own deadline, if shorter than `executor.job_timeout_secs` (both count from the actor receiving it). */
  timeout_ms?: number;
};

export type CancelRequest = {
  type: 'inference.cancel';
  job_id: string;
};

export type StatusRequest = { type: 'inference.status' };

/** Tests only (actor args `debug: true`): make the pool worker die of an uncaught exception. */
export type KillWorkerRequest = { type: 'inference.debug.kill_worker' };

/** Emitted to `stream_to` (or the requester) for every text chunk, in order, before the reply. */
export type TokenEvent = {
  type: 'inference.token';
  job_id: string;
  /** 0, 1, 2, ... per job: lets a receiver check it missed nothing. */
  index: number;
  text: string;
};

export interface GenerationTimings {
  /** Loading the model and creating its context in the worker (once per actor start). */
  load_ms: number;
  /** Waiting inside the worker for a free context sequence. */
  queue_ms: number;
  /** From getting a sequence to the first generated token (prompt evaluation included). */
  first_token_ms: number | null;
  /** From getting a sequence to the end of generation. */
  generation_ms: number;
  /** tokens_out / generation time. */
  tokens_per_s: number;
}

/** The reply to `inference.generate`: every job ends with exactly one of these. */
export interface GenerateResult {
  job_id: string;
  status: JobStatus;
  /** Why it did not complete (absent when completed). */
  reason?: string;
  /** The generated text (what was produced before a cancel or timeout, too). */
  text: string;
  tokens_in: number;
  tokens_out: number;
  timings: GenerationTimings;
}

export interface CancelResult { job_id: string; cancelled: boolean }

export interface InferenceStatus {
  model: string;
  path: string;
  sha256: string;
  params: number;
  quantization: string;
  /** The model's training context length, if the file declares it. */
  context_length: number | null;
  /** Context per sequence actually allocated. */
  context_size: number;
  threads: number;
  sequences: number;
  /** Jobs held by the actor (generating or waiting for a sequence). */
  busy: number;
  /** Jobs waiting for a sequence. */
  queued: number;
  test_model: boolean;
  load_ms: number;
}

/** The inference actor's published protocol; every `inference:<model>` actor speaks it. */
export type InferenceProtocol = DefineProtocol<
  | Call<GenerateRequest, GenerateResult>
  | Call<CancelRequest, CancelResult>
  | Call<StatusRequest, InferenceStatus>
  | Call<KillWorkerRequest, { killed: boolean }>,
  /** A cancel as a plain event is fire-and-forget. */
  CancelRequest,
  /** Streamed to a job's `stream_to` (or its requester). */
  TokenEvent
>;

/** The address of the inference actor serving `model`. */
export type InferenceAddress = `inference:${string}`;
export const inferenceAddress = (model: string): InferenceAddress => `inference:${model}`;
export const isInferenceAddress = (name: string): name is InferenceAddress => name.startsWith('inference:');

declare module '../../runtime/protocol.ts' {
  interface ActorProtocols { [address: `inference:${string}`]: InferenceProtocol }
}
