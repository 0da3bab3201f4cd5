// The one piece of code that runs an actor, whichever host it is on: it turns the MessagePort
// protocol (Down/Up in actor.ts) into xstate events and an ActorContext. Inline and thread
// hosts both call runActor, which is what makes them interchangeable.
import { createActor, type AnyActorRef } from 'xstate';
import type { MessagePort } from 'node:worker_threads';
import type { ActorContext, ActorModule, ActorSpec, Down, Mail, Message, Placement, Up } from './actor.ts';
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

/** `via`: the name of the actor whose direct link carried the request (undefined: the supervisor routed it). */
interface Pending { resolve(v: unknown): void; reject(e: Error): void; timer: Timer; to: string; type: string; via?: string }

/**
 * A direct channel to another threaded actor. What arrives on it is held until that actor's
 * `linked` marker comes through the supervisor: everything it sent the old way is in by then, so
 * the two paths never reorder its messages.
 */
interface Link { port: MessagePort; open: boolean; held: Mail[] }

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
  const links = new Map<string, Link>();
  /** Requests that came over a link, by the replyTo id the machine got: where the answer goes. */
  const linkAsks = new Map<string, { link: Link; id: string }>();
  let linkSeq = 0;
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
    for (const l of links.values()) l.port.close();
    links.clear();
    linkAsks.clear();
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
  const send = (to: string, msg: Message) => {
    if (finished) return;
    const link = links.get(to);
    if (link) link.port.postMessage({ k: 'event', from: spec.name, msg } satisfies Mail);
    else post({ k: 'send', to, msg });
  };
  const request = (to: string, msg: Message, timeoutMs: number) => {
    const p = new Promise<unknown>((resolve, reject) => {
      if (finished) { reject(new ActorDownError(spec.name, 'stopped')); return; }
      const id = `${spec.name}#${++seq}`;
      const timer = clock.setTimeout(() => { pending.delete(id); reject(new RequestTimeoutError(to, msg.type, timeoutMs)); }, timeoutMs);
      const link = links.get(to);
      pending.set(id, { resolve, reject, timer, to, type: msg.type, ...(link ? { via: to } : {}) });
      if (link) link.port.postMessage({ k: 'request', id, from: spec.name, msg } satisfies Mail);
      else post({ k: 'request', id, to, msg });
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
  // An answer goes back the way its request came: over a link, or through the supervisor.
  const answerWith = (id: string, m: { ok: true; value: unknown } | { ok: false; error: ReturnType<typeof serializeError> }) => {
    if (finished) return;
    const asked = linkAsks.get(id);
    if (asked) {
      linkAsks.delete(id);
      asked.link.port.postMessage({ k: 'reply', id: asked.id, ...m } satisfies Mail);
    } else {
      post({ k: 'reply', id, ...m });
    }
  };
  const reply = (id: string, value: unknown) => answerWith(id, { ok: true, value });
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
    replyError: (id, err) => answerWith(id, { ok: false, error: serializeError(err) }),
    // After the transition that called it has been published (a microtask later), so the
    // supervisor knows the actor's state by the time it counts the actor as running.
    ready: () => { queueMicrotask(() => { if (!finished) post({ k: 'ready' }); }); },
    own: (dispose) => { disposers.push(dispose); },
  };

  /** Mail from another actor; `link` when it came over a direct link (its requests are answered there). */
  function receive(m: Mail, link?: Link) {
    if (!actor) return;
    switch (m.k) {
      case 'event': actor.send({ ...m.msg, from: m.from }); break;
      case 'request': {
        let replyTo = m.id;
        if (link) {
          replyTo = `link#${++linkSeq}`;
          linkAsks.set(replyTo, { link, id: m.id });
        }
        actor.send({ ...m.msg, from: m.from, replyTo });
        break;
      }
      case 'reply': {
        const p = pending.get(m.id);
        if (!p) return;
        pending.delete(m.id);
        clock.clearTimeout(p.timer);
        if (m.ok) p.resolve(m.value); else p.reject(deserializeError(m.error!));
        break;
      }
    }
  }

  function onLinkMessage(name: string, link: Link, m: Mail) {
    if (finished || links.get(name) !== link) return;
    if (link.open) receive(m, link); else link.held.push(m);
  }

  function onMessage(m: Down) {
    if (finished || !actor) {
      if (m.k === 'link') m.port.close();
      return;
    }
    switch (m.k) {
      case 'event': case 'request': case 'reply': receive(m); break;
      case 'link': {
        links.get(m.name)?.port.close();
        const link: Link = { port: m.port, open: false, held: [] };
        links.set(m.name, link);
        m.port.on('message', (lm: Mail) => onLinkMessage(m.name, link, lm));
        // Everything sent to m.name the old way is ahead of this marker on the supervisor's path.
        post({ k: 'linked', to: m.name });
        break;
      }
      case 'linked': {
        const link = links.get(m.from);
        if (!link || link.open) break;
        link.open = true;
        for (const h of link.held.splice(0)) receive(h, link);
        break;
      }
      case 'unlink': {
        const link = links.get(m.name);
        if (!link) break;
        links.delete(m.name);
        link.port.close();
        for (const [id, a] of linkAsks) if (a.link === link) linkAsks.delete(id);
        for (const [id, p] of pending) {
          if (p.via !== m.name) continue;
          pending.delete(id);
          clock.clearTimeout(p.timer);
          p.reject(new ActorDownError(m.name, m.reason));
        }
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
