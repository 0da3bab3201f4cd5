// Failures of an inference actor, one class per kind with a stable `name` (callers branch on
// err.name). Model file failures are ModelLoadError / ResourceExhaustedError from src/models.

/** A generate request the actor refuses before running it (bad parameters, duplicate id). */
export class InvalidJobError extends Error {
  override readonly name = 'InvalidJobError';
  readonly code = 'invalid_job';
  constructor(readonly jobId: string, what: string) {
    super(`invalid job ${JSON.stringify(jobId)}: ${what}`);
  }
}

/** The pool's worker thread died or stopped answering: the actor fails its jobs and crashes. */
export class InferenceWorkerError extends Error {
  override readonly name = 'InferenceWorkerError';
  readonly code = 'worker_crashed';
  constructor(readonly model: string, reason: string, options?: { cause?: unknown }) {
    super(`inference worker for ${model} failed: ${reason}`, options);
  }
}
