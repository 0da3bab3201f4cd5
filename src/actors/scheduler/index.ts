// The scheduler actor: the node's job queue (fair between clients, priority
// with aging, bounded by executor.max_queue_size), one slot per sequence of each served model,
// dispatch to the `inference:<model>` actors, and the load manager that decides on claims.
import { defineActor } from '../../runtime/actor.ts';
import { schedulerMachine, type SchedulerArgs } from './machine.ts';
import { osReadings } from './load.ts';
import type { SchedulerProtocol } from './messages.ts';

export type { SchedulerArgs } from './machine.ts';
export type * from './messages.ts';
export { QueueFullError, InvalidJobError, UnknownModelError, DrainingError } from './errors.ts';
export { submitReplyTimeoutMs } from './timeouts.ts';
export default defineActor<SchedulerArgs | undefined, SchedulerProtocol>({ machine: (ctx) => schedulerMachine(ctx, osReadings) });
