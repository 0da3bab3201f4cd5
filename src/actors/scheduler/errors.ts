// Why the scheduler refuses a job, one class per kind with a stable `name` and a registry code
// (errors/registry.ts; the message is the reason a client is shown). A full queue is
// QueueFullError (queue.ts); bad parameters are the inference actor's InvalidJobError, so a job
// refused here or there reads the same.
import { CodedError } from '../../errors/registry.ts';
export { QueueFullError } from './queue.ts';
export { InvalidJobError } from '../inference/errors.ts';

export class UnknownModelError extends CodedError {
  override readonly name = 'UnknownModelError';
  constructor(readonly model: string, served: readonly string[]) {
    super('unknown_model', `unknown model ${model}; this node serves: ${served.length > 0 ? served.join(', ') : 'no models'}`);
  }
}

/** The node is draining (shutting down gracefully): it takes no new job; offer it elsewhere. */
export class DrainingError extends CodedError {
  override readonly name = 'DrainingError';
  constructor() {
    super('draining', 'this node is draining (shutting down) and takes no new jobs; offer the job to another node');
  }
}
export { DRAIN_REASON } from '../../protocol/receipt-body.ts';
