// What an actor is: an xstate v5 machine built from an ActorContext, plus how it wants to be
// supervised. Nothing here knows about threads: hosts decide where an actor runs.
import type { MessagePort } from 'node:worker_threads';
import type { AnyStateMachine } from 'xstate';
import type { Clock } from './clock.ts';
import type { Logger } from './log.ts';
import type { Config } from '../config/types.ts';
import type { ActorAddress, EventOf, NoExtra, Protocol, ReplyIn, ReplyOf, RequestOf, RequestsIn } from './protocol.ts';

export type Placement = 'inline' | 'thread';
export type RestartType = 'permanent' | 'transient' | 'temporary';

/** Every message between actors is a discriminated union member. */
export interface Message { type: string; [key: string]: unknown }

/** A request as the receiving machine sees it: the message plus where the answer goes. */
export type RequestEvent<M extends { type: string } = Message> = M & { replyTo: string; from: string };

export interface ActorSpec {
  name: string;                 // 'network', 'scheduler', 'inference:tiny', ...
  module: string;               // absolute path or file URL of a module whose default export is an ActorModule
  restart: RestartType;
  shutdownMs: number;
  /** Structured-cloneable start arguments (they cross to a worker when threaded). */
  args?: unknown;
  /**
   * The actor holds a llama.cpp context (in its thread or a worker under it). Terminating a
   * worker thread while llama.cpp decodes aborts the whole process, so such an actor is never
   * terminated: a kill in `terminate` mode is refused (KillRefusedError), a `throw` kill and an
   * uncaught exception end it through its own cleanup, and a stop past its shutdownMs waits.
   */
  native?: boolean;
}

/**
 * What an actor's machine gets. `Self` is the actor's own published protocol (protocol.ts): it
 * types `answer` and `emit`; `send` and `request` are typed by the receiver's protocol.
 */
export interface ActorContext<Args = unknown, Self extends Protocol = Protocol> {
  readonly name: string;
  readonly args: Args;
  readonly config: Readonly<Config>;
  readonly clock: Clock;
  readonly log: Logger;
  readonly placement: Placement;
  /** Fire-and-forget to another actor, routed by the supervisor's registry: one of the events its protocol accepts. */
  send<N extends ActorAddress>(to: N, msg: EventOf<N>): void;
  /**
   * Ask another actor one of the requests its protocol lists; resolves to the reply that request
   * gets, rejects with RequestTimeoutError / ActorDownError.
   */
  request<N extends ActorAddress, const M extends RequestOf<N>>(to: N, msg: M & NoExtra<M, RequestOf<N>>, timeoutMs: number): Promise<ReplyOf<N, M['type']>>;
  /** Send one of this actor's own emitted events to an address a request gave it (e.g. `stream_to`). */
  emit(to: string, ev: Self['emits']): void;
  /** Answer a request with the reply this actor's protocol promises for it (once). */
  answer<E extends RequestsIn<Self> & { replyTo: string }>(event: E, value: ReplyIn<Self, E['type']>): void;
  /** Answer a RequestEvent by id (once); `answer` is the typed form. */
  reply(replyTo: string, value: unknown): void;
  replyError(replyTo: string, err: unknown): void;
  /** The actor is up: the supervisor's start() waits for this. */
  ready(): void;
  /** Register a resource to release when the actor stops or crashes (released in reverse order). */
  own(dispose: () => unknown): void;
}

export interface ActorModule<Args = unknown, Self extends Protocol = Protocol> {
  /** Build the machine; side effects live behind `ctx`. Called again on every restart. */
  machine(ctx: ActorContext<Args, Self>): AnyStateMachine;
}

export function defineActor<Args = unknown, Self extends Protocol = Protocol>(m: ActorModule<Args, Self>): ActorModule<Args, Self> { return m; }

/** What two actors say to each other, through the supervisor or over a direct link. */
export type Mail =
  | { k: 'event'; from: string; msg: Message }
  | { k: 'request'; id: string; from: string; msg: Message }
  | { k: 'reply'; id: string; ok: boolean; value?: unknown; error?: import('./errors.ts').SerializedError };

/** Host → actor messages on the actor's MessagePort. */
export type Down =
  | Mail
  /**
   * Two threaded actors both running: from now on, talk to `name` over this port (a direct
   * channel between their threads, no hop through the supervisor's thread).
   */
  | { k: 'link'; name: string; port: MessagePort }
  /** `from` has switched to the link: all it sent through the supervisor before has arrived. */
  | { k: 'linked'; from: string }
  /** `name` went down: its link is gone, and requests sent over it fail with ActorDownError. */
  | { k: 'unlink'; name: string; reason: string }
  | { k: 'stop' }
  /** Kill on purpose. `uncaught` (threads only): throw an uncaught exception inside the worker. */
  | { k: 'crash'; reason: string; uncaught?: boolean };

/** Actor → host messages. */
export type Up =
  | { k: 'send'; to: string; msg: Message }
  | { k: 'request'; id: string; to: string; msg: Message }
  | { k: 'reply'; id: string; ok: boolean; value?: unknown; error?: import('./errors.ts').SerializedError }
  /** This actor got its link to `to` and sends over it from now on (relayed to `to` as `linked`). */
  | { k: 'linked'; to: string }
  | { k: 'state'; value: string }
  /** The machine's definition as xstate JSON (describe.ts), once per start. */
  | { k: 'machine'; definition: unknown }
  | { k: 'ready' }
  | { k: 'stopped' }
  | { k: 'crashed'; error: import('./errors.ts').SerializedError };

/** System events the supervisor broadcasts to every actor; machines handle those they care about. */
export type SystemEvent =
  | { type: 'sys.actor_down'; name: string; reason: string }
  | { type: 'sys.actor_up'; name: string }
  /** The runner's, to this actor alone: it is being stopped cleanly (its resources go next). */
  | { type: 'sys.stopping' };
