// Runtime failures, one class per kind with a stable `name` (callers branch on err.name), and
// the plain-object form they take when they cross a MessagePort.

export class ActorStartError extends Error {
  override name = 'ActorStartError';
  constructor(readonly actor: string, readonly cause: SerializedError) {
    super(cause.message);
  }
}
export class ActorDownError extends Error {
  override name = 'ActorDownError';
  constructor(readonly actor: string, why: string) { super(`actor ${actor} is down: ${why}`); }
}
export class RequestTimeoutError extends Error {
  override name = 'RequestTimeoutError';
  constructor(readonly to: string, readonly type: string, ms: number) {
    super(`request ${type} to ${to} timed out after ${ms} ms`);
  }
}
export class UnknownActorError extends Error {
  override name = 'UnknownActorError';
  constructor(readonly actor: string) { super(`no actor named ${actor}`); }
}
export class DuplicateActorError extends Error {
  override name = 'DuplicateActorError';
  constructor(readonly actor: string) { super(`an actor named ${actor} is already in the tree`); }
}
export class UnknownRequestError extends Error {
  override name = 'UnknownRequestError';
  constructor(readonly actor: string, readonly type: string) { super(`${actor} does not answer ${type}`); }
}
/** A kill that would abort the process: terminating a thread that holds a llama.cpp context. */
export class KillRefusedError extends Error {
  override name = 'KillRefusedError';
}

export class SupervisorGaveUpError extends Error {
  override name = 'SupervisorGaveUpError';
  constructor(readonly actor: string, intensity: number, periodMs: number) {
    super(`supervisor gave up: ${actor} crashed more than ${intensity} times in ${periodMs / 1000} s`);
  }
}

export interface SerializedError { name: string; message: string; code?: string; stack?: string }

export function serializeError(err: unknown): SerializedError {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return { name: err.name, message: err.message, ...(typeof code === 'string' ? { code } : {}), stack: err.stack };
  }
  return { name: 'Error', message: String(err) };
}

export function deserializeError(e: SerializedError): Error {
  const err = new Error(e.message);
  err.name = e.name;
  if (e.code) (err as { code?: string }).code = e.code;
  if (e.stack) err.stack = e.stack;
  return err;
}
