// What the scheduler actor accepts and answers.
import type { RequestEvent } from '../../runtime/actor.ts';
import type { Priority } from './queue.ts';

export interface JobTicket { id: string; client: string; priority: Priority; payload: unknown }

export type EnqueueResult = { accepted: true; depth: number } | { accepted: false; reason: string };

export type SchedulerIn =
  | RequestEvent<{ type: 'scheduler.enqueue'; job: JobTicket }>
  | RequestEvent<{ type: 'scheduler.next' }>
  | RequestEvent<{ type: 'scheduler.status' }>
  | RequestEvent<{ type: 'scheduler.set_capacity'; capacity: number }>;
