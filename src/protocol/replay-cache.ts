// Bounded memory of recently accepted envelope ids. An id needs remembering only until its
// envelope would be rejected as stale anyway; past capacity the oldest ids are forgotten first.

export class ReplayCache {
  readonly #forgetAfter = new Map<string, number>(); // key → ms after which it may be forgotten
  readonly capacity: number;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  get size(): number {
    return this.#forgetAfter.size;
  }

  has(key: string, now: number): boolean {
    const until = this.#forgetAfter.get(key);
    return until !== undefined && until >= now;
  }

  remember(key: string, until: number, now: number): void {
    this.#pruneExpired(now);
    this.#forgetAfter.delete(key); // re-insert at the end: Map order is the eviction order
    this.#forgetAfter.set(key, until);
    for (const oldest of this.#forgetAfter.keys()) {
      if (this.#forgetAfter.size <= this.capacity) break;
      this.#forgetAfter.delete(oldest);
    }
  }

  // Insertion order is nearly expiry order (expiry = sender ts + window), so stopping at the
  // first live entry keeps pruning amortised O(1); a straggler is pruned when it reaches the front.
  #pruneExpired(now: number): void {
    for (const [key, until] of this.#forgetAfter) {
      if (until >= now) break;
      this.#forgetAfter.delete(key);
    }
  }
}
