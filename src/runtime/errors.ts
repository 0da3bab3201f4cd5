// Runtime failures, one class per kind with a stable `name` and a registry code
// (errors/registry.ts), and the plain-object form they take when they cross a MessagePort: the
// code goes with it, so the receiver still knows its HTTP status and whether it is retryable.
import { CodedError, isErrorCode } from '../errors/registry.ts';

export class ActorStartError extends CodedError {
  override name = 'ActorStartError';
  constructor(readonly actor: string, readonly cause: SerializedError) {
    super('actor_start_failed', cause.message);
  }
}
export class ActorDownError extends CodedError {
  override name = 'ActorDownError';
  constructor(readonly actor: string, why: string) { super('actor_down', `actor ${actor} is down: ${why}`); }
}
export class RequestTimeoutError extends CodedError {
  override name = 'RequestTimeoutError';
  constructor(readonly to: string, readonly type: string, ms: number) {
    super('request_timeout', `request ${type} to ${to} timed out after ${ms} ms`);
  }
}
export class UnknownActorError extends CodedError {
  override name = 'UnknownActorError';
  constructor(readonly actor: string) { super('unknown_actor', `no actor named ${actor}`); }
}
export class DuplicateActorError extends CodedError {
  override name = 'DuplicateActorError';
  constructor(readonly actor: string) { super('duplicate_actor', `an actor named ${actor} is already in the tree`); }
}
export class UnknownRequestError extends CodedError {
  override name = 'UnknownRequestError';
  constructor(readonly actor: string, readonly type: string) { super('unknown_request', `${actor} does not answer ${type}`); }
}
/** A kill that would abort the process: terminating a thread that holds a llama.cpp context. */
export class KillRefusedError extends CodedError {
  override name = 'KillRefusedError';
  constructor(message: string) { super('kill_refused', message); }
}

export class SupervisorGaveUpError extends CodedError {
  override name = 'SupervisorGaveUpError';
  constructor(readonly actor: string, intensity: number, periodMs: number) {
    super('supervisor_gave_up', `supervisor gave up: ${actor} crashed more than ${intensity} times in ${periodMs / 1000} s`);
  }
}

/**
 * An error as it crosses a MessagePort. `code` is the registry code (or another string code the
 * error carried); `reason`, a finer reason some errors carry (a pull's `disk_full`, a model
 * file's `invalid_format`).
 */
export interface SerializedError { name: string; message: string; code?: string; reason?: string; stack?: string }

export function serializeError(err: unknown): SerializedError {
  if (err instanceof Error) {
    const { code, reason } = err as { code?: unknown; reason?: unknown };
    return {
      name: err.name, message: err.message, ...(typeof code === 'string' ? { code } : {}), ...(typeof reason === 'string' ? { reason } : {}), stack: err.stack,
    };
  }
  return { name: 'Error', message: String(err) };
}

/** A registry code comes back as a CodedError (statusCode, retryable), with the sender's name and stack. */
export function deserializeError(e: SerializedError): Error {
  const err = isErrorCode(e.code) ? new CodedError(e.code, e.message) : new Error(e.message);
  err.name = e.name;
  if (e.code && !isErrorCode(e.code)) (err as { code?: string }).code = e.code;
  if (e.reason) (err as { reason?: string }).reason = e.reason;
  if (e.stack) err.stack = e.stack;
  return err;
}
