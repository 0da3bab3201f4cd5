// Coalesces a generation's text chunks before they leave the pool worker. Every chunk that
// leaves costs a message on the job's port, an `inference.token` actor event through the
// supervisor, a job-stream frame (yamux + noise) and the client's parse: per token, on the
// node's main thread, which shares the machine's cores with llama.cpp. So the first chunk goes
// at once (time to first token is what a user feels), and after it at most one batch per
// `windowMs`; `end` flushes what is left, so nothing is lost or reordered.

export interface BatchTimers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(t: unknown): void;
}

const realTimers: BatchTimers = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (t) => clearTimeout(t as NodeJS.Timeout),
};

/**
 * 100 ms: at 50–200 tokens/s of a small model on a CPU, 5–20 tokens a batch, ten updates a
 * second. With 20 ms (about one message per token while four jobs ran) the node's own threads
 * took enough of 2 cores from llama.cpp that four concurrent jobs ran at 0.7–0.85 of raw
 * (bench:speed, P2); the first token still leaves at once.
 */
export const TOKEN_BATCH_MS = 100;

export class TokenBatcher {
  private pending = '';
  private lastFlush = -Infinity;
  private timer: unknown;
  private ended = false;

  constructor(
    private readonly send: (text: string) => void,
    private readonly windowMs = TOKEN_BATCH_MS,
    private readonly timers: BatchTimers = realTimers,
  ) {}

  push(text: string): void {
    if (this.ended || text === '') return;
    this.pending += text;
    if (this.windowMs <= 0 || this.timers.now() - this.lastFlush >= this.windowMs) { this.flush(); return; }
    this.timer ??= this.timers.setTimeout(() => { this.timer = undefined; this.flush(); }, Math.max(0, this.lastFlush + this.windowMs - this.timers.now()));
  }

  /** Sends what is pending now; later chunks are batched again. */
  flush(): void {
    if (this.timer !== undefined) { this.timers.clearTimeout(this.timer); this.timer = undefined; }
    if (this.pending === '') return;
    const text = this.pending;
    this.pending = '';
    this.lastFlush = this.timers.now();
    this.send(text);
  }

  /** Flushes and stops: chunks pushed later are dropped (the job has ended). */
  end(): void {
    this.flush();
    this.ended = true;
  }
}
