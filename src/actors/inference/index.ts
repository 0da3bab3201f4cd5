// The `inference:<model>` actor: one per loaded GGUF model, a piscina pool
// whose one long-lived worker holds the model and batches concurrent jobs as sequences of one context.
import { defineActor } from '../../runtime/actor.ts';
import { inferenceMachine } from './machine.ts';
import type { InferenceArgs } from './engine.ts';
import type { InferenceProtocol } from './messages.ts';

export type { InferenceArgs } from './engine.ts';
export { DEFAULT_SEQUENCES } from './engine.ts';
export { InvalidJobError, InferenceWorkerError } from './errors.ts';
export type * from './messages.ts';
export default defineActor<InferenceArgs, InferenceProtocol>({ machine: inferenceMachine });
