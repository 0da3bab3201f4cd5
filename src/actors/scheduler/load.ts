// The load manager: should this node claim an offer? A claim is a promise to run the job soon,
// so it is refused earlier than a direct submission (which only needs room in the queue):
// unknown or restarting model, bad max_tokens, full queue, low free memory, an overloaded CPU,
// or a projected wait too long. Host readings come through HostReadings so tests inject them.
import { availableParallelism, freemem, loadavg } from 'node:os';
import type { CanClaimReply } from './messages.ts';
import { paramsRefusal, type Dispatcher } from './dispatch.ts';
import { UnknownModelError } from './errors.ts';

export interface HostReadings {
  freeMemoryBytes(): number;
  /** One-minute load average (runnable + running threads, all processes). */
  loadAverage(): number;
  cores(): number;
}

export const osReadings: HostReadings = {
  freeMemoryBytes: () => freemem(),
  loadAverage: () => loadavg()[0]!,
  cores: () => availableParallelism(),
};

export interface LoadThresholds {
  /**
   * Free memory below which nothing is claimed: the model is loaded already, but each running
   * sequence and the process itself still allocate. 256 MiB by default.
   */
  minFreeMemoryBytes: number;
  /**
   * Load average per core at or above which nothing is claimed. Our own generation counts in it
   * (one llama.cpp thread per model keeps about one core busy), so 2 means "twice the work the
   * cores can do": another program, or more jobs than we should take, is competing for CPU.
   * Only meaningful on POSIX (os.loadavg() is 0 on Windows, which then never refuses on CPU).
   */
  maxLoadPerCore: number;
  /**
   * Projected wait, in generations: jobs already queued for the model per sequence. At or above
   * it, another node should take the offer. A direct submission still queues up to
   * `executor.max_queue_size`.
   */
  maxQueuedPerSlot: number;
}

export const DEFAULT_LOAD_THRESHOLDS: LoadThresholds = {
  minFreeMemoryBytes: 256 * 1024 * 1024,
  maxLoadPerCore: 2,
  maxQueuedPerSlot: 2,
};

const MiB = 1024 * 1024;

export function canClaim(
  offer: { model: string; max_tokens: number },
  book: Pick<Dispatcher<unknown>, 'model' | 'modelNames' | 'depth' | 'capacity'>,
  readings: HostReadings,
  limits: LoadThresholds = DEFAULT_LOAD_THRESHOLDS,
): CanClaimReply {
  const no = (reason: string): CanClaimReply => ({ ok: false, reason });
  const m = book.model(offer.model);
  if (!m) return no(new UnknownModelError(String(offer.model), book.modelNames).message);
  if (!m.up) return no(`model ${m.name} is restarting`);
  const bad = paramsRefusal({ max_tokens: offer.max_tokens }, m.contextSize, (what) => new Error(what));
  if (bad) return no(bad.message);
  if (book.depth >= book.capacity) return no(`queue full (${book.depth}/${book.capacity} jobs)`);
  const free = readings.freeMemoryBytes();
  if (free < limits.minFreeMemoryBytes) {
    return no(`free memory ${Math.round(free / MiB)} MiB is below ${Math.round(limits.minFreeMemoryBytes / MiB)} MiB`);
  }
  const perCore = readings.loadAverage() / Math.max(1, readings.cores());
  if (perCore >= limits.maxLoadPerCore) return no(`CPU load ${perCore.toFixed(2)} per core is at or above ${limits.maxLoadPerCore}`);
  // A free slot means the job starts now, whatever waits for other models.
  if (m.busy < m.sequences && m.queued === 0) return { ok: true };
  const perSlot = m.queued / m.sequences;
  if (perSlot >= limits.maxQueuedPerSlot) {
    return no(`projected wait too long: ${m.queued} jobs queued for ${m.name} on ${m.sequences} slots (limit ${limits.maxQueuedPerSlot} per slot)`);
  }
  return { ok: true };
}
