// What an actor is: an xstate v5 machine built from an ActorContext, plus how it wants to be
// supervised. Nothing here knows about threads: hosts decide where an actor runs.
import type { AnyStateMachine } from 'xstate';
import type { Clock } from './clock.ts';
import type { Logger } from './log.ts';
import type { Config } from '../config/types.ts';

export type Placement = 'inline' | 'thread';
export type RestartType = 'permanent' | 'transient' | 'temporary';

/** Every message between actors is a discriminated union member. */
export interface Message { type: string; [key: string]: unknown }

/** A request as the receiving machine sees it: the message plus where the answer goes. */
export type RequestEvent<M extends Message = Message> = M & { replyTo: string; from: string };

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

export interface ActorContext<Args = unknown> {
  readonly name: string;
  readonly args: Args;
  readonly config: Readonly<Config>;
  readonly clock: Clock;
  readonly log: Logger;
  readonly placement: Placement;
  /** Fire-and-forget to another actor, routed by the supervisor's registry. */
  send(to: string, msg: Message): void;
  /** Ask another actor; rejects with RequestTimeoutError / ActorDownError. */
  request<R = unknown>(to: string, msg: Message, timeoutMs: number): Promise<R>;
  /** Answer a RequestEvent (once). */
  reply(replyTo: string, value: unknown): void;
  replyError(replyTo: string, err: unknown): void;
  /** The actor is up: the supervisor's start() waits for this. */
  ready(): void;
  /** Register a resource to release when the actor stops or crashes (released in reverse order). */
  own(dispose: () => unknown): void;
}

export interface ActorModule<Args = unknown> {
  /** Build the machine; side effects live behind `ctx`. Called again on every restart. */
  machine(ctx: ActorContext<Args>): AnyStateMachine;
}

export function defineActor<Args = unknown>(m: ActorModule<Args>): ActorModule<Args> { return m; }

/** Host → actor messages on the actor's MessagePort. */
export type Down =
  | { k: 'event'; from: string; msg: Message }
  | { k: 'request'; id: string; from: string; msg: Message }
  | { k: 'reply'; id: string; ok: boolean; value?: unknown; error?: import('./errors.ts').SerializedError }
  | { k: 'stop' }
  /** Kill on purpose. `uncaught` (threads only): throw an uncaught exception inside the worker. */
  | { k: 'crash'; reason: string; uncaught?: boolean };

/** Actor → host messages. */
export type Up =
  | { k: 'send'; to: string; msg: Message }
  | { k: 'request'; id: string; to: string; msg: Message }
  | { k: 'reply'; id: string; ok: boolean; value?: unknown; error?: import('./errors.ts').SerializedError }
  | { k: 'state'; value: string }
  | { k: 'ready' }
  | { k: 'stopped' }
  | { k: 'crashed'; error: import('./errors.ts').SerializedError };

/** System events the supervisor broadcasts to every actor; machines handle those they care about. */
export type SystemEvent =
  | { type: 'sys.actor_down'; name: string; reason: string }
  | { type: 'sys.actor_up'; name: string };
