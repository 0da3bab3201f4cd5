// How long a job may take, seen from each side of the scheduler. The inference actor enforces
// the generation limit itself; the scheduler's request to it and a submitter's request to the
// scheduler are backstops that must outlast it.
import type { Config } from '../../config/types.ts';
import { DEFAULT_CANCEL_GRACE_MS } from '../inference/messages.ts';

/** Slack for messages and bookkeeping on top of the limits below. */
export const REPLY_MARGIN_MS = 5_000;

/** The generation limit the inference actor applies: the job's own, if shorter than the node's. */
export function jobRunLimitMs(config: Readonly<Config>, timeoutMs?: number): number {
  return Math.min(config.executor.job_timeout_secs * 1000, timeoutMs ?? Infinity);
}

/**
 * The scheduler's wait for `inference.generate`: the limit, then the cancel grace after which
 * the inference actor declares its worker wedged and fails the job itself, then a margin.
 */
export function inferenceReplyTimeoutMs(config: Readonly<Config>, timeoutMs?: number): number {
  return jobRunLimitMs(config, timeoutMs) + DEFAULT_CANCEL_GRACE_MS + REPLY_MARGIN_MS;
}

/**
 * What a submitter of `scheduler.submit` should wait: the time it is prepared to let the job
 * queue, plus everything the scheduler itself may wait for the inference actor.
 */
export function submitReplyTimeoutMs(config: Readonly<Config>, job: { timeout_ms?: number }, queueWaitMs: number): number {
  return queueWaitMs + inferenceReplyTimeoutMs(config, job.timeout_ms) + REPLY_MARGIN_MS;
}
