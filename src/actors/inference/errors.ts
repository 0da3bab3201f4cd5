// Failures of an inference actor, one class per kind with a stable `name` and a registry code
// (errors/registry.ts). Model file failures are ModelLoadError / ResourceExhaustedError from src/models.

/** A generate request the actor refuses before running it (bad parameters, duplicate id). */
import { CodedError } from '../../errors/registry.ts';
export class InvalidJobError extends CodedError {
  override readonly name = 'InvalidJobError';
  constructor(readonly jobId: string, what: string) {
    super('invalid_job', `invalid job ${JSON.stringify(jobId)}: ${what}`);
  }
}

/** The pool's worker thread died or stopped answering: the actor fails its jobs and crashes. */
export class InferenceWorkerError extends CodedError {
  override readonly name = 'InferenceWorkerError';
  constructor(readonly model: string, reason: string, options?: { cause?: unknown }) {
    super('worker_crashed', `inference worker for ${model} failed: ${reason}`, options);
  }
}
