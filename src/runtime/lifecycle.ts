// The start of an actor's life, shared by every machine that has one: a `starting`-like state
// invokes the actor's async start; done → the first working state and `ctx.ready()`; failed →
// the final `failed` state, which the runner reports as a crash with the start's error (so the
// supervisor sees the actor fail, and an operator sees `failed` before it is restarted).
//
//   const life = lifecycle(ctx, start);
//   setup({ types, actors: { ...life.actors }, actions: { ...life.actions }, guards })
//     .createMachine({ initial: 'loading', output: life.output, states: {
//       loading: life.starting('ready'), ready: { ... }, failed: life.failed } });
//
// Any transition to `failed` on an event that carries an `error` fails the actor with that
// error the same way (e.g. the inference worker that died). `life.poke()` sends the machine an `actor.changed` event from outside a
// transition (a promise that settled, a callback), so guarded `always` transitions, which
// derive the state from what the actor holds, are evaluated again.
import { fromCallback, fromPromise } from 'xstate';

/** What a machine that reached `failed` outputs; the runner turns it into a crash. */
export interface FailedOutput { crashed: unknown }

export const isFailedOutput = (o: unknown): o is FailedOutput => typeof o === 'object' && o !== null && 'crashed' in o;

/** The event `poke()` sends. Handle it nowhere: it exists to re-run `always` guards. */
export type ChangedEvent = { type: 'actor.changed' };

export function lifecycle(ctx: { ready(): void }, start: () => Promise<unknown> = async () => undefined) {
  let failure: { error: unknown } | undefined;
  let sendBack: ((e: ChangedEvent) => void) | undefined;
  return {
    actors: {
      start: fromPromise(start),
      /** Invoke at the root (`invoke: { src: 'changes' }`) for poke() to reach the machine. */
      changes: fromCallback<ChangedEvent>(({ sendBack: send }) => {
        sendBack = send;
        return () => { sendBack = undefined; };
      }),
    },
    actions: {
      ready: () => ctx.ready(),
      /** Record the event's error as the reason for `failed`. */
      recordFailure: ({ event }: { event: unknown }) => {
        failure ??= { error: (event as { error?: unknown }).error ?? new Error('failed') };
      },
    },
    /** The machine's `output`: present once it failed. */
    output: (): FailedOutput | undefined => (failure ? { crashed: failure.error } : undefined),
    /** A state that runs the start; `target` once it resolved, `failed` if it threw. */
    starting: <T extends string>(target: T) => ({
      invoke: { src: 'start' as const, onDone: { target, actions: 'ready' as const }, onError: { target: 'failed' as const } },
    }),
    /** The final state of a failed actor (its crash follows at once). */
    failed: { type: 'final' as const, entry: 'recordFailure' as const },
    /** Re-evaluate the guarded transitions now (from outside a transition). */
    poke: () => { sendBack?.({ type: 'actor.changed' }); },
  };
}
