// An Erlang/OTP-style supervisor: starts actors in order, restarts them by strategy
// (one_for_one / one_for_all / rest_for_one) and restart type (permanent / transient /
// temporary), gives up and escalates past its restart intensity, stops in reverse order.
// It is also the router: actors address each other by name through its registry. Two threaded
// actors that both run get a direct MessageChannel (a link) as well, so their messages skip the
// hop through this thread; a link lives as long as both incarnations do.
import { EventEmitter } from 'node:events';
import { MessageChannel } from 'node:worker_threads';
import type { ActorSpec, Down, Message, Placement, SystemEvent, Up } from './actor.ts';
import type { Clock } from './clock.ts';
import type { Logger } from './log.ts';
import type { Host, RunningActor } from './host.ts';
import type { Call, DefineProtocol, SupervisorExtensions } from './protocol.ts';
import {
  ActorDownError, ActorStartError, DuplicateActorError, KillRefusedError, RequestTimeoutError, SupervisorGaveUpError, UnknownActorError, UnknownRequestError,
  deserializeError, serializeError, type SerializedError,
} from './errors.ts';

export type Strategy = 'one_for_one' | 'one_for_all' | 'rest_for_one';
export type KillMode = 'terminate' | 'throw';

export interface ChildSpec extends ActorSpec { placement: Placement }

export interface SupervisorOptions {
  strategy: Strategy;
  /** At most this many restarts within periodMs; one more and the supervisor gives up. */
  intensity: number;
  periodMs: number;
  children: ChildSpec[];
  hosts: Record<Placement, Host>;
  clock: Clock;
  log: Logger;
  /** Max messages held for an actor that is (re)starting. */
  mailboxLimit?: number;
  /**
   * Requests to SUPERVISOR of other types than SupervisorRequest's, answered by whoever
   * composed the tree (the node answers `node.drain`); undefined: not one of theirs either.
   */
  answer?(msg: Message): Promise<unknown> | undefined;
}

export type ChildStatus = 'starting' | 'running' | 'restarting' | 'stopped';

export interface ActorInfo {
  name: string;
  placement: Placement;
  restart: ActorSpec['restart'];
  status: ChildStatus;
  /** The machine's current state value, e.g. 'running'. */
  state: string;
  restarts: number;
  crashes: number;
}

/** What the supervisor emits about a child; `state` (event 'state') is its machine's new state. */
export interface ActorEvent { name: string; reason?: string; error?: SerializedError; state?: string }

interface Child {
  spec: ChildSpec;
  run?: RunningActor;
  status: ChildStatus;
  state: string;
  restarts: number;
  crashes: number;
  /** Set while the supervisor itself is stopping this child, so its exit is not a crash. */
  stopping: boolean;
  mailbox: Down[];
  /** Its machine's definition (xstate JSON), as its latest start reported it. */
  machine?: unknown;
}

/** `supervisor.machine`: an actor's machine definition (xstate JSON, for a visualizer) and where it is now. */
export interface MachineInfo { name: string; status: ChildStatus; state: string; definition: unknown }

/** A request in flight; `run` is the asking actor's incarnation (a restarted actor is not answered). */
interface Route { origin: string | null; run?: RunningActor; localId: string; target: string }

/**
 * The supervisor's own address: actors ask it what only it knows, e.g.
 * `ctx.request<ActorInfo[]>(SUPERVISOR, { type: 'supervisor.actors' }, ms)`.
 */
export const SUPERVISOR = '$supervisor' as const;

/**
 * What a request to SUPERVISOR may ask:
 * - `supervisor.actors` → ActorInfo[];
 * - `supervisor.machine` → MachineInfo (UnknownActorError; ActorDownError if it never started);
 * - `supervisor.kill` → KillReply once the actor has died (its restart follows, as after any crash);
 * - `supervisor.restart` → ActorInfo once the actor runs again;
 * - `supervisor.add` → ActorInfo once a new child runs (see add());
 * - `supervisor.remove` → null once the child has stopped and left the tree (see remove());
 * - `supervisor.update_args` → null: the arguments the child's next (re)start gets (see updateArgs()).
 * Unknown names fail with UnknownActorError; killing an actor that is not running, with ActorDownError.
 * An actor that kills or restarts itself this way gets no answer: the incarnation that asked is gone.
 */
export type SupervisorRequest =
  | { type: 'supervisor.actors' }
  | { type: 'supervisor.machine'; name: string }
  | { type: 'supervisor.kill'; name: string; mode?: KillMode }
  | { type: 'supervisor.restart'; name: string }
  | { type: 'supervisor.add'; spec: ChildSpec }
  | { type: 'supervisor.remove'; name: string }
  | { type: 'supervisor.update_args'; name: string; args: Record<string, unknown> };

/** How an actor was killed: threaded actors die by `mode`, inline ones always by an exception. */
export interface KillReply { name: string; placement: Placement; mode: KillMode }

type SupReq<T extends SupervisorRequest['type']> = Extract<SupervisorRequest, { type: T }>;
/** The supervisor's own protocol, plus what the tree's composer answers in its name. */
type SupervisorCalls = DefineProtocol<
  | Call<SupReq<'supervisor.actors'>, ActorInfo[]>
  | Call<SupReq<'supervisor.machine'>, MachineInfo>
  | Call<SupReq<'supervisor.kill'>, KillReply>
  | Call<SupReq<'supervisor.restart'>, ActorInfo>
  | Call<SupReq<'supervisor.add'>, ActorInfo>
  | Call<SupReq<'supervisor.remove'>, null>
  | Call<SupReq<'supervisor.update_args'>, null>
>['requests'] & SupervisorExtensions;
export type SupervisorProtocol = {
  /** Mapped, so the augmentable interface reads as a plain object type. */
  requests: { [K in keyof SupervisorCalls]: SupervisorCalls[K] };
  events: never;
  emits: never;
};

declare module './protocol.ts' {
  interface ActorProtocols { $supervisor: SupervisorProtocol }
}

export class Supervisor extends EventEmitter {
  private readonly children: Child[];
  private readonly byName = new Map<string, Child>();
  private readonly routes = new Map<string, Route>();
  private readonly own = new Map<string, { resolve(v: unknown): void; reject(e: Error): void }>();
  private restartTimes: number[] = [];
  private seq = 0;
  private ops: Promise<unknown> = Promise.resolve();
  private state: 'idle' | 'running' | 'stopping' | 'stopped' | 'gave_up' = 'idle';
  readonly counters = { started: 0, crashed: 0, restarted: 0, gave_up: 0 };

  constructor(private readonly opts: SupervisorOptions) {
    super();
    this.children = opts.children.map((spec) => ({
      spec, status: 'stopped' as ChildStatus, state: 'stopped', restarts: 0, crashes: 0, stopping: false, mailbox: [],
    }));
    for (const c of this.children) {
      if (this.byName.has(c.spec.name)) throw new Error(`duplicate actor name ${c.spec.name}`);
      this.byName.set(c.spec.name, c);
    }
  }

  /** Start every child in order; if one fails to start, stop those already started and throw. */
  async start(): Promise<void> {
    this.state = 'running';
    for (const [i, c] of this.children.entries()) {
      try {
        await this.startChild(c);
      } catch (err) {
        for (const s of this.children.slice(0, i).reverse()) await this.stopChild(s);
        this.state = 'stopped';
        throw err;
      }
    }
  }

  /** Ordered shutdown: reverse of start, each child within its shutdownMs or terminated. */
  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping') return;
    this.state = 'stopping';
    await this.serial(async () => {
      for (const c of [...this.children].reverse()) await this.stopChild(c);
    });
    this.state = 'stopped';
  }

  /** Kill an actor on purpose (recovery testing). Its supervisor reacts as to any crash. */
  async kill(name: string, mode: KillMode = 'terminate'): Promise<KillReply> {
    const c = this.child(name);
    const run = c.run;
    if (!run || c.status !== 'running') throw new ActorDownError(name, `not running (${c.status})`);
    if (c.spec.native && run.placement === 'thread' && mode === 'terminate') {
      throw new KillRefusedError(`${name} holds a llama.cpp context: terminating its thread could abort the whole process (node-llama-cpp cannot be torn down mid-decode); kill it with mode=throw (it ends through its own cleanup) or restart it`);
    }
    const how: KillMode = run.placement === 'thread' ? mode : 'throw';
    if (how === 'terminate') await run.terminate();
    // A native actor's thread is not left to die by an uncaught exception either (its worker
    // would be torn down mid-decode): it crashes through its runner, which releases llama first.
    else run.post({ k: 'crash', reason: `killed on purpose (${mode})`, uncaught: run.placement === 'thread' && !c.spec.native });
    await run.exited;
    return { name, placement: run.placement, mode: how };
  }

  /** Restart an actor on purpose: a graceful stop, then a fresh start (counts as a restart). */
  async restart(name: string): Promise<ActorInfo> {
    const c = this.child(name);
    return this.serial(async () => {
      await this.stopChild(c);
      c.restarts++;
      this.counters.restarted++;
      await this.startChild(c);
      this.emit('restarted', { name, reason: 'requested' } satisfies ActorEvent);
      return this.info(c);
    });
  }

  /**
   * Add a child to the running tree, after the others (so it stops first), and start it. A child
   * that fails to start leaves no trace: the error is thrown and the name is free again. A name
   * already in the tree is refused with DuplicateActorError.
   */
  async add(spec: ChildSpec): Promise<ActorInfo> {
    return this.serial(async () => {
      if (this.state !== 'running') throw new ActorDownError(spec.name, `the supervisor is ${this.state}`);
      if (this.byName.has(spec.name)) throw new DuplicateActorError(spec.name);
      const c: Child = { spec, status: 'stopped', state: 'stopped', restarts: 0, crashes: 0, stopping: false, mailbox: [] };
      this.children.push(c);
      this.byName.set(spec.name, c);
      try {
        await this.startChild(c);
      } catch (err) {
        this.forget(c);
        throw err;
      }
      this.broadcast({ type: 'sys.actor_up', name: spec.name }, spec.name);
      return this.info(c);
    });
  }

  /**
   * Stop a child gracefully (within its shutdownMs) and take it out of the tree: it is not
   * restarted, and its name becomes unknown. Requests still routed to it fail with ActorDownError.
   */
  async remove(name: string): Promise<void> {
    const c = this.child(name);
    await this.serial(async () => {
      await this.stopChild(c);
      this.forget(c);
    });
    this.emit('removed', { name } satisfies ActorEvent);
  }

  /** Merge into a child's start arguments: what it gets on its next start or restart (the running incarnation is not told). */
  updateArgs(name: string, args: Record<string, unknown>): void {
    const c = this.child(name);
    c.spec = { ...c.spec, args: { ...(c.spec.args as Record<string, unknown> | undefined), ...args } };
  }

  send(to: string, msg: Message): void { this.deliver(to, { k: 'event', from: SUPERVISOR, msg }); }

  request<R = unknown>(to: string, msg: Message, timeoutMs: number): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const localId = `s${++this.seq}`;
      const timer = this.opts.clock.setTimeout(() => { this.own.delete(localId); reject(new RequestTimeoutError(to, msg.type, timeoutMs)); }, timeoutMs);
      this.own.set(localId, {
        resolve: (v) => { this.opts.clock.clearTimeout(timer); resolve(v as R); },
        reject: (e) => { this.opts.clock.clearTimeout(timer); reject(e); },
      });
      this.route(null, localId, to, msg);
    });
  }

  actors(): ActorInfo[] {
    return this.children.map((c) => this.info(c));
  }

  /** An actor's machine definition, as xstate JSON, and its state now. */
  machine(name: string): MachineInfo {
    const c = this.child(name);
    if (c.machine === undefined) throw new ActorDownError(name, 'it has not started yet: no machine to describe');
    return { name, status: c.status, state: c.state, definition: c.machine };
  }

  get status() { return this.state; }

  // --- internals -------------------------------------------------------------------------

  private info(c: Child): ActorInfo {
    return {
      name: c.spec.name, placement: c.spec.placement, restart: c.spec.restart,
      status: c.status, state: c.state, restarts: c.restarts, crashes: c.crashes,
    };
  }

  private forget(c: Child): void {
    this.children.splice(this.children.indexOf(c), 1);
    this.byName.delete(c.spec.name);
  }

  private child(name: string): Child {
    const c = this.byName.get(name);
    if (!c) throw new UnknownActorError(name);
    return c;
  }

  /** Supervisor operations (restarts, stop) never interleave. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.ops.then(fn, fn);
    this.ops = p.catch(() => undefined);
    return p;
  }

  private async startChild(c: Child): Promise<void> {
    const { spec } = c;
    c.status = c.status === 'stopped' && c.restarts === 0 && c.crashes === 0 ? 'starting' : 'restarting';
    c.stopping = false;
    const run = this.opts.hosts[spec.placement].start(spec);
    c.run = run;
    const { promise: ready, resolve: onReady, reject: onFail } = Promise.withResolvers<void>();
    run.onUp((m) => {
      if (m.k === 'ready') onReady();
      else if (m.k === 'state') { c.state = m.value; this.emit('state', { name: spec.name, state: m.value } satisfies ActorEvent); }
      else if (m.k === 'machine') c.machine = m.definition;
      this.onUp(c, m, run);
    });
    void run.exited.then((exit) => {
      onFail(new ActorStartError(spec.name, exit.crashed ?? { name: 'Error', message: 'stopped before it was ready' }));
      // Only a running actor's exit is the supervisor's to handle; a failed start is its caller's.
      if (c.run === run && c.status === 'running') void this.onExit(c, exit.crashed);
    });
    try {
      await ready;
    } catch (err) {
      c.status = 'stopped';
      c.state = 'crashed';
      throw err;
    }
    c.status = 'running';
    this.counters.started++;
    this.opts.log.info({ actor: spec.name, placement: spec.placement }, 'Actor started');
    this.emit('started', { name: spec.name } satisfies ActorEvent);
    for (const m of c.mailbox.splice(0)) run.post(m);
    this.link(c);
  }

  /** A direct channel between a threaded actor that now runs and every other running threaded actor. */
  private link(c: Child): void {
    if (c.run?.placement !== 'thread') return;
    for (const o of this.children) {
      if (o === c || o.status !== 'running' || o.run?.placement !== 'thread') continue;
      const { port1, port2 } = new MessageChannel();
      c.run.post({ k: 'link', name: o.spec.name, port: port1 }, [port1]);
      o.run.post({ k: 'link', name: c.spec.name, port: port2 }, [port2]);
    }
  }

  private async stopChild(c: Child): Promise<void> {
    const run = c.run;
    if (!run || c.status === 'stopped') { c.status = 'stopped'; return; }
    c.stopping = true;
    run.post({ k: 'stop' });
    let timer;
    const timedOut = await Promise.race([
      run.exited.then(() => false),
      new Promise<boolean>((r) => { timer = this.opts.clock.setTimeout(() => r(true), c.spec.shutdownMs); }),
    ]);
    this.opts.clock.clearTimeout(timer!);
    if (timedOut && c.spec.native && run.placement === 'thread') {
      // Never terminated (see ActorSpec.native): waiting is the only safe way out.
      this.opts.log.warn({ actor: c.spec.name, timeout_ms: c.spec.shutdownMs }, 'Actor did not stop in time; it holds a llama.cpp context, so it is waited for, not terminated');
      await run.exited;
    } else if (timedOut) {
      this.opts.log.warn({ actor: c.spec.name, timeout_ms: c.spec.shutdownMs }, 'Actor did not stop in time; terminated');
      await run.terminate();
      await run.exited;
    }
    c.status = 'stopped';
    c.state = 'stopped';
    this.failRoutesTo(c.spec.name, 'stopped');
    this.emit('stopped', { name: c.spec.name, reason: timedOut ? 'terminated after its shutdown timeout' : 'stopped' } satisfies ActorEvent);
  }

  private async onExit(c: Child, crashed: SerializedError | undefined): Promise<void> {
    if (c.stopping || this.state !== 'running') return;
    const name = c.spec.name;
    c.status = 'stopped';
    c.state = crashed ? 'crashed' : 'stopped';
    this.failRoutesTo(name, crashed ? 'crashed' : 'exited');
    if (crashed) {
      c.crashes++;
      this.counters.crashed++;
      this.opts.log.error({ actor: name, err: crashed }, 'Actor crashed');
      this.emit('crashed', { name, error: crashed } satisfies ActorEvent);
    } else {
      this.opts.log.info({ actor: name }, 'Actor exited');
    }
    this.broadcast({ type: 'sys.actor_down', name, reason: crashed ? crashed.message : 'exited' }, name);
    const restart = c.spec.restart === 'permanent' || (c.spec.restart === 'transient' && crashed !== undefined);
    if (!restart) return;
    await this.serial(() => this.restartAfterExit(c));
  }

  private async restartAfterExit(c: Child): Promise<void> {
    if (this.state !== 'running') return;
    const now = this.opts.clock.now();
    this.restartTimes = [...this.restartTimes.filter((t) => now - t < this.opts.periodMs), now];
    if (this.restartTimes.length > this.opts.intensity) {
      await this.giveUp(c);
      return;
    }
    const idx = this.children.indexOf(c);
    const affected = this.opts.strategy === 'one_for_one' ? [c]
      : this.opts.strategy === 'one_for_all' ? this.children
      : this.children.slice(idx);
    for (const o of [...affected].reverse()) if (o !== c) await this.stopChild(o);
    for (const o of affected) {
      o.restarts++;
      this.counters.restarted++;
      try {
        await this.startChild(o);
      } catch (err) {
        // A failed restart is one more crash, counted against the intensity like any other.
        o.crashes++;
        this.counters.crashed++;
        this.opts.log.error({ actor: o.spec.name, err: serializeError(err) }, 'Actor failed to restart');
        return this.restartAfterExit(o);
      }
      this.opts.log.info({ actor: o.spec.name, restarts: o.restarts, strategy: this.opts.strategy }, 'Actor restarted');
      this.emit('restarted', { name: o.spec.name, reason: o === c ? 'crashed' : `${this.opts.strategy} after ${c.spec.name}` } satisfies ActorEvent);
      this.broadcast({ type: 'sys.actor_up', name: o.spec.name }, o.spec.name);
    }
  }

  private async giveUp(c: Child): Promise<void> {
    const err = new SupervisorGaveUpError(c.spec.name, this.opts.intensity, this.opts.periodMs);
    this.counters.gave_up++;
    this.state = 'gave_up';
    this.opts.log.fatal({ actor: c.spec.name, intensity: this.opts.intensity, period_ms: this.opts.periodMs }, err.message);
    for (const o of [...this.children].reverse()) await this.stopChild(o);
    this.emit('gave_up', { name: c.spec.name, reason: err.message } satisfies ActorEvent);
  }

  private broadcast(ev: SystemEvent, except: string): void {
    for (const o of this.children) if (o.spec.name !== except) this.deliver(o.spec.name, { k: 'event', from: SUPERVISOR, msg: ev });
  }

  private onUp(c: Child, m: Up, from?: RunningActor): void {
    switch (m.k) {
      case 'send': this.deliver(m.to, { k: 'event', from: c.spec.name, msg: m.msg }); break;
      case 'request': this.route(c.spec.name, m.id, m.to, m.msg, from); break;
      case 'linked': this.deliver(m.to, { k: 'linked', from: c.spec.name }); break;
      case 'reply': {
        const r = this.routes.get(m.id);
        if (!r) return;
        this.routes.delete(m.id);
        this.answer(r, m.ok, m.value, m.error);
        break;
      }
      default: break;
    }
  }

  private route(origin: string | null, localId: string, to: string, msg: Message, run?: RunningActor): void {
    const r: Route = { origin, localId, target: to, ...(run ? { run } : {}) };
    if (to === SUPERVISOR) { this.answerSelf(r, msg); return; }
    if (!this.byName.has(to)) { this.answer(r, false, undefined, serializeError(new UnknownActorError(to))); return; }
    const id = `r${++this.seq}`;
    this.routes.set(id, r);
    this.deliver(to, { k: 'request', id, from: origin ?? SUPERVISOR, msg });
  }

  /** Requests addressed to the supervisor itself (SupervisorRequest). */
  private answerSelf(r: Route, msg: Message): void {
    const settle = (p: Promise<unknown>) => p.then(
      (v) => this.answer(r, true, v, undefined),
      (err: unknown) => this.answer(r, false, undefined, serializeError(err)),
    );
    const req = msg as SupervisorRequest;
    switch (req.type) {
      case 'supervisor.actors': this.answer(r, true, this.actors(), undefined); break;
      case 'supervisor.machine': void settle(Promise.resolve().then(() => this.machine(String(req.name)))); break;
      case 'supervisor.kill': void settle(Promise.resolve().then(() => this.kill(String(req.name), req.mode === 'throw' ? 'throw' : 'terminate'))); break;
      case 'supervisor.restart': void settle(Promise.resolve().then(() => this.restart(String(req.name)))); break;
      case 'supervisor.add': void settle(Promise.resolve().then(() => this.add(req.spec))); break;
      case 'supervisor.remove': void settle(Promise.resolve().then(() => this.remove(String(req.name))).then(() => null)); break;
      case 'supervisor.update_args': void settle(Promise.resolve().then(() => { this.updateArgs(String(req.name), req.args); return null; })); break;
      default: {
        const composed = this.opts.answer?.(msg);
        if (composed) void settle(composed);
        else this.answer(r, false, undefined, serializeError(new UnknownRequestError(SUPERVISOR, msg.type)));
      }
    }
  }

  private answer(r: Route, ok: boolean, value: unknown, error: SerializedError | undefined): void {
    if (r.origin === null) {
      const p = this.own.get(r.localId);
      if (!p) return;
      this.own.delete(r.localId);
      if (ok) p.resolve(value); else p.reject(deserializeError(error!));
      return;
    }
    const asker = this.byName.get(r.origin)?.run;
    if (r.run !== undefined && asker !== r.run) return;
    asker?.post({ k: 'reply', id: r.localId, ok, value, error });
  }

  private failRoutesTo(name: string, why: string): void {
    // Requests over its links are failed by their askers, on this news.
    for (const o of this.children) if (o.spec.name !== name && o.status === 'running' && o.run?.placement === 'thread') o.run.post({ k: 'unlink', name, reason: why });
    for (const [id, r] of this.routes) {
      if (r.target !== name) continue;
      this.routes.delete(id);
      this.answer(r, false, undefined, serializeError(new ActorDownError(name, why)));
    }
    const c = this.byName.get(name);
    if (c) for (const m of c.mailbox.splice(0)) if (m.k === 'request') this.onUp(c, { k: 'reply', id: m.id, ok: false, error: serializeError(new ActorDownError(name, why)) });
  }

  private deliver(to: string, m: Down): void {
    const c = this.byName.get(to);
    if (!c) { this.opts.log.warn({ to, type: 'msg' in m ? m.msg.type : m.k }, 'Message to unknown actor dropped'); return; }
    if (c.status === 'running' && c.run) { c.run.post(m); return; }
    if (c.status === 'stopped' && (this.state !== 'running' || c.spec.restart === 'temporary')) {
      if (m.k === 'request') this.onUp(c, { k: 'reply', id: m.id, ok: false, error: serializeError(new ActorDownError(to, 'stopped')) });
      return;
    }
    // (Re)starting: hold it, bounded, so a restart loses nothing sent meanwhile.
    if (c.mailbox.length >= (this.opts.mailboxLimit ?? 10_000)) {
      this.opts.log.warn({ actor: to }, 'Mailbox of a restarting actor is full; message dropped');
      if (m.k === 'request') this.onUp(c, { k: 'reply', id: m.id, ok: false, error: serializeError(new ActorDownError(to, 'mailbox full')) });
      return;
    }
    c.mailbox.push(m);
  }
}
