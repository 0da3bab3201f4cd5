// How many llama.cpp threads a model's next decode gets. node-llama-cpp 3.21 fixes a context's
// thread count at creation, but each decode takes its threads from the Llama's thread splitter,
// capped by `llama.maxThreads` at that moment: the one runtime lever. Measured on 2 cores
// (BENCHMARKS.md, bench:inference and bench:speed): one sequence of a small model runs fastest
// on one thread (a second thread only adds synchronisation), while several sequences in one
// batch gain from every core. So a worker lowers maxThreads to `single` while one sequence
// generates and raises it to `batch` while two or more do.
//
// Several models in one node each have their own worker and Llama: their decodes must not ask
// for more threads than the machine has. Each engine gets a slot in one shared table of the
// process (`processThreadBudget`, shared across threads), where its worker writes the sequences
// it has busy; while more than one model generates, each gets at most an equal share of the cores.

import { getEnvironmentData, isMainThread, setEnvironmentData } from 'node:worker_threads';

/** Slots in the shared table: models one process can serve at once. */
export const BUDGET_SLOTS = 64;

export interface ThreadPlan {
  /** Threads while one sequence generates. */
  single: number;
  /** Threads while two or more sequences generate (≥ single). */
  batch: number;
  /** The machine's cores (os.availableParallelism()). */
  cores: number;
}

/**
 * Threads for the next decode: `single` or `batch` by the busy sequences, and, while other
 * models generate too, at most cores / (models generating), never below 1.
 */
export function threadsFor(plan: ThreadPlan, busySequences: number, modelsGenerating: number): number {
  const want = busySequences >= 2 ? plan.batch : plan.single;
  if (modelsGenerating <= 1) return Math.max(1, want);
  return Math.max(1, Math.min(want, Math.floor(plan.cores / modelsGenerating)));
}

/**
 * One process's table of busy sequences per model: an Int32Array over a SharedArrayBuffer, slots
 * taken with a compare-and-swap on a second array so engines in different threads (inference
 * actors run on their own thread by default) can share it.
 */
export class ThreadBudget {
  /** Busy sequences per slot (what workers write and governors read). */
  readonly table: Int32Array;
  /** 1 where an engine holds the slot. */
  private readonly claims: Int32Array;

  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(BUDGET_SLOTS * 2 * 4)) {
    const slots = buffer.byteLength / 8;
    this.table = new Int32Array(buffer, 0, slots);
    this.claims = new Int32Array(buffer, slots * 4, slots);
  }

  get buffer(): SharedArrayBuffer { return this.table.buffer as SharedArrayBuffer; }

  /** A free slot for one engine (undefined when every slot is taken: that model is not counted). */
  take(): number | undefined {
    for (let i = 0; i < this.claims.length; i++) {
      if (Atomics.compareExchange(this.claims, i, 0, 1) === 0) { Atomics.store(this.table, i, 0); return i; }
    }
    return undefined;
  }

  /** The engine is gone (closed, or its worker died): its model no longer counts. */
  release(slot: number): void {
    Atomics.store(this.table, slot, 0);
    Atomics.store(this.claims, slot, 0);
  }
}

/** Key of the process's budget buffer in worker_threads' environment data. */
export const BUDGET_ENV_KEY = 'mvp-node:thread-budget';

/**
 * The process's one budget. The main thread creates its buffer and puts it in worker_threads'
 * environment data, which every worker started afterwards inherits (a SharedArrayBuffer is
 * shared, not copied): the inference actors' threads and their llama workers all see one table.
 * This module is evaluated on the main thread before any actor thread starts (models.ts imports
 * it), so the buffer exists by then.
 */
export function processThreadBudget(): ThreadBudget {
  let buffer = getEnvironmentData(BUDGET_ENV_KEY) as SharedArrayBuffer | undefined;
  if (!(buffer instanceof SharedArrayBuffer)) {
    buffer = new SharedArrayBuffer(BUDGET_SLOTS * 2 * 4);
    setEnvironmentData(BUDGET_ENV_KEY, buffer);
  }
  processBudget ??= new ThreadBudget(buffer);
  return processBudget;
}
let processBudget: ThreadBudget | undefined;
if (isMainThread) processThreadBudget();

/** Models with at least one busy sequence in the table. */
export function modelsGenerating(table: Int32Array): number {
  let n = 0;
  for (let i = 0; i < table.length; i++) if (Atomics.load(table, i) > 0) n++;
  return n;
}

/** A tuning window: at least this long (and until the next token after it). */
export const TUNE_WINDOW_MS = 400;
/** After a comparison, the winner is kept this long before the next one; doubled each time one thread loses, up to TUNE_HOLD_MAX_MS. */
export const TUNE_HOLD_MS = 10_000;
export const TUNE_HOLD_MAX_MS = 80_000;
/**
 * One thread replaces the planned count only when it is this much faster. On an idle machine
 * the two windows differ by noise (the node's own threads take a core now and then), and a
 * noisy win held for TUNE_HOLD_MS cost a whole batch a third of its rate (bench:speed, P2); the
 * case the comparison is for, cores held by others, differs many times over.
 */
export const ONE_THREAD_MARGIN = 1.25;

/**
 * Inside a worker: keeps llama.maxThreads in step with its busy sequences and the other models.
 *
 * Several threads only pay while the cores are free: llama.cpp's threads meet at a barrier on
 * every operation of a decode and spin while they wait, so on a machine where other processes
 * hold the cores, a decode on two threads waits for the one that is not running (measured on
 * 2 loaded cores: 0.8 tokens/s on two threads against 100 on one). So when the plan asks for
 * more than one thread, the governor compares: it times a window of tokens (all sequences) on a
 * single thread, then one on the planned count, keeps the faster, and compares again after
 * TUNE_HOLD_MS (longer each time one thread wins, at once the longest when it wins by more than
 * twice, so a loaded machine pays for the slow count rarely). One thread must win by
 * ONE_THREAD_MARGIN. The first window starts at its first token (the decode before it
 * evaluates a prompt); the planned count's window starts when it is applied and ends at the
 * first token after TUNE_WINDOW_MS, so a decode that spins for seconds is a single, timed,
 * decode. A change of the planned count (models generating, one sequence against several)
 * starts a new comparison unless a choice made against that count still holds; a change of
 * busy sequences restarts a comparison under way.
 */
export class ThreadGovernor {
  private busy = 0;
  private applied = -1;
  /** The thread count the plan asks for now (threadsFor). */
  private planned = 0;
  /** What the last comparison chose, against which planned count, and until when it holds. */
  private choice: { threads: number; against: number; until: number } | undefined;
  private holdMs = TUNE_HOLD_MS;
  /** The window being timed: its thread count, when it began (the first token on it), tokens since. */
  private window: { threads: number; from: number; tokens: number } | undefined;
  /** tokens/s per thread count measured in the current comparison. */
  private rates = new Map<number, number>();

  constructor(
    private readonly plan: ThreadPlan,
    private readonly setMaxThreads: (n: number) => void,
    private readonly table?: Int32Array,
    private readonly slot?: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** The count the plan asks for now (what a comparison weighs against one thread). */
  get plannedThreads(): number { return this.planned; }

  /**
   * This model's busy sequences changed. A comparison under way starts over (its two windows
   * must see the same batch); a choice already made stands until its hold ends, so jobs that
   * arrive one after another, or batches with pauses between them, do not each pay for a
   * window on one thread.
   */
  setBusy(busy: number): void {
    this.busy = busy;
    if (this.table && this.slot !== undefined) Atomics.store(this.table, this.slot, busy);
    if (this.window) this.compare();
    this.apply();
  }

  /** `n` tokens were generated (any sequence): the comparison's clock. Then as apply(). */
  tokens(n: number): number {
    const w = this.window;
    const t = this.now();
    if (w) {
      if (w.from < 0) { w.from = t; } // the first window starts at its first token: prompt evaluation is not timed
      else {
        w.tokens += n;
        if (t - w.from >= TUNE_WINDOW_MS) this.measured(w.threads, (w.tokens * 1000) / (t - w.from));
      }
    }
    return this.apply();
  }

  /** Re-read the other models' state (called between tokens: cheap). */
  apply(): number {
    const others = this.table ? modelsGenerating(this.table) : (this.busy > 0 ? 1 : 0);
    const planned = threadsFor(this.plan, this.busy, Math.max(others, this.busy > 0 ? 1 : 0));
    if (planned !== this.planned) { this.planned = planned; this.compare(); }
    const held = this.choice && this.choice.against === this.planned && this.now() < this.choice.until ? this.choice.threads : undefined;
    if (!this.window && held === undefined && this.planned > 1 && this.busy > 0) this.compare();
    const n = this.window?.threads ?? held ?? this.planned;
    if (n !== this.applied) { this.applied = n; this.setMaxThreads(n); }
    return n;
  }

  /** A new comparison (one thread first, then the planned count), unless a choice for this count still holds. */
  private compare(): void {
    this.rates.clear();
    const held = this.choice && this.choice.against === this.planned && this.now() < this.choice.until;
    this.window = this.planned > 1 && this.busy > 0 && !held ? { threads: 1, from: -1, tokens: 0 } : undefined;
  }

  private measured(threads: number, tokensPerS: number): void {
    this.rates.set(threads, tokensPerS);
    if (threads === 1) { this.window = { threads: this.planned, from: this.now(), tokens: 0 }; return; }
    const one = this.rates.get(1) ?? 0;
    const oneWins = one > ONE_THREAD_MARGIN * tokensPerS;
    // One thread winning is the loaded machine's case: keep it longer (the longest at once when
    // the planned count crawled); the plan winning resets the hold.
    this.holdMs = !oneWins ? TUNE_HOLD_MS : one > 2 * tokensPerS ? TUNE_HOLD_MAX_MS : Math.min(TUNE_HOLD_MAX_MS, this.holdMs * 2);
    this.choice = { threads: oneWins ? 1 : this.planned, against: this.planned, until: this.now() + this.holdMs };
    this.window = undefined;
  }
}
