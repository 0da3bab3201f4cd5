// Typed messages between actors. Each actor publishes its protocol in its messages.ts: the
// requests it answers (request type → message and reply), the one-way events it takes, and the
// events it emits to an address it was given (e.g. inference tokens to a job's stream_to). It
// registers that protocol under its address by augmenting ActorProtocols:
//
//   declare module '../../runtime/protocol.ts' {
//     interface ActorProtocols { scheduler: SchedulerProtocol }
//   }
//
// ctx.request / ctx.send are typed from this registry, so a message another actor does not
// accept, a missing or mistyped field, or reading a reply as the wrong type fails tsc. The
// runtime itself knows no actor: the registry is filled by the actors' own messages.ts files.
import type { RequestEvent, SystemEvent } from './actor.ts';

/** The least a message is: a discriminating `type` (interfaces qualify, unlike Message's index signature). */
export type Msg = { type: string };

/** One request an actor answers: the message it takes and the reply it gives. */
export interface Call<M extends Msg = Msg, R = unknown> { msg: M; reply: R }

/** What an actor publishes about itself. */
export interface Protocol {
  /** Request type → { msg, reply }. */
  requests: { [type: string]: Call };
  /** One-way events it accepts (`ctx.send`). */
  events: Msg;
  /** Events it emits to an address given in a request (`ctx.emit`). */
  emits: Msg;
}

/**
 * Builds a Protocol from a union of Calls (each keyed by its message's `type`), the events it
 * accepts, and those it emits.
 */
export type DefineProtocol<C extends Call, E extends Msg = never, X extends Msg = never> = {
  requests: { [K in C as K['msg']['type']]: K };
  events: E;
  emits: X;
};

/**
 * Address → protocol. Empty here; each actor's messages.ts adds itself (module augmentation),
 * keys may be patterns such as `inference:${string}`.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface ActorProtocols {}

/** Requests to the supervisor that whoever composes the tree answers in its name (augmented likewise). */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface SupervisorExtensions {}

/** Any address some actor registered (a literal, or matching a registered pattern). */
export type ActorAddress = keyof ActorProtocols & string;

export type ProtocolOf<N extends ActorAddress> = ActorProtocols[N] extends Protocol ? ActorProtocols[N] : never;

/** The request messages `N` answers. */
export type RequestOf<N extends ActorAddress> = { [K in keyof ProtocolOf<N>['requests']]: ProtocolOf<N>['requests'][K]['msg'] }[keyof ProtocolOf<N>['requests']];

/**
 * Fields of `M` that the message of its type does not have, each typed `never`: intersected with
 * a message parameter, it makes an extra (misspelt) field an error, as for a plain object literal.
 */
export type NoExtra<M extends Msg, U extends Msg> = { [K in Exclude<keyof M, keyof Extract<U, { type: M['type'] }>>]: never };

/** The reply `N` gives to a request of type `T`. */
export type ReplyOf<N extends ActorAddress, T extends string> =
  T extends keyof ProtocolOf<N>['requests'] ? ProtocolOf<N>['requests'][T]['reply'] : never;

/** The one-way events `N` accepts. */
export type EventOf<N extends ActorAddress> = ProtocolOf<N>['events'];

/** Within a protocol `P`: its request messages, the reply to type `T`, its emitted events. */
export type RequestsIn<P extends Protocol> = { [K in keyof P['requests']]: P['requests'][K]['msg'] }[keyof P['requests']];
export type ReplyIn<P extends Protocol, T extends string> = T extends keyof P['requests'] ? P['requests'][T]['reply'] : never;

/**
 * Everything a machine with protocol `P` receives, as xstate events: its requests (with
 * `replyTo`), its one-way events, and the supervisor's system events. A type that is both a
 * request and an event (e.g. a cancel) arrives with `replyTo` only when it was asked.
 */
export type Inbox<P extends Protocol> =
  | RequestEvent<RequestsIn<P>>
  | (P['events'] & { from: string; replyTo?: undefined })
  | (SystemEvent & { from: string });

/**
 * Typed request / send, as ActorContext carries them. `to` must be a registered address, `msg`
 * one of its requests (or events), and the promise resolves to the reply that request gets.
 */
export interface TypedMessaging {
  send<N extends ActorAddress>(to: N, msg: EventOf<N>): void;
  request<N extends ActorAddress, const M extends RequestOf<N>>(to: N, msg: M & NoExtra<M, RequestOf<N>>, timeoutMs: number): Promise<ReplyOf<N, M['type']>>;
}

/** A typed request function, for helpers that ask on an actor's behalf (ctx.request's shape). */
export type Ask = <N extends ActorAddress, const M extends RequestOf<N>>(to: N, msg: M & NoExtra<M, RequestOf<N>>, timeoutMs: number) => Promise<ReplyOf<N, M['type']>>;
