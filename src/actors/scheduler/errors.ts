// Why the scheduler refuses a job, one class per kind with a stable `name` and `code` (callers
// branch on err.name; the message is the reason a client is shown). A full queue is
// QueueFullError (queue.ts); bad parameters are the inference actor's InvalidJobError, so a job
// refused here or there reads the same.
export { QueueFullError } from './queue.ts';
export { InvalidJobError } from '../inference/errors.ts';

export class UnknownModelError extends Error {
  override readonly name = 'UnknownModelError';
  readonly code = 'unknown_model';
  constructor(readonly model: string, served: readonly string[]) {
    super(`unknown model ${model}; this node serves: ${served.length > 0 ? served.join(', ') : 'no models'}`);
  }
}

/** The node is draining (shutting down gracefully): it takes no new job; offer it elsewhere. */
export class DrainingError extends Error {
  override readonly name = 'DrainingError';
  readonly code = 'draining';
  constructor() {
    super('this node is draining (shutting down) and takes no new jobs; offer the job to another node');
  }
}
export { DRAIN_REASON } from '../../protocol/receipt-body.ts';
