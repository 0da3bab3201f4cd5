// One error class per way the node's store can fail, each with its registry code (errors/registry.ts).
import { CodedError } from '../errors/registry.ts';

/** The data directory's schema version is one this program cannot use (newer, or damaged). */
export class StoreVersionError extends CodedError {
  override name = 'StoreVersionError';
  constructor(message: string, options?: ErrorOptions) { super('store_version_unsupported', message, options); }
}

/** The store cannot be opened or does not hold what its own records say it holds. */
export class StoreCorruptError extends CodedError {
  override name = 'StoreCorruptError';
  constructor(message: string, options?: ErrorOptions) { super('store_corrupt', message, options); }
}

/** Another process (a running node) holds the store's lock. */
export class StoreLockedError extends CodedError {
  override name = 'StoreLockedError';
  constructor(message: string, options?: ErrorOptions) { super('store_locked', message, options); }
}

/** A write failed (a full disk, an I/O error): nothing of it was acknowledged. */
export class StoreWriteError extends CodedError {
  override name = 'StoreWriteError';
  constructor(message: string, options?: ErrorOptions) { super('store_write_failed', message, options); }
}

/** A page cursor that is not one. */
export class InvalidCursorError extends CodedError {
  override name = 'InvalidCursorError';
  constructor(message: string, options?: ErrorOptions) { super('invalid_cursor', message, options); }
}
