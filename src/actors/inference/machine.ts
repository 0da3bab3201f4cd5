// The inference actor's machine:
//
//   loading → ready ⇄ generating → unloading
//      ↘        ↘        ↘
//        failed (final: the actor crashes with the reason)
//
// loading validates and hashes the file, starts the pool worker and loads the model in it; a
// model that cannot load ends in `failed`, so a node with a bad model fails to start. `ready`
// holds no job, `generating` holds at least one (running or waiting for a sequence): the state
// follows the engine's book of jobs. A worker that dies later ends in `failed` too, so the
// supervisor restarts the actor and the restart reloads the model. A clean stop passes through
// `unloading` while the model is released.
import { fromCallback, setup } from 'xstate';
import type { ActorContext } from '../../runtime/actor.ts';
import { lifecycle, type ChangedEvent } from '../../runtime/lifecycle.ts';
import type { Inbox } from '../../runtime/protocol.ts';
import { InferenceEngine, type InferenceArgs } from './engine.ts';
import type { InferenceWorkerError } from './errors.ts';
import type { InferenceProtocol } from './messages.ts';

type WorkerDied = { type: 'inference.worker_died'; error: InferenceWorkerError };
type MachineEvent = Inbox<InferenceProtocol> | ChangedEvent | WorkerDied;

export function inferenceMachine(ctx: ActorContext<InferenceArgs, InferenceProtocol>) {
  const { args, config } = ctx;
  // Set once the lifecycle exists; the engine reports every job taken or ended through it.
  let changed = () => {};
  const engine = new InferenceEngine({
    args,
    contextSize: args.contextSize ?? config.model.max_context_length,
    jobTimeoutMs: args.jobTimeoutMs ?? config.executor.job_timeout_secs * 1000,
    clock: ctx.clock,
    log: ctx.log,
    reply: (replyTo, result) => ctx.reply(replyTo, result),
    replyError: (replyTo, err) => ctx.replyError(replyTo, err),
    stream: (to, ev) => ctx.emit(to, ev),
    changed: () => changed(),
  });
  ctx.own(() => engine.close());
  const life = lifecycle(ctx, () => engine.load());
  changed = life.poke;

  const status = { actions: ({ event }: { event: Extract<MachineEvent, { type: 'inference.status' }> }) => ctx.answer(event, engine.status()) };
  /** What `ready` and `generating` both answer. */
  const serving = {
    'inference.status': status,
    'inference.generate': { actions: ({ event }: { event: Extract<MachineEvent, { type: 'inference.generate' }> }) => engine.generate(event, event.from, event.replyTo) },
    'inference.cancel': {
      actions: ({ event }: { event: Extract<MachineEvent, { type: 'inference.cancel' }> }) => {
        const cancelled = engine.cancel(event.job_id);
        if (event.replyTo !== undefined) ctx.answer(event, { job_id: event.job_id, cancelled });
      },
    },
    'inference.debug.kill_worker': {
      actions: ({ event }: { event: Extract<MachineEvent, { type: 'inference.debug.kill_worker' }> }) => {
        if (!args.debug) { ctx.replyError(event.replyTo, new Error('inference.debug.kill_worker needs the actor arg debug: true')); return; }
        engine.killWorker().then((killed) => ctx.answer(event, { killed }), (err) => ctx.replyError(event.replyTo, err));
      },
    },
    // Every job has been answered (failed) by now; failing hands recovery to the supervisor.
    'inference.worker_died': { target: 'failed' },
    'sys.stopping': { target: 'unloading' },
  } as const;

  return setup({
    types: { events: {} as MachineEvent },
    actors: {
      ...life.actors,
      watchWorker: fromCallback<MachineEvent>(({ sendBack }) => {
        engine.onWorkerDeath((error) => sendBack({ type: 'inference.worker_died', error }));
      }),
    },
    actions: life.actions,
    guards: { holdsJobs: () => engine.busy > 0, holdsNone: () => engine.busy === 0 },
  }).createMachine({
    id: ctx.name,
    initial: 'loading',
    output: life.output,
    invoke: [{ src: 'changes' }, { src: 'watchWorker' }],
    states: {
      loading: life.starting('ready'),
      ready: { always: { guard: 'holdsJobs', target: 'generating' }, on: serving },
      generating: { always: { guard: 'holdsNone', target: 'ready' }, on: serving },
      // Requests that arrive now are failed by the supervisor once the actor has stopped.
      unloading: { on: { 'inference.status': status } },
      failed: life.failed,
    },
  });
}
