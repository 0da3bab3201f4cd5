// Virtual time for the simulator: an event queue ordered by timestamp, then by
// insertion order, so that a run is a pure function of its seed. No real timers, no sockets:
// `run` pops events and advances `now` to each one's time.

export interface SimEvent { at: number; seq: number; fire: () => void }

/** A binary min-heap of events by (at, seq). */
export class VirtualClock {
  now: number;
  private heap: SimEvent[] = [];
  private seq = 0;
  /** Events fired so far. */
  fired = 0;

  constructor(start = 0) { this.now = start; }

  get pending(): number { return this.heap.length; }

  /** Schedules `fire` at absolute time `at` (never in the past). */
  at(at: number, fire: () => void): void {
    const e: SimEvent = { at: Math.max(at, this.now), seq: ++this.seq, fire };
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(e, h[p]!)) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = e;
  }

  /** Schedules `fire` `delay` ms from now. */
  after(delay: number, fire: () => void): void { this.at(this.now + delay, fire); }

  private pop(): SimEvent | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (top === undefined || last === undefined || h.length === 0) return top;
    let i = 0;
    const n = h.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && before(h[r]!, h[l]!) ? r : l;
      if (!before(h[c]!, last)) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
    return top;
  }

  /** Fires every event due up to `until` (inclusive), then sets now = until. */
  runUntil(until: number): void {
    while (this.heap.length > 0 && this.heap[0]!.at <= until) {
      const e = this.pop()!;
      this.now = e.at;
      this.fired++;
      e.fire();
    }
    this.now = Math.max(this.now, until);
  }

  /** Fires events until none are left (or `limit` is reached). */
  drain(limit = Infinity): void {
    while (this.heap.length > 0 && this.fired < limit) {
      const e = this.pop()!;
      this.now = e.at;
      this.fired++;
      e.fire();
    }
  }
}

function before(a: SimEvent, b: SimEvent): boolean { return a.at < b.at || (a.at === b.at && a.seq < b.seq); }

/** A deterministic 32-bit hash of integers (for per-link figures without an N² table). */
export function hash32(...xs: number[]): number {
  let h = 0x811c9dc5;
  for (const x of xs) {
    h ^= x >>> 0;
    h = Math.imul(h, 0x01000193);
    h ^= h >>> 13;
    h = Math.imul(h, 0x5bd1e995);
    h ^= h >>> 15;
  }
  return h >>> 0;
}

/** Latency model: each node has a base delay (its access link), each link a fixed seeded jitter. */
export class LinkModel {
  private readonly base: Float64Array;
  constructor(readonly nodes: number, readonly seed: number, readonly minMs = 2, readonly maxMs = 25, rng: () => number = Math.random) {
    this.base = new Float64Array(nodes);
    for (let i = 0; i < nodes; i++) this.base[i] = minMs + rng() * (maxMs - minMs);
  }
  /** One-way delay from a to b, ms: the two access links plus a per-link jitter of up to 20 %. */
  delay(a: number, b: number): number {
    const lo = Math.min(a, b), hi = Math.max(a, b);
    const jitter = (hash32(this.seed, lo, hi) % 1000) / 5000;
    return (this.base[a]! + this.base[b]!) * (1 + jitter);
  }
}
