// One error class per way the node's store can fail; callers branch on `name`.

/** The data directory's schema version is one this program cannot use (newer, or damaged). */
export class StoreVersionError extends Error {
  override name = 'StoreVersionError';
}

/** The store cannot be opened or does not hold what its own records say it holds. */
export class StoreCorruptError extends Error {
  override name = 'StoreCorruptError';
}

/** Another process (a running node) holds the store's lock. */
export class StoreLockedError extends Error {
  override name = 'StoreLockedError';
}

/** A write failed (a full disk, an I/O error): nothing of it was acknowledged. */
export class StoreWriteError extends Error {
  override name = 'StoreWriteError';
}

/** A page cursor that is not one. */
export class InvalidCursorError extends Error {
  override name = 'InvalidCursorError';
}
