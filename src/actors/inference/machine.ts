// The inference actor's machine: loading (validate, hash, start the pool worker, load the model)
// → ready (generate / cancel / status). A model that cannot load crashes the actor at start, so
// a node with a bad model fails to start; a worker that dies later crashes it, so the
// supervisor restarts it and the restart reloads the model.
import { fromCallback, fromPromise, setup } from 'xstate';
import type { ActorContext } from '../../runtime/actor.ts';
import { InferenceEngine, type InferenceArgs } from './engine.ts';
import type { InferenceWorkerError } from './errors.ts';
import type { CancelResult, InferenceIn, InferenceProtocol } from './messages.ts';

type MachineEvent = InferenceIn | { type: 'inference.worker_died'; error: InferenceWorkerError };

export function inferenceMachine(ctx: ActorContext<InferenceArgs, InferenceProtocol>) {
  const { args, config } = ctx;
  const engine = new InferenceEngine({
    args,
    contextSize: args.contextSize ?? config.model.max_context_length,
    jobTimeoutMs: args.jobTimeoutMs ?? config.executor.job_timeout_secs * 1000,
    clock: ctx.clock,
    log: ctx.log,
    reply: (replyTo, result) => ctx.reply(replyTo, result),
    replyError: (replyTo, err) => ctx.replyError(replyTo, err),
    stream: (to, ev) => ctx.emit(to, ev),
  });
  ctx.own(() => engine.close());

  return setup({
    types: { events: {} as MachineEvent },
    actors: {
      loadModel: fromPromise(() => engine.load()),
      watchWorker: fromCallback<MachineEvent>(({ sendBack }) => {
        engine.onWorkerDeath((error) => sendBack({ type: 'inference.worker_died', error }));
      }),
    },
    actions: {
      ready: () => ctx.ready(),
      fail: (_, params: { error: unknown }) => { throw params.error; },
    },
  }).createMachine({
    id: ctx.name,
    initial: 'loading',
    states: {
      loading: {
        invoke: {
          src: 'loadModel',
          onDone: { target: 'ready', actions: 'ready' },
          onError: { actions: { type: 'fail', params: ({ event }) => ({ error: event.error }) } },
        },
      },
      ready: {
        invoke: { src: 'watchWorker' },
        on: {
          'inference.generate': { actions: ({ event }) => engine.generate(event, event.from, event.replyTo) },
          'inference.cancel': {
            actions: ({ event }) => {
              const cancelled = engine.cancel(event.job_id);
              if (event.replyTo) ctx.reply(event.replyTo, { job_id: event.job_id, cancelled } satisfies CancelResult);
            },
          },
          'inference.status': { actions: ({ event }) => ctx.reply(event.replyTo, engine.status()) },
          'inference.debug.kill_worker': {
            actions: ({ event }) => {
              if (!args.debug) { ctx.replyError(event.replyTo, new Error('inference.debug.kill_worker needs the actor arg debug: true')); return; }
              engine.killWorker().then((killed) => ctx.reply(event.replyTo, { killed }), (err) => ctx.replyError(event.replyTo, err));
            },
          },
          // Every job has been answered (failed) by now; crashing hands recovery to the supervisor.
          'inference.worker_died': { actions: { type: 'fail', params: ({ event }) => ({ error: event.error }) } },
        },
      },
    },
  });
}
