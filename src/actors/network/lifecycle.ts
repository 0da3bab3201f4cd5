// The network actor's parts share one lifecycle, as js-libp2p's components do: each is built
// with what it depends on, started in order once libp2p is up (the transport first), and stopped
// in reverse. A part's timers run on the injected clock and end with it.
import { setMaxListeners } from 'node:events';
import type { Clock, Timer } from '../../runtime/clock.ts';
import type { Logger } from '../../runtime/log.ts';

export interface Startable {
  start(): void | Promise<void>;
  /** Ends the part's timers and loops; what it awaits must not outlive the node. */
  stop(): void | Promise<void>;
}

/** Starts parts in order; stops them in reverse. */
export async function startAll(parts: readonly Startable[]): Promise<void> {
  for (const p of parts) await p.start();
}
export async function stopAll(parts: readonly Startable[]): Promise<void> {
  for (const p of [...parts].reverse()) await p.stop();
}

/** A part's timers: intervals, timeouts and sleeps on the clock, all cut short by stop(). */
export class Timers {
  private readonly intervals = new Set<Timer>();
  private readonly timeouts = new Set<Timer>();
  private readonly stopping = new AbortController();

  constructor(private readonly clock: Clock, private readonly log: Logger) {
    // Every sleep waits on it at once: a simulated link delay puts each message in flight to
    // sleep, far more than the default 10 listeners, each removed when its sleep ends.
    setMaxListeners(Infinity, this.stopping.signal);
  }

  get stopped(): boolean { return this.stopping.signal.aborted; }

  /** Runs `fn` every `ms` (a failure is logged, not thrown) until stopped. */
  every(ms: number, fn: () => unknown): Timer {
    const timer = this.clock.setInterval(() => {
      if (!this.stopped) void Promise.resolve().then(fn).catch((err) => this.log.warn({ err }, 'periodic network task failed'));
    }, ms);
    this.intervals.add(timer);
    return timer;
  }

  cancel(timer: Timer): void {
    if (this.intervals.delete(timer)) this.clock.clearInterval(timer);
    if (this.timeouts.delete(timer)) this.clock.clearTimeout(timer);
  }

  /** Runs `fn` once after `ms`, unless stopped first. */
  after(ms: number, fn: () => void): Timer {
    const timer = this.clock.setTimeout(() => { this.timeouts.delete(timer); if (!this.stopped) fn(); }, ms);
    this.timeouts.add(timer);
    return timer;
  }

  /** Sleeps on the clock; cut short when stopped. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const signal = this.stopping.signal;
      const done = () => { this.clock.clearTimeout(t); signal.removeEventListener('abort', done); resolve(); };
      const t = this.clock.setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  stop(): void {
    this.stopping.abort();
    for (const t of this.intervals) this.clock.clearInterval(t);
    for (const t of this.timeouts) this.clock.clearTimeout(t);
    this.intervals.clear();
    this.timeouts.clear();
  }
}
