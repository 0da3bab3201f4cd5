// The scheduler actor of DESIGN.md §1: owns the node's job queue (bounded by
// executor.max_queue_size). Executors take work from it with scheduler.next.
import { setup } from 'xstate';
import { defineActor } from '../../runtime/actor.ts';
import type { QueueStatus } from '../network/messages.ts';
import { FairQueue } from './queue.ts';
import type { EnqueueResult, SchedulerIn } from './messages.ts';

export default defineActor({
  machine: (ctx) => {
    const queue = new FairQueue(ctx.config.executor.max_queue_size);
    const status = (): QueueStatus => ({ depth: queue.depth, capacity: queue.capacity, busy_slots: 0, slots: 0 });
    return setup({ types: { events: {} as SchedulerIn } }).createMachine({
      id: 'scheduler',
      initial: 'running',
      states: {
        running: {
          entry: () => ctx.ready(),
          on: {
            'scheduler.enqueue': {
              actions: ({ event }) => {
                let r: EnqueueResult;
                try {
                  queue.push({ ...event.job, enqueuedAt: ctx.clock.now() });
                  r = { accepted: true, depth: queue.depth };
                } catch (err) {
                  r = { accepted: false, reason: (err as Error).message };
                }
                ctx.reply(event.replyTo, r);
              },
            },
            'scheduler.next': { actions: ({ event }) => ctx.reply(event.replyTo, queue.pop(ctx.clock.now()) ?? null) },
            'scheduler.status': { actions: ({ event }) => ctx.reply(event.replyTo, status()) },
            'scheduler.set_capacity': {
              actions: ({ event }) => { queue.capacity = Math.max(1, Math.floor(event.capacity)); ctx.reply(event.replyTo, status()); },
            },
          },
        },
      },
    });
  },
});
