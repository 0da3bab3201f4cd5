// What the scheduler actor accepts and answers. A job submitted here runs on this node's
// `inference:<model>` actor; the submitter gets one reply, when the job has ended.
import type { RequestEvent, SystemEvent } from '../../runtime/actor.ts';
import type { Call, DefineProtocol } from '../../runtime/protocol.ts';
import type { GenerateResult, JobStatus } from '../inference/messages.ts';
import type { Priority } from './queue.ts';

// How long to wait for the scheduler's reply to a job (and for an inference actor's): public,
// askers size their own timeouts with them.
export { inferenceReplyTimeoutMs, submitReplyTimeoutMs } from './timeouts.ts';

/** The queue's figures (part of SchedulerStatus): the network puts them in its manifest, health shows them. */
export interface QueueStatus { depth: number; capacity: number; busy_slots: number; slots: number }

/** A job as submitted to this node's scheduler. */
export interface SchedulerJob {
  /** Idempotency key: a second submission with this id never runs the job again. */
  id: string;
  /** Who asked (a peer id, or a local name): the unit of fair sharing. */
  client: string;
  priority: Priority;
  /** A model this node serves (`scheduler.status` lists them). */
  model: string;
  prompt: string;
  /** Integer ≥ 1, smaller than the model's context size. */
  max_tokens: number;
  /** 0 (greedy) to 2. */
  temperature: number;
  seed?: number;
  /** Generation time limit, if shorter than `executor.job_timeout_secs` (queue wait not counted). */
  timeout_ms?: number;
}

/**
 * Run a job, answer when it has ended: completed, cancelled, failed (with a reason, e.g. the
 * inference actor died under it) or timeout. Refusals are errors with a stable name:
 * `UnknownModelError`, `InvalidJobError`, `QueueFullError` (`err.code` says the same).
 *
 * Reply timeout: the submitter waits for queueing plus generation. Use
 * `submitReplyTimeoutMs(config, job, expectedQueueWaitMs)` (timeouts.ts); a submitter that
 * gives up earlier should send `scheduler.cancel`, or the job still runs to its end.
 */
export type SubmitRequest = {
  type: 'scheduler.submit';
  job: SchedulerJob;
  /**
   * Actor that receives the job's `inference.token` events (default: the submitter). A second
   * submission of the same id attaches to the first and streams nowhere new.
   */
  stream_to?: string;
};

/** The reply to `scheduler.submit`: the inference result plus the time spent in this queue. */
export interface JobResult extends GenerateResult {
  /** From acceptance to dispatch to the inference actor (`timings.queue_ms` is the wait inside it). */
  queue_ms: number;
}

/** Queued → removed and answered `cancelled`; running → `inference.cancel` forwarded. */
export type CancelRequest = { type: 'scheduler.cancel'; job_id: string };
export interface CancelReply { job_id: string; cancelled: boolean; state: JobState | 'unknown' }
export type JobState = 'queued' | 'running' | 'finished';

/**
 * The node drains: every queued job is taken out and answered `cancelled` with reason
 * DRAIN_REASON (its submitter hands it back to its client), and from now on submissions are
 * refused with DrainingError. Jobs already running go on. Answers which jobs went which way.
 */
export type DrainRequest = { type: 'scheduler.drain' };
export interface DrainReply { handed_back: string[]; running: string[] }

/** Should this node claim an offer of this shape? (the load manager; see load.ts) */
export type CanClaimRequest = { type: 'scheduler.can_claim'; model: string; max_tokens: number };
/** With the queue as it stood when asked: a claim needs no second request for it. */
export interface CanClaimReply { ok: boolean; reason?: string; queue?: QueueStatus }

/**
 * What the scheduler tells the network actor each time it changes (`network.claimable`): per
 * model, whether an offer of it could be claimed now (the can_claim verdict for a job of one
 * token) and its context size, and the queue. The executor claims on a yes without asking, when
 * the offer's max_tokens fits the context; anything else is asked (can_claim), so a stale no
 * never costs a claim, and a stale yes is what the scheduler's own refusal already covers.
 */
export interface ClaimableState { models: Record<string, { ok: boolean; context_size: number }>; queue: QueueStatus }

export interface SchedulerStatus extends QueueStatus {
  /** Models this scheduler dispatches to, in the order given. */
  models: string[];
}

/** A job this node accepted, as GET /jobs shows it (times in clock milliseconds). */
export interface JobRecord {
  id: string;
  client: string;
  model: string;
  priority: Priority;
  max_tokens: number;
  status: JobRecordStatus;
  /** Why it did not complete (absent while live and when completed). */
  reason?: string;
  queued_at: number;
  started_at: number | null;
  finished_at: number | null;
  /** Time in this queue, known when the job has ended. */
  queue_ms: number | null;
  first_token_ms: number | null;
  generation_ms: number | null;
  tokens_in: number;
  tokens_out: number;
}
export type JobRecordStatus = 'queued' | 'running' | JobStatus;

/** `scheduler.jobs` → JobRecord[], newest first (default 100, at most 1000). */
export type JobsRequest = { type: 'scheduler.jobs'; limit?: number; status?: JobRecordStatus };
/** `scheduler.job` → JobRecord | null. */
export type JobRequest = { type: 'scheduler.job'; job_id: string };

/** A histogram's state: `counts[i]` observations ≤ `bounds[i]` and > the bound before; the last is +Inf. */
export interface HistogramSnapshot { bounds: number[]; counts: number[]; sum: number; count: number }

/** Counts for one model since the scheduler started. */
export interface ModelJobStats {
  jobs: Record<JobStatus, number>;
  tokens_in: number;
  tokens_out: number;
  /** From getting a sequence to the first generated token; jobs that produced no token are not in it. */
  first_token_seconds: HistogramSnapshot;
  /** From getting a sequence to the end of generation, for every job the inference actor answered. */
  duration_seconds: HistogramSnapshot;
}
export type SchedulerMetricsModels = Record<string, ModelJobStats>;

/** `scheduler.metrics` → what GET /metrics shows of the scheduler. Counters restart at 0 with the actor. */
export interface SchedulerMetrics {
  queue: SchedulerStatus;
  models: SchedulerMetricsModels;
  /** Submissions refused at once, by error code: unknown_model, invalid_job, queue_full. */
  refused: Record<string, number>;
}

export type SchedulerIn =
  | RequestEvent<SubmitRequest>
  /** As a plain event (no replyTo) it is fire-and-forget. */
  | (CancelRequest & { from: string; replyTo?: string })
  | RequestEvent<CanClaimRequest>
  | RequestEvent<DrainRequest>
  | RequestEvent<{ type: 'scheduler.status' }>
  | RequestEvent<JobsRequest>
  | RequestEvent<JobRequest>
  | RequestEvent<{ type: 'scheduler.metrics' }>
  /** Resize the queue (the orchestrator's scale_queue); answers the new status. */
  | RequestEvent<{ type: 'scheduler.set_capacity'; capacity: number }>
  /**
   * Serve a model whose `inference:<name>` actor was started at runtime → SchedulerStatus.
   * A name already served is left as it is.
   */
  | RequestEvent<{ type: 'scheduler.add_model'; model: { name: string; sequences: number; contextSize?: number } }>
  /**
   * Stop serving a model → RetireReply, once its running jobs have ended. New jobs for it are
   * refused at once (UnknownModelError); queued ones are handed back, ended `failed` with the reason.
   * Ask with a timeout that covers a job's run (submitReplyTimeoutMs).
   */
  | RequestEvent<{ type: 'scheduler.retire_model'; name: string }>
  | (SystemEvent & { from: string });

/** `retired: false`: this scheduler did not serve that model. */
export interface RetireReply { model: string; retired: boolean }

export type SetCapacityRequest = { type: 'scheduler.set_capacity'; capacity: number };
export type AddModelRequest = { type: 'scheduler.add_model'; model: { name: string; sequences: number; contextSize?: number } };
export type RetireModelRequest = { type: 'scheduler.retire_model'; name: string };

/** The scheduler's published protocol: what each request answers (see SchedulerIn for their meaning). */
export type SchedulerProtocol = DefineProtocol<
  | Call<SubmitRequest, JobResult>
  | Call<CancelRequest, CancelReply>
  | Call<CanClaimRequest, CanClaimReply>
  | Call<DrainRequest, DrainReply>
  | Call<{ type: 'scheduler.status' }, SchedulerStatus>
  | Call<JobsRequest, JobRecord[]>
  | Call<JobRequest, JobRecord | null>
  | Call<{ type: 'scheduler.metrics' }, SchedulerMetrics>
  | Call<SetCapacityRequest, SchedulerStatus>
  | Call<AddModelRequest, SchedulerStatus>
  | Call<RetireModelRequest, RetireReply>,
  /** A cancel as a plain event is fire-and-forget. */
  CancelRequest
>;

declare module '../../runtime/protocol.ts' {
  interface ActorProtocols { scheduler: SchedulerProtocol }
}
