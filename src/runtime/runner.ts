// The one piece of code that runs an actor, whichever host it is on: it turns the MessagePort
// protocol (Down/Up in actor.ts) into xstate events and an ActorContext. Inline and thread
// hosts both call runActor, which is what makes them interchangeable.
import { createActor, type AnyActorRef } from 'xstate';
import type { ActorContext, ActorModule, ActorSpec, Down, Message, Placement, Up } from './actor.ts';
import type { Clock, Timer } from './clock.ts';
import type { Logger } from './log.ts';
import type { Config } from '../config/types.ts';
import { ActorDownError, RequestTimeoutError, deserializeError, serializeError } from './errors.ts';
import { isFailedOutput } from './lifecycle.ts';
import { machineJson } from './describe.ts';
import type { ActorPort } from './local-port.ts';

export interface RunnerEnv {
  spec: ActorSpec;
  port: ActorPort<Down>;
  config: Readonly<Config>;
  clock: Clock;
  log: Logger;
  placement: Placement;
  /** Receives the function that crashes the actor through its cleanup (used by a thread host). */
  crashHook?: (crash: (err: unknown) => void) => void;
}

interface Pending { resolve(v: unknown): void; reject(e: Error): void; timer: Timer; to: string; type: string }

export async function loadActorModule(module: string): Promise<ActorModule> {
  const mod = (await import(module)) as { default?: ActorModule };
  if (!mod.default || typeof mod.default.machine !== 'function') {
    throw new Error(`${module} has no default export with a machine() factory`);
  }
  return mod.default;
}

/**
 * Runs the actor until it stops or crashes. Resolves when it has stopped (cleanly or not) and
 * its resources are released; the host learns what happened from the Up messages.
 */
/** Requests of this process's actors that timed out or were cut by their actor's stop (see runActor). */
export const requestEvents = { timed_out: 0, cut_by_stop: 0 };

export async function runActor(mod: ActorModule, env: RunnerEnv): Promise<void> {
  const { spec, port, clock, log } = env;
  const post = (m: Up) => port.postMessage(m);
  const pending = new Map<string, Pending>();
  const disposers: Array<() => unknown> = [];
  let seq = 0;
  let finished = false;
  let actor: AnyActorRef | undefined;
  let lastState = '';
  const { promise: done, resolve: finish } = Promise.withResolvers<void>();

  const release = async () => {
    for (const d of disposers.splice(0).reverse()) {
      try { await d(); } catch (err) { log.warn({ err }, 'error while releasing a resource'); }
    }
    for (const [id, p] of pending) { clock.clearTimeout(p.timer); p.reject(new ActorDownError(spec.name, 'stopped')); pending.delete(id); }
  };
  const end = async (how: { crashed?: unknown }) => {
    if (finished) return;
    finished = true;
    // A clean stop first tells the machine, so a state such as `unloading` is what the actor
    // shows while its resources are released.
    if (how.crashed === undefined && actor?.getSnapshot().status === 'active') {
      try { actor.send({ type: 'sys.stopping', from: spec.name }); } catch { /* the machine may throw in an action */ }
    }
    await release();
    try { actor?.stop(); } catch { /* already stopped */ }
    port.off('message', onMessage);
    post(how.crashed === undefined ? { k: 'stopped' } : { k: 'crashed', error: serializeError(how.crashed) });
    finish();
  };
  env.crashHook?.((err) => { void end({ crashed: err }); });

  // The wire is untyped (structured clones); ActorContext types these from the protocols.
  const send = (to: string, msg: Message) => { if (!finished) post({ k: 'send', to, msg }); };
  const request = (to: string, msg: Message, timeoutMs: number) => {
    const p = new Promise<unknown>((resolve, reject) => {
      if (finished) { reject(new ActorDownError(spec.name, 'stopped')); return; }
      const id = `${spec.name}#${++seq}`;
      const timer = clock.setTimeout(() => { pending.delete(id); reject(new RequestTimeoutError(to, msg.type, timeoutMs)); }, timeoutMs);
      pending.set(id, { resolve, reject, timer, to, type: msg.type });
      post({ k: 'request', id, to, msg });
    });
    // A request that timed out, or was cut by its actor's stop, is an event of a loaded or
    // restarting node, not a crash of the process: counted and logged here even when the
    // caller had already let go of it (a stopped actor's pending requests, a fire-and-forget
    // ask); the caller still gets the rejection when it listens.
    p.catch((err: unknown) => {
      const code = (err as { code?: string }).code;
      if (code === 'request_timeout') requestEvents.timed_out++;
      else if (code === 'actor_down') requestEvents.cut_by_stop++;
      else return;
      log.debug({ to, type: msg.type, err: (err as Error).message }, 'Request failed');
    });
    return p;
  };
  const reply = (id: string, value: unknown) => { if (!finished) post({ k: 'reply', id, ok: true, value }); };
  const ctx: ActorContext = {
    name: spec.name,
    args: spec.args,
    config: env.config,
    clock,
    log,
    placement: env.placement,
    send: send as ActorContext['send'],
    request: request as ActorContext['request'],
    emit: send,
    answer: (event, value) => reply(event.replyTo, value),
    reply,
    replyError: (id, err) => { if (!finished) post({ k: 'reply', id, ok: false, error: serializeError(err) }); },
    // After the transition that called it has been published (a microtask later), so the
    // supervisor knows the actor's state by the time it counts the actor as running.
    ready: () => { queueMicrotask(() => { if (!finished) post({ k: 'ready' }); }); },
    own: (dispose) => { disposers.push(dispose); },
  };

  function onMessage(m: Down) {
    if (finished || !actor) return;
    switch (m.k) {
      case 'event': actor.send({ ...m.msg, from: m.from }); break;
      case 'request': actor.send({ ...m.msg, from: m.from, replyTo: m.id }); break;
      case 'reply': {
        const p = pending.get(m.id);
        if (!p) return;
        pending.delete(m.id);
        clock.clearTimeout(p.timer);
        if (m.ok) p.resolve(m.value); else p.reject(deserializeError(m.error!));
        break;
      }
      case 'stop': void end({}); break;
      // An inline crash on purpose: the actor dies with this exception, as it would from a bug.
      case 'crash': if (!m.uncaught) void end({ crashed: new Error(m.reason) }); break;
    }
  }

  try {
    const machine = mod.machine(ctx);
    post({ k: 'machine', definition: machineJson(machine) });
    // Delayed transitions (`after`) run on the actor's clock, virtual in the simulator.
    actor = createActor(machine, { clock: { setTimeout: (fn, ms) => clock.setTimeout(fn, ms), clearTimeout: (t) => clock.clearTimeout(t as Timer) } });
  } catch (err) {
    await end({ crashed: err });
    return done;
  }
  actor.subscribe({
    next: (snap) => {
      const value = typeof snap.value === 'string' ? snap.value : JSON.stringify(snap.value);
      if (value !== lastState) { lastState = value; post({ k: 'state', value }); }
      // A machine that reached a final `failed` state (lifecycle.ts) crashed with its error.
      if (snap.status === 'done') void end(isFailedOutput(snap.output) ? { crashed: snap.output.crashed } : {});
    },
    error: (err) => { void end({ crashed: err }); },
  });
  port.on('message', onMessage);
  actor.start();
  return done;
}
