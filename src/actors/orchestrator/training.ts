// Training data (`[orchestrator.training]`): `<node dir>/orchestrator/training.jsonl`, an
// append-only log. A decision's record is appended when it is taken, marked pending
// (`outcome.pending`), and appended again, complete, once its outcome has been measured; a
// reader keeps the latest line of each decision. So a decision is exportable at once, and its
// measured outcome replaces the pending one later. Complete records are exported automatically
// every auto_export_threshold of them to export_path.
//
// Crash safety: a line is appended in one write and fsynced before the next one starts, so a
// crash can only tear the last line. Opening the file cuts a torn tail (no trailing newline)
// off, and readers skip any line that does not parse. A record still pending when the file is
// opened was left by a node that stopped before measuring it: opening completes it, unmeasured.
// The export bookkeeping and the exports themselves are written to a temporary file, fsynced
// and renamed into place, so they are whole or absent. A crash between an export and its
// bookkeeping exports those records again (at least once, never lost).
import { mkdir, open, readFile, rename, truncate, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Clock } from '../../runtime/clock.ts';
import type { Logger } from '../../runtime/log.ts';
import type { OrchestratorAction } from '../../config/types.ts';
import type { DecisionType, MetricsSnapshot } from '../../decide/heuristics.ts';
import type { Prompt } from './prompt.ts';
import type { Verdict } from './safety.ts';
import type { DecisionOutcome, DecisionSource, ExecutionResult, ExportFormat, FallbackReason } from './messages.ts';

export const TRAINING_FILE = 'training.jsonl';
const STATE_FILE = 'training.state.json';
export const TRAINING_RECORD_VERSION = 1;

/** How the situation changed between the decision and outcome_delay_secs later. */
export interface MeasuredOutcome {
  measured: boolean;
  /** Not measured yet: the decision was just taken (a later line of the same id completes it). */
  pending?: true;
  /** Why it was not measured (node stopped first, metrics unavailable). */
  reason?: string;
  /** Milliseconds between the decision and the measurement. */
  after_ms?: number;
  after?: MetricsSnapshot;
  queue_depth_delta?: number;
  queue_load_before?: number;
  queue_load_after?: number;
  peers_delta?: number;
}

export interface TrainingRecord {
  v: typeof TRAINING_RECORD_VERSION;
  id: string;
  ts: number;
  node_id: string;
  decision_type: DecisionType;
  context: string | null;
  metrics: MetricsSnapshot;
  /** The prompt a model gets for this situation (recorded for heuristic decisions too). */
  prompt: Prompt;
  /** What the model wrote; null when no model answered. */
  raw_output: string | null;
  source: DecisionSource;
  fallback_reason: FallbackReason | null;
  decision: { action: OrchestratorAction; params: Record<string, unknown>; confidence: number; reasoning: string };
  safety: { verdict: Verdict; reason: string | null };
  final: DecisionOutcome;
  execution: ExecutionResult | null;
  outcome: MeasuredOutcome;
}

const load = (m: MetricsSnapshot) => (m.queue_capacity > 0 ? m.queue_depth / m.queue_capacity : m.queue_depth > 0 ? 1 : 0);

/** The outcome of a record written when its decision is taken. */
export const PENDING_OUTCOME: MeasuredOutcome = { measured: false, pending: true, reason: 'not measured yet' };
export const STOPPED_OUTCOME: MeasuredOutcome = { measured: false, reason: 'the orchestrator stopped before the outcome was measured' };

const isComplete = (r: TrainingRecord) => r.outcome?.pending !== true;

export function measureOutcome(before: MetricsSnapshot, after: MetricsSnapshot, afterMs: number): MeasuredOutcome {
  return {
    measured: true,
    after_ms: afterMs,
    after,
    queue_depth_delta: after.queue_depth - before.queue_depth,
    queue_load_before: Number(load(before).toFixed(4)),
    queue_load_after: Number(load(after).toFixed(4)),
    peers_delta: after.peers - before.peers,
  };
}

/** Outcomes that make a decision worth imitating in the chat format. */
const IMITABLE: ReadonlySet<DecisionOutcome> = new Set(['executed', 'held', 'not_executed']);

/**
 * The export formats:
 * - jsonl: the records as stored, one per line;
 * - chat: one `{ "messages": [system, user, assistant] }` line per decision whose outcome was
 *   executed, held or not_executed (refused, rejected, expired and failed ones are not examples
 *   to imitate) — the chat fine-tuning format of OpenAI-style trainers; the assistant message
 *   is the decision as the grammar asks for it.
 */
export function formatExport(records: readonly TrainingRecord[], format: ExportFormat): { lines: string[]; records: number } {
  if (format === 'jsonl') return { lines: records.map((r) => JSON.stringify(r)), records: records.length };
  const kept = records.filter((r) => IMITABLE.has(r.final));
  const lines = kept.map((r) => JSON.stringify({
    messages: [
      { role: 'system', content: r.prompt.system },
      { role: 'user', content: r.prompt.user },
      { role: 'assistant', content: JSON.stringify(llmShaped(r)) },
    ],
    metadata: { id: r.id, source: r.source, outcome: r.final, decision_type: r.decision_type },
  }));
  return { lines, records: kept.length };
}

/** The decision as the model writes it (scale_queue as a factor, not an absolute capacity). */
function llmShaped(r: TrainingRecord): Record<string, unknown> {
  const { action, confidence, reasoning } = r.decision;
  let params = r.decision.params;
  if (action === 'scale_queue' && typeof params.capacity === 'number' && typeof params.from === 'number' && params.from > 0) {
    params = { factor: typeof params.factor === 'number' ? params.factor : Number((params.capacity / params.from).toFixed(2)) };
  }
  return { action, params, confidence, reasoning };
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r').catch(() => undefined);
  await fh?.sync().catch(() => undefined);
  await fh?.close();
}

/** Writes `text` to `file` whole or not at all: temporary file, fsync, rename, fsync the directory. */
export async function writeFileAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
  await fsyncDir(resolve(file, '..'));
}

export interface TrainingStoreOptions {
  /** Directory holding training.jsonl and its bookkeeping. */
  dir: string;
  nodeId: string;
  exportPath: string;
  autoExportThreshold: number;
  clock: Clock;
  log: Logger;
}

export class TrainingStore {
  private fh?: FileHandle;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly ids = new Set<string>();
  /** Complete (measured or finally unmeasured) lines in the file. */
  private complete = 0;
  /** Complete lines already exported automatically. */
  exported = 0;
  exports = 0;
  lastExport: string | null = null;

  private constructor(readonly file: string, private readonly opts: TrainingStoreOptions) {}

  /** Decisions recorded (pending or complete). */
  get count(): number { return this.ids.size; }

  /**
   * Opens (creating) the file, cutting a torn last line, completes the records a stopped node
   * left pending, and reads the export bookkeeping.
   */
  static async open(opts: TrainingStoreOptions): Promise<TrainingStore> {
    await mkdir(opts.dir, { recursive: true, mode: 0o700 });
    const store = new TrainingStore(join(opts.dir, TRAINING_FILE), opts);
    await store.repair();
    const lines = await readTrainingLines(store.file);
    for (const r of lines) store.note(r);
    store.fh = await open(store.file, 'a', 0o600);
    const left = foldById(lines).filter((r) => !isComplete(r));
    for (const r of left) await store.append({ ...r, outcome: STOPPED_OUTCOME }, false);
    if (left.length) opts.log.warn({ file: store.file, records: left.length }, 'Training data: completed records left pending by a node that stopped, unmeasured');
    try {
      const state = JSON.parse(await readFile(join(opts.dir, STATE_FILE), 'utf8')) as { exported?: number; exports?: number; last_export?: string };
      store.exported = Math.min(store.complete, Math.max(0, Math.floor(state.exported ?? 0)));
      store.exports = state.exports ?? 0;
      store.lastExport = state.last_export ?? null;
    } catch {
      // No bookkeeping yet (or unreadable): nothing has been exported.
    }
    return store;
  }

  private async repair(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    const end = text.lastIndexOf('\n') + 1;
    if (end < text.length) {
      const bytes = Buffer.byteLength(text.slice(0, end));
      await truncate(this.file, bytes);
      this.opts.log.warn({ file: this.file, dropped_bytes: Buffer.byteLength(text) - bytes }, 'Training data: cut a torn last line (the node stopped mid-write)');
    }
  }

  private note(r: TrainingRecord): void {
    this.ids.add(r.id);
    if (isComplete(r)) this.complete++;
  }

  /**
   * Appends one record as one line and fsyncs it; then exports automatically when due. A
   * record with a pending outcome is completed by appending the same id again.
   */
  append(record: TrainingRecord, autoExport = true): Promise<void> {
    const line = `${JSON.stringify(record)}\n`;
    const run = this.chain.then(async () => {
      if (!this.fh) throw new Error('training store is closed');
      await this.fh.write(line);
      await this.fh.datasync();
      this.note(record);
      if (autoExport && this.complete - this.exported >= this.opts.autoExportThreshold) await this.autoExport();
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Every recorded decision, its latest line, oldest decision first. */
  async read(): Promise<TrainingRecord[]> {
    await this.chain;
    return readTrainingFile(this.file);
  }

  private async autoExport(): Promise<void> {
    const all = (await readTrainingLines(this.file)).filter(isComplete);
    const fresh = all.slice(this.exported);
    if (fresh.length === 0) return;
    const dir = resolve(this.opts.exportPath);
    await mkdir(dir, { recursive: true });
    const stamp = new Date(this.opts.clock.now()).toISOString().replace(/[:.]/g, '-');
    const file = join(dir, `${this.opts.nodeId}-${stamp}.jsonl`);
    await writeFileAtomic(file, `${formatExport(fresh, 'jsonl').lines.join('\n')}\n`);
    this.exported = all.length;
    this.exports++;
    this.lastExport = file;
    await writeFileAtomic(join(this.opts.dir, STATE_FILE), `${JSON.stringify({ exported: this.exported, exports: this.exports, last_export: file })}\n`);
    this.opts.log.info({ file, records: fresh.length }, 'Training data exported');
  }

  async close(): Promise<void> {
    await this.chain;
    await this.fh?.close();
    this.fh = undefined;
  }
}

/**
 * A training file's decisions: the latest line of each, in the order they were first
 * recorded. A torn tail and lines that do not parse are skipped.
 */
export async function readTrainingFile(file: string): Promise<TrainingRecord[]> {
  return foldById(await readTrainingLines(file));
}

function foldById(lines: readonly TrainingRecord[]): TrainingRecord[] {
  // Setting a key a Map holds keeps its place: first recorded order, latest line.
  const latest = new Map<string, TrainingRecord>();
  for (const r of lines) latest.set(r.id, r);
  return [...latest.values()];
}

/** Every parseable line of a training file, in file order. */
async function readTrainingLines(file: string): Promise<TrainingRecord[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const complete = text.slice(0, text.lastIndexOf('\n') + 1);
  const out: TrainingRecord[] = [];
  for (const line of complete.split('\n')) {
    if (!line.trim()) continue;
    try {
      const r = JSON.parse(line) as TrainingRecord;
      if (r && typeof r === 'object' && r.v === TRAINING_RECORD_VERSION) out.push(r);
    } catch {
      // A line that does not parse cannot be a record; it is skipped, never fatal.
    }
  }
  return out;
}
