// A node's one embedded store: LevelDB through datastore-level, in `<data_dir>/<node-id>/store/`.
// It holds the receipt ledger, job history and small named values (block list, reputation,
// known peers, orchestration state). Writes go through one
// queue committed in groups: a group that holds a receipt is written with `sync` (LevelDB
// fsyncs its log before the write returns), so many receipts share one fsync; job history
// rides along unsynced and may lag. Counts and sequence numbers are written in the same atomic
// batch as the records they count, which is how a check tells a damaged store from a whole one.
import { readdir, stat, unlink, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { LevelDatastore } from 'datastore-level';
import { MemoryLevel } from 'memory-level';
import { ClassicLevel } from 'classic-level';
import { LRUCache } from 'lru-cache';
import type { ReceiptEnvelope } from '../protocol/receipt.ts';
import { verifyReceipt } from '../protocol/receipt.ts';
import type { JobRecord } from '../actors/scheduler/messages.ts';
import { InvalidCursorError, StoreCorruptError, StoreLockedError, StoreWriteError } from './errors.ts';
import { SCHEMA_VERSION, legacyLedgerFile, readSchemaVersion, schemaFile, storeDir, writeSchemaVersion } from './layout.ts';

export type ReceiptRole = 'client' | 'executor' | 'replica';
export const RECEIPT_ROLES: readonly ReceiptRole[] = Object.freeze(['client', 'executor', 'replica']);

export interface StoredReceipt { seq: string; roles: ReceiptRole[]; stored_at: number; receipt: ReceiptEnvelope }
export type StoredJob = JobRecord & { seq: string };

/** `before`: older than the cursor, newest first; `after`: newer than it, oldest first; neither: the newest. */
export interface PageQuery { before?: string; after?: string; limit: number }
/** `next`: the cursor to pass again (as the same `before` / `after`) for the following page; null at the end. */
export interface Page<T> { items: T[]; next: string | null }

/** A receipt put: `stored` new, `already` held (roles merged), `conflict` another receipt holds its job id. */
export interface ReceiptPut { seq: string; outcome: 'stored' | 'already' | 'conflict' }

export interface PruneLimits { receipts_max_age_days: number; receipts_max_count: number; jobs_max_age_days: number; jobs_max_count: number }

export interface StoreStatus {
  path: string | null;
  writable: boolean;
  /** Why the last write failed, while writes fail. */
  error?: string;
  receipts: number;
  jobs: number;
  /** Bytes of the store's files on disk (null for an in-memory store). */
  size_bytes: number | null;
  commits: number;
  synced_commits: number;
}

export interface CheckReport {
  healthy: boolean;
  path: string;
  schema_version: number;
  receipts: number;
  jobs: number;
  problems: string[];
  note?: string;
}

interface Counters { receipt_seq: number; job_seq: number; receipts: number; jobs: number }
interface Delta { receipts: number; jobs: number }
type Op = { type: 'put'; key: string; value: Uint8Array } | { type: 'del'; key: string };
interface Pending { ops: Op[]; durable: boolean; delta: Delta; resolve: () => void; reject: (e: Error) => void }

const META = '/mvp/meta/counters';
const R = '/mvp/r/';
const RJ = '/mvp/rj/';
const J = '/mvp/j/';
const JI = '/mvp/ji/';
const KV = '/mvp/kv/';
/** Sorts after every digit: the end of a sequence-numbered range. */
const END = '~';
const SEQ_WIDTH = 16;

const enc = new TextEncoder();
const dec = new TextDecoder();
const pad = (n: number) => String(n).padStart(SEQ_WIDTH, '0');
const json = (v: unknown) => enc.encode(JSON.stringify(v));
const parse = <T>(b: Uint8Array): T => JSON.parse(dec.decode(b)) as T;

function cursor(c: string): number {
  if (!/^\d{1,15}$/.test(c)) throw new InvalidCursorError(`not a cursor: ${JSON.stringify(c)} (a cursor is the seq of an item)`);
  return Number(c);
}

/** The command a user runs to repair a node's store, or the advice to move it aside. */
export function repairAdvice(nodeDir: string): string {
  const dir = storeDir(nodeDir);
  return `run \`mvp-node data repair --data-dir ${dirname(nodeDir)} --node-id ${basename(nodeDir)}\` to recover what it holds, ` +
    `or move it aside (\`mv ${dir} ${dir}.broken\`) to start with an empty store`;
}

export interface OpenOptions {
  /** The node's directory; absent: an in-memory store (simulated nodes). */
  nodeDir?: string;
  /** Version 0's election ledger lived in `<data_dir>/consensus/<peer id>.json`: migrated when given. */
  legacy?: { dataDir: string; peerId: string };
  /** Create the store when the directory has none yet (a node starting); the CLI's check does not. */
  create?: boolean;
  /** Count the records against the store's own counts at open (default true; a check reports instead). */
  verify?: boolean;
  now?: () => number;
  log?: { info(o: object, m: string): void; warn(o: object, m: string): void };
  /** Called when writes start failing (false) or work again (true). */
  onWritable?: (writable: boolean, error?: string) => void;
}

export async function openStore(opts: OpenOptions = {}): Promise<NodeStore> {
  if (opts.nodeDir === undefined) {
    const ds = new LevelDatastore(new MemoryLevel<string, Uint8Array>({ keyEncoding: 'utf8', valueEncoding: 'view' }) as never);
    await ds.open();
    const s = new NodeStore(ds, null, opts);
    await s.load(true);
    return s;
  }
  const nodeDir = opts.nodeDir;
  const version = await readSchemaVersion(nodeDir);
  const path = storeDir(nodeDir);
  if (version === 0 && !opts.create) {
    throw new StoreCorruptError(`${nodeDir} has no store yet (schema version 0): a node started with it creates one`);
  }
  const ds = new LevelDatastore(path);
  try {
    await openLevel(ds, version === 0);
  } catch (err) {
    throw openError(err, nodeDir, version);
  }
  const s = new NodeStore(ds, path, opts);
  try {
    await s.load(opts.verify ?? true);
    if (version === 0) await migrateFromV0(s, nodeDir, opts);
  } catch (err) {
    await ds.close().catch(() => undefined);
    throw err;
  }
  return s;
}

/**
 * Opens the datastore's LevelDB ourselves: datastore-level's own open() keeps only the outer
 * message ("Database failed to open"), and the user needs LevelDB's (it names the file).
 */
async function openLevel(ds: LevelDatastore, create: boolean): Promise<void> {
  await ds.db.open({ createIfMissing: create, compression: false } as never);
}

function openError(err: unknown, nodeDir: string, version: number): Error {
  const e = err as Error & { code?: string; cause?: Error };
  const msg = e.cause?.message ? `${e.message}: ${e.cause.message}` : e.message;
  const path = storeDir(nodeDir);
  if (e.code === 'LEVEL_LOCKED' || /lock/i.test(msg)) {
    return new StoreLockedError(`Store ${path} is in use by another process (a running node): stop it first, or ask the running node through its API (${msg})`);
  }
  if (version > 0 && /does not exist|No such file/i.test(msg)) {
    // LevelDB says the database does not exist when its CURRENT file is gone: name the file.
    const what = existsSync(path) ? `${join(path, 'CURRENT')} is missing` : `${path} is missing`;
    return new StoreCorruptError(`Store ${path} is incomplete: ${what} (${msg}), though ${schemaFile(nodeDir)} says a store exists: ${repairAdvice(nodeDir)}`);
  }
  return new StoreCorruptError(`Store ${path} cannot be opened: ${msg}: ${repairAdvice(nodeDir)}`);
}

/** Version 0 → 1: the orchestration JSON file moves into the store, then the directory is marked. */
async function migrateFromV0(s: NodeStore, nodeDir: string, opts: OpenOptions): Promise<void> {
  let legacy: string | undefined;
  if (opts.legacy) {
    const file = legacyLedgerFile(opts.legacy.dataDir, opts.legacy.peerId);
    let text: string | undefined;
    try { text = await readFile(file, 'utf8'); } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new StoreCorruptError(`Cannot migrate ${file} into the store: ${(err as Error).message}`);
    }
    if (text !== undefined) {
      let state: unknown;
      try { state = JSON.parse(text); } catch (err) {
        throw new StoreCorruptError(`Cannot migrate ${file} into the store: not JSON (${(err as Error).message}); ` +
          'move it aside to start with an empty orchestration state (the node will then cast no vote it may already have cast in an open epoch until that epoch ends)');
      }
      await s.putValue('orchestration', state, true);
      legacy = file;
    }
  }
  await writeSchemaVersion(nodeDir, SCHEMA_VERSION);
  if (legacy) {
    await unlink(legacy);
    opts.log?.info({ from: legacy, to: storeDir(nodeDir) }, 'Migrated the orchestration state into the store');
  }
  opts.log?.info({ dir: nodeDir, from: 0, to: SCHEMA_VERSION }, 'Data directory upgraded');
}

export class NodeStore {
  private counters: Counters = { receipt_seq: 0, job_seq: 0, receipts: 0, jobs: 0 };
  /** What the queue has admitted, ahead of what is committed. */
  private seqs = { receipt: 0, job: 0 };
  private readonly queue: Pending[] = [];
  private draining = false;
  /** Admission (read the index, choose a seq) is one step at a time, so two puts never race. */
  private admission: Promise<unknown> = Promise.resolve();
  private readonly receiptsInFlight = new Map<string, { rec: StoredReceipt; done: Promise<void> }>();
  private readonly jobSeqs = new LRUCache<string, number>({ max: 4096 });
  private writeError: string | undefined;
  private stats = { commits: 0, synced_commits: 0 };
  private closed = false;
  private readonly now: () => number;

  constructor(readonly datastore: LevelDatastore, readonly path: string | null, private readonly opts: OpenOptions) {
    this.now = opts.now ?? Date.now;
  }

  private get db() { return this.datastore.db; }

  /** Reads the counters; with `verify`, counts the records and refuses a store that disagrees. */
  async load(verify: boolean): Promise<void> {
    const raw = await this.db.get(META).catch((err: Error) => { throw this.corrupt(`reading ${META}: ${err.message}`); });
    if (raw !== undefined) {
      try { this.counters = parse<Counters>(raw); } catch (err) { throw this.corrupt(`${META} is not JSON (${(err as Error).message})`); }
    }
    this.seqs = { receipt: this.counters.receipt_seq, job: this.counters.job_seq };
    if (!verify) return;
    let receipts: number; let jobs: number;
    try {
      receipts = await this.countKeys(R);
      jobs = await this.countKeys(J);
    } catch (err) {
      throw this.corrupt(`reading it failed: ${(err as Error).message}`);
    }
    if (receipts !== this.counters.receipts || jobs !== this.counters.jobs) {
      throw this.corrupt(`it holds ${receipts} receipts and ${jobs} jobs where its records say ${this.counters.receipts} and ${this.counters.jobs}`);
    }
  }

  private corrupt(why: string): StoreCorruptError {
    const where = this.path ?? 'in-memory store';
    return new StoreCorruptError(`Store ${where} is damaged: ${why}` + (this.path ? `: ${repairAdvice(dirname(this.path))}` : ''));
  }

  private async countKeys(prefix: string): Promise<number> {
    let n = 0;
    const it = this.db.keys({ gte: prefix, lt: prefix + END });
    try {
      for (;;) {
        const batch = await it.nextv(1000);
        if (batch.length === 0) return n;
        n += batch.length;
      }
    } finally { await it.close(); }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.draining || this.queue.length > 0) await new Promise((r) => setTimeout(r, 5));
    await this.datastore.close();
  }

  // --- the write queue ---------------------------------------------------------------------

  private admit<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.admission.then(fn);
    this.admission = p.catch(() => undefined);
    return p;
  }

  private enqueue(ops: Op[], durable: boolean, delta: Delta = { receipts: 0, jobs: 0 }): Promise<void> {
    if (this.closed) return Promise.reject(new StoreWriteError('the store is closed'));
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ ops, durable, delta, resolve, reject });
      void this.drain();
    });
  }

  /** Commits everything queued as one batch, then whatever queued meanwhile: group commit. */
  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.queue.length > 0) {
        const group = this.queue.splice(0);
        const next: Counters = {
          receipt_seq: this.seqs.receipt, job_seq: this.seqs.job,
          receipts: this.counters.receipts + group.reduce((n, g) => n + g.delta.receipts, 0),
          jobs: this.counters.jobs + group.reduce((n, g) => n + g.delta.jobs, 0),
        };
        const ops = [...group.flatMap((g) => g.ops), { type: 'put' as const, key: META, value: json(next) }];
        const sync = group.some((g) => g.durable);
        try {
          await this.db.batch(ops, { sync });
        } catch (err) {
          const msg = (err as Error).message;
          const e = new StoreWriteError(`Store write failed (${this.path ?? 'memory'}): ${msg}`);
          for (const g of group) g.reject(e);
          if (this.writeError === undefined) this.opts.onWritable?.(false, msg);
          this.writeError = msg;
          continue;
        }
        this.counters = next;
        this.stats.commits++;
        if (sync) this.stats.synced_commits++;
        if (this.writeError !== undefined) { this.writeError = undefined; this.opts.onWritable?.(true); }
        for (const g of group) g.resolve();
      }
    } finally {
      this.draining = false;
    }
  }

  get writable(): boolean { return this.writeError === undefined; }

  // --- receipts ----------------------------------------------------------------------------

  /** Stores a receipt; resolves once it is fsynced (or was already). */
  async putReceipt(receipt: ReceiptEnvelope, role: ReceiptRole): Promise<ReceiptPut> {
    const jobId = receipt.body.job_id;
    const step = await this.admit(async (): Promise<{ put: ReceiptPut; wait: Promise<void> }> => {
      const flying = this.receiptsInFlight.get(jobId);
      const seqText = flying?.rec.seq ?? await this.getText(RJ + jobId);
      if (seqText !== undefined) {
        const held = flying?.rec ?? await this.getJson<StoredReceipt>(R + pad(Number(seqText)));
        if (!held) throw this.corrupt(`index ${RJ}${jobId} points to a missing receipt ${seqText}`);
        if (held.receipt.id !== receipt.id) return { put: { seq: held.seq, outcome: 'conflict' }, wait: Promise.resolve() };
        if (held.roles.includes(role)) return { put: { seq: held.seq, outcome: 'already' }, wait: flying?.done ?? Promise.resolve() };
        const rec = { ...held, roles: [...held.roles, role] };
        return { put: { seq: held.seq, outcome: 'already' }, wait: this.track(jobId, rec, [{ type: 'put', key: R + pad(Number(rec.seq)), value: json(rec) }], 0) };
      }
      const seq = ++this.seqs.receipt;
      const rec: StoredReceipt = { seq: String(seq), roles: [role], stored_at: this.now(), receipt };
      const ops: Op[] = [{ type: 'put', key: R + pad(seq), value: json(rec) }, { type: 'put', key: RJ + jobId, value: enc.encode(String(seq)) }];
      return { put: { seq: rec.seq, outcome: 'stored' }, wait: this.track(jobId, rec, ops, 1) };
    });
    await step.wait;
    return step.put;
  }

  private track(jobId: string, rec: StoredReceipt, ops: Op[], added: number): Promise<void> {
    const done = this.enqueue(ops, true, { receipts: added, jobs: 0 });
    const entry = { rec, done };
    this.receiptsInFlight.set(jobId, entry);
    const clear = () => { if (this.receiptsInFlight.get(jobId) === entry) this.receiptsInFlight.delete(jobId); };
    done.then(clear, clear);
    return done;
  }

  async receipt(jobId: string): Promise<StoredReceipt | undefined> {
    const seq = await this.getText(RJ + jobId);
    return seq === undefined ? undefined : this.getJson<StoredReceipt>(R + pad(Number(seq)));
  }

  receipts(q: PageQuery): Promise<Page<StoredReceipt>> { return this.page<StoredReceipt>(R, q); }

  // --- jobs --------------------------------------------------------------------------------

  /** Records a job's latest state. Not synced: history may lag a crash, never the receipts. */
  recordJob(record: JobRecord): Promise<void> {
    return this.admit(async () => {
      let seq = this.jobSeqs.get(record.id);
      if (seq === undefined) {
        const text = await this.getText(JI + record.id);
        if (text !== undefined) seq = Number(text);
      }
      const ops: Op[] = [];
      let added = 0;
      if (seq === undefined) {
        seq = ++this.seqs.job;
        ops.push({ type: 'put', key: JI + record.id, value: enc.encode(String(seq)) });
        added = 1;
      }
      this.jobSeqs.set(record.id, seq);
      ops.push({ type: 'put', key: J + pad(seq), value: json({ ...record, seq: String(seq) } satisfies StoredJob) });
      // Wrapped: a promise returned as such would make admission wait for the commit.
      return { commit: this.enqueue(ops, false, { receipts: 0, jobs: added }) };
    }).then((a) => a.commit);
  }

  async job(id: string): Promise<StoredJob | undefined> {
    const seq = await this.getText(JI + id);
    return seq === undefined ? undefined : this.getJson<StoredJob>(J + pad(Number(seq)));
  }

  jobs(q: PageQuery & { status?: string }): Promise<Page<StoredJob>> {
    const status = q.status;
    return this.page<StoredJob>(J, q, status === undefined ? undefined : (j) => j.status === status);
  }

  // --- named values (block list, reputation, orchestration state) ---------------------------

  async getValue<T>(name: string): Promise<T | undefined> { return this.getJson<T>(KV + checkName(name)); }

  putValue(name: string, value: unknown, durable: boolean): Promise<void> {
    return this.enqueue([{ type: 'put', key: KV + checkName(name), value: json(value) }], durable);
  }

  deleteValue(name: string, durable: boolean): Promise<void> {
    return this.enqueue([{ type: 'del', key: KV + checkName(name) }], durable);
  }

  /** Every value whose name starts with `prefix`, by name. */
  async values<T>(prefix: string): Promise<Array<{ name: string; value: T }>> {
    const from = KV + checkName(prefix);
    const out: Array<{ name: string; value: T }> = [];
    for await (const [k, v] of this.db.iterator({ gte: from, lt: from + '\uffff' })) out.push({ name: k.slice(KV.length), value: parse<T>(v) });
    return out;
  }

  // --- reading -----------------------------------------------------------------------------

  private async getText(key: string): Promise<string | undefined> {
    const v = await this.db.get(key);
    return v === undefined ? undefined : dec.decode(v);
  }

  private async getJson<T>(key: string): Promise<T | undefined> {
    const v = await this.db.get(key);
    return v === undefined ? undefined : parse<T>(v);
  }

  /** One page of a sequence-numbered range, read from one iterator (a snapshot of the store). */
  private async page<T extends { seq: string }>(prefix: string, q: PageQuery, keep?: (t: T) => boolean): Promise<Page<T>> {
    const limit = Math.max(1, Math.min(1000, Math.floor(q.limit)));
    const range = q.after !== undefined
      ? { gt: prefix + pad(cursor(q.after)), lt: prefix + END }
      : { gte: prefix, lt: q.before !== undefined ? prefix + pad(cursor(q.before)) : prefix + END, reverse: true };
    const items: T[] = [];
    let more = false;
    const it = this.db.iterator(range);
    try {
      for (;;) {
        const batch = await it.nextv(Math.min(1000, limit + 1));
        if (batch.length === 0) break;
        for (const [, v] of batch) {
          const t = parse<T>(v);
          if (keep && !keep(t)) continue;
          if (items.length === limit) { more = true; break; }
          items.push(t);
        }
        if (more) break;
      }
    } finally { await it.close(); }
    return { items, next: more ? items[items.length - 1]!.seq : null };
  }

  // --- upkeep ------------------------------------------------------------------------------

  /** Deletes receipts and jobs past the configured age or count (0: no limit). Returns how many went. */
  prune(limits: PruneLimits): Promise<{ receipts: number; jobs: number }> {
    return this.admit(async () => {
      const now = this.now();
      const day = 86_400_000;
      const receipts = await this.pruneRange<StoredReceipt>(R, this.counters.receipts, limits.receipts_max_count,
        limits.receipts_max_age_days > 0 ? (r) => r.stored_at < now - limits.receipts_max_age_days * day : undefined,
        (r) => [{ type: 'del', key: RJ + r.receipt.body.job_id }]);
      const jobs = await this.pruneRange<StoredJob>(J, this.counters.jobs, limits.jobs_max_count,
        limits.jobs_max_age_days > 0 ? (j) => (j.finished_at ?? j.queued_at) < now - limits.jobs_max_age_days * day : undefined,
        (j) => { this.jobSeqs.delete(j.id); return [{ type: 'del', key: JI + j.id }]; });
      const commit = this.enqueue([...receipts.ops, ...jobs.ops], false, { receipts: -receipts.n, jobs: -jobs.n });
      return { commit: commit.then(() => ({ receipts: receipts.n, jobs: jobs.n })) };
    }).then((a) => a.commit);
  }

  private async pruneRange<T extends { seq: string }>(prefix: string, count: number, maxCount: number,
    tooOld: ((t: T) => boolean) | undefined, alsoDelete: (t: T) => Op[]): Promise<{ n: number; ops: Op[] }> {
    const over = maxCount > 0 ? Math.max(0, count - maxCount) : 0;
    if (over === 0 && !tooOld) return { n: 0, ops: [] };
    const ops: Op[] = [];
    let n = 0;
    for await (const [k, v] of this.db.iterator({ gte: prefix, lt: prefix + END })) {
      const t = parse<T>(v);
      if (n >= over && !(tooOld?.(t) ?? false)) break;
      ops.push({ type: 'del', key: k }, ...alsoDelete(t));
      n++;
    }
    return { n, ops };
  }

  async status(): Promise<StoreStatus> {
    return {
      path: this.path, writable: this.writable, ...(this.writeError !== undefined ? { error: this.writeError } : {}),
      receipts: this.counters.receipts, jobs: this.counters.jobs,
      size_bytes: this.path ? await dirSize(this.path) : null,
      ...this.stats,
    };
  }

  /** Reads every record: each parses, receipts verify, indexes agree, nothing twice, counts match. */
  async check(): Promise<Omit<CheckReport, 'path' | 'schema_version'>> {
    const problems: string[] = [];
    const note = (p: string) => { if (problems.length < 50) problems.push(p); };
    const byJob = new Map<string, string>();
    const ids = new Set<string>();
    let receipts = 0;
    for await (const [k, v] of this.db.iterator({ gte: R, lt: R + END })) {
      receipts++;
      let rec: StoredReceipt;
      try { rec = parse<StoredReceipt>(v); } catch { note(`${k}: not JSON`); continue; }
      if (k !== R + pad(Number(rec.seq))) note(`${k}: holds seq ${rec.seq}`);
      const verdict = await verifyReceipt(rec.receipt);
      if (!verdict.ok) { note(`${k}: receipt does not verify (${verdict.check}: ${verdict.reason})`); continue; }
      const jobId = rec.receipt.body.job_id;
      if (byJob.has(jobId)) note(`${k}: a second receipt for job ${jobId} (first: seq ${byJob.get(jobId)})`);
      else byJob.set(jobId, rec.seq);
      if (ids.has(rec.receipt.id)) note(`${k}: receipt ${rec.receipt.id} stored twice`);
      ids.add(rec.receipt.id);
      if (!rec.roles.every((r) => RECEIPT_ROLES.includes(r))) note(`${k}: unknown role in ${JSON.stringify(rec.roles)}`);
    }
    let indexed = 0;
    for await (const [k, v] of this.db.iterator({ gte: RJ, lt: RJ + '\uffff' })) {
      indexed++;
      const jobId = k.slice(RJ.length);
      if (byJob.get(jobId) !== dec.decode(v)) note(`${k}: points to seq ${dec.decode(v)}, the receipt for that job is ${byJob.get(jobId) ?? 'missing'}`);
    }
    if (indexed !== byJob.size) note(`${indexed} receipt index entries for ${byJob.size} receipts`);
    const jobSeqs = new Map<string, string>();
    let jobs = 0;
    for await (const [k, v] of this.db.iterator({ gte: J, lt: J + END })) {
      jobs++;
      let j: StoredJob;
      try { j = parse<StoredJob>(v); } catch { note(`${k}: not JSON`); continue; }
      if (jobSeqs.has(j.id)) note(`${k}: job ${j.id} recorded twice`);
      jobSeqs.set(j.id, j.seq);
    }
    for await (const [k, v] of this.db.iterator({ gte: JI, lt: JI + '\uffff' })) {
      const id = k.slice(JI.length);
      if (jobSeqs.get(id) !== dec.decode(v)) note(`${k}: points to seq ${dec.decode(v)}, the job's record is ${jobSeqs.get(id) ?? 'missing'}`);
    }
    if (receipts !== this.counters.receipts) note(`${receipts} receipts where the store's count says ${this.counters.receipts}`);
    if (jobs !== this.counters.jobs) note(`${jobs} jobs where the store's count says ${this.counters.jobs}`);
    return { healthy: problems.length === 0, receipts, jobs, problems };
  }

  /**
   * Rebuilds indexes and counts from the records (after LevelDB's own repair): records that do
   * not parse or verify go, the first receipt per job stays. Returns what was dropped.
   */
  async rebuild(): Promise<{ receipts: number; jobs: number; dropped: string[] }> {
    const dropped: string[] = [];
    const ops: Op[] = [];
    const byJob = new Map<string, number>();
    const ids = new Set<string>();
    for await (const [k] of this.db.iterator({ gte: RJ, lt: RJ + '\uffff' })) ops.push({ type: 'del', key: k });
    for await (const [k] of this.db.iterator({ gte: JI, lt: JI + '\uffff' })) ops.push({ type: 'del', key: k });
    let maxR = this.counters.receipt_seq;
    for await (const [k, v] of this.db.iterator({ gte: R, lt: R + END })) {
      let rec: StoredReceipt | undefined;
      try { rec = parse<StoredReceipt>(v); } catch { rec = undefined; }
      const ok = rec !== undefined && k === R + pad(Number(rec.seq)) && (await verifyReceipt(rec.receipt)).ok
        && !byJob.has(rec.receipt.body.job_id) && !ids.has(rec.receipt.id);
      if (!ok) { ops.push({ type: 'del', key: k }); dropped.push(k); continue; }
      byJob.set(rec!.receipt.body.job_id, Number(rec!.seq));
      ids.add(rec!.receipt.id);
      maxR = Math.max(maxR, Number(rec!.seq));
      ops.push({ type: 'put', key: RJ + rec!.receipt.body.job_id, value: enc.encode(rec!.seq) });
    }
    const jobIds = new Set<string>();
    let maxJ = this.counters.job_seq;
    for await (const [k, v] of this.db.iterator({ gte: J, lt: J + END })) {
      let j: StoredJob | undefined;
      try { j = parse<StoredJob>(v); } catch { j = undefined; }
      if (!j || jobIds.has(j.id) || k !== J + pad(Number(j.seq))) { ops.push({ type: 'del', key: k }); dropped.push(k); continue; }
      jobIds.add(j.id);
      maxJ = Math.max(maxJ, Number(j.seq));
      ops.push({ type: 'put', key: JI + j.id, value: enc.encode(j.seq) });
    }
    const counters: Counters = { receipt_seq: maxR, job_seq: maxJ, receipts: byJob.size, jobs: jobIds.size };
    ops.push({ type: 'put', key: META, value: json(counters) });
    await this.db.batch(ops, { sync: true });
    this.counters = counters;
    this.seqs = { receipt: maxR, job: maxJ };
    return { receipts: counters.receipts, jobs: counters.jobs, dropped };
  }
}

function checkName(name: string): string {
  if (!/^[A-Za-z0-9_.:/-]+$/.test(name)) throw new TypeError(`not a store value name: ${JSON.stringify(name)}`);
  return name;
}

async function dirSize(dir: string): Promise<number> {
  let total = 0;
  for (const f of await readdir(dir).catch(() => [] as string[])) {
    const s = await stat(join(dir, f)).catch(() => undefined);
    if (s?.isFile()) total += s.size;
  }
  return total;
}

/** `mvp-node data check` on a stopped node's directory. */
export async function checkDataDir(nodeDir: string): Promise<CheckReport> {
  const path = storeDir(nodeDir);
  const version = await readSchemaVersion(nodeDir);
  if (version === 0) return { healthy: true, path, schema_version: 0, receipts: 0, jobs: 0, problems: [], note: 'no store yet: the next node start creates it' };
  const s = await openStore({ nodeDir, verify: false });
  try {
    return { path, schema_version: version, ...(await s.check()) };
  } finally {
    await s.close();
  }
}

/**
 * `mvp-node data repair`: LevelDB's repair (it salvages what its files still hold), then the
 * indexes and counts rebuilt from the records, then a check.
 */
export async function repairDataDir(nodeDir: string): Promise<{ dropped: string[]; report: CheckReport }> {
  const path = storeDir(nodeDir);
  const version = await readSchemaVersion(nodeDir);
  if (version === 0) throw new StoreCorruptError(`${nodeDir} has no store yet (schema version 0): nothing to repair`);
  try {
    await ClassicLevel.repair(path);
  } catch (err) {
    throw new StoreCorruptError(`LevelDB could not repair ${path}: ${(err as Error).message}: move it aside (\`mv ${path} ${path}.broken\`) to start with an empty store`);
  }
  const ds = new LevelDatastore(path);
  try { await openLevel(ds, false); } catch (err) { throw openError(err, nodeDir, version); }
  const s = new NodeStore(ds, path, {});
  try {
    await s.load(false);
    const { dropped } = await s.rebuild();
    return { dropped, report: { path, schema_version: version, ...(await s.check()) } };
  } finally {
    await s.close();
  }
}
