// `/mvp/model/1.0.0`: model files fetched by content from the peers that announce them.
//
// A manifest lists, per model, the file's sha256, its size and the root of the Merkle tree over
// its 1 MiB chunks (src/models/merkle.ts). One stream per chunk:
//   client → server:  {"sha256": "<hex>", "index": N}\n
//   server → client:  {"ok": true, "index": N, "leaves": L, "size": S, "bytes": B, "proof": ["<hex>", ...]}\n
//                     then exactly B raw bytes (the chunk), then the server closes;
//                  or {"ok": false, "code": "not_found" | "busy" | "not_shared", "error": "..."}\n
// The client checks each chunk against the announced root before writing it (at its offset in a
// `<sha256>.part` file); a sidecar `<sha256>.part.json` lists the verified chunks, so a pull
// interrupted by anything (a kill -9 included) resumes from them. Once every chunk is there the
// whole file's sha256 is checked, then the model validator runs, and only then is the file
// renamed to `<sha256>.gguf`.
//
// Blame (reputation.ts): a chunk that fails its proof → `bad_chunk`, and the source is dropped
// (the others finish the file); a peer that answers `not_found` for a model it announces →
// `false_announce`; a complete file whose sha256 or format is wrong → `false_announce` for every
// peer that announced that root (the next root announced for the sha256, if any, is tried).
import { open, readFile, rename, rm, statfs, writeFile, mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Stream } from '@libp2p/interface';
import { Uint8ArrayList } from 'uint8arraylist';
import { CHUNK_BYTES, MerkleTree, chunkCount, hashModelFile, verifyChunk } from '../../models/merkle.ts';
import { validateModel } from '../../models/index.ts';
import type { Logger } from '../../runtime/log.ts';
import type { Clock } from '../../runtime/clock.ts';
import { RateLimiter } from '../../market/reputation.ts';
import { CodedError } from '../../errors/registry.ts';

export const MODEL_PROTOCOL = '/mvp/model/1.0.0';
/** Chunk streams one peer may have open with us at once. */
export const MAX_MODEL_STREAMS = 16;
const MAX_HEADER_BYTES = 64 * 1024;
/** Sources fetched from at once. */
export const MAX_SOURCES = 4;
/** How long a chunk may take before its source is given up. */
const CHUNK_TIMEOUT_MS = 60_000;

export type PullErrorCode =
  | 'no_source' | 'disk_full' | 'hash_mismatch' | 'invalid_model' | 'sources_failed' | 'cancelled' | 'io_error';

/** A failed pull: registry code `pull_disk_full` for a full disk, else `pull_failed`; `reason` says which failure. */
export class ModelPullError extends CodedError {
  override name = 'ModelPullError';
  constructor(readonly reason: PullErrorCode, message: string) { super(reason === 'disk_full' ? 'pull_disk_full' : 'pull_failed', message); }
}

/** A file this node serves to peers. */
export interface SharedFile { sha256: string; path: string }

export interface ChunkRequest { sha256: string; index: number }
export type ChunkHeader =
  | { ok: true; index: number; leaves: number; size: number; bytes: number; proof: string[] }
  | { ok: false; code: 'not_found' | 'busy' | 'not_shared'; error: string };

export interface ShareLimits {
  share: boolean;
  /** Bytes per second over all peers; 0: no cap. */
  maxBytesPerSec: number;
  /** Chunks per second per peer. */
  chunksPerPeerPerSec: number;
}

// --- framing -----------------------------------------------------------------------------

async function send(stream: Stream, bytes: Uint8Array): Promise<void> {
  if (!stream.send(bytes)) await stream.onDrain();
}

const line = (v: unknown) => new TextEncoder().encode(`${JSON.stringify(v)}\n`);

/** Reads one JSON line, then (as `body` says from the header) that many bytes, to the stream's end; bounded. */
async function readFrame(stream: Stream, body: (header: unknown) => number): Promise<{ header: unknown; bytes: Uint8Array }> {
  const buf = new Uint8ArrayList();
  let header: unknown;
  let headerEnd = -1;
  let need = 0;
  for await (const chunk of stream) {
    buf.append(chunk);
    if (headerEnd < 0) {
      const flat = buf.subarray(0, Math.min(buf.byteLength, MAX_HEADER_BYTES + 1));
      headerEnd = flat.indexOf(0x0a);
      if (headerEnd < 0) {
        if (buf.byteLength > MAX_HEADER_BYTES) throw new Error(`header over ${MAX_HEADER_BYTES} bytes`);
        continue;
      }
      try { header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(flat.subarray(0, headerEnd))); } catch { throw new Error('header is not JSON'); }
      need = body(header);
    }
    if (buf.byteLength - headerEnd - 1 > need) throw new Error(`more bytes than the ${need} announced`);
  }
  if (headerEnd < 0) throw new Error('stream ended before a header');
  if (buf.byteLength - headerEnd - 1 !== need) throw new Error(`stream ended after ${buf.byteLength - headerEnd - 1} of ${need} bytes`);
  return { header, bytes: buf.subarray(headerEnd + 1) };
}

const isHex64 = (s: unknown): s is string => typeof s === 'string' && /^[0-9a-f]{64}$/.test(s);
const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

export function parseChunkRequest(v: unknown): ChunkRequest {
  const r = v as Partial<ChunkRequest> | null;
  if (!isHex64(r?.sha256) || !isCount(r.index)) throw new Error('chunk request must be { sha256: hex, index: integer ≥ 0 }');
  return { sha256: r.sha256, index: r.index };
}

export function parseChunkHeader(v: unknown): ChunkHeader {
  const h = v as Record<string, unknown> | null;
  if (h?.ok === false && typeof h.error === 'string' && (h.code === 'not_found' || h.code === 'busy' || h.code === 'not_shared')) {
    return { ok: false, code: h.code, error: h.error.slice(0, 512) };
  }
  if (h?.ok === true && isCount(h.index) && isCount(h.leaves) && isCount(h.size) && isCount(h.bytes) && h.bytes <= CHUNK_BYTES
    && Array.isArray(h.proof) && h.proof.length <= 64 && h.proof.every(isHex64)) {
    return { ok: true, index: h.index, leaves: h.leaves, size: h.size, bytes: h.bytes, proof: h.proof as string[] };
  }
  throw new Error('chunk answer is neither a chunk header nor an error');
}

// --- serving -----------------------------------------------------------------------------

/** The serving side: chunks of the files this node serves, with their proofs, within limits. */
export class ModelServer {
  private files = new Map<string, string>();
  private readonly trees = new Map<string, Promise<{ tree: MerkleTree; size: number }>>();
  private ready = new Set<string>();
  private readonly perPeer: RateLimiter;
  private budget: { tokens: number; at: number };
  readonly counters = { chunks_served: 0, bytes_served: 0, refused: 0 };

  constructor(private readonly limits: Readonly<ShareLimits>, private readonly clock: Clock, private readonly log: Logger) {
    this.perPeer = new RateLimiter({ perSec: limits.chunksPerPeerPerSec, burst: Math.max(1, limits.chunksPerPeerPerSec) });
    this.budget = { tokens: limits.maxBytesPerSec, at: clock.now() };
  }

  /**
   * The files served from now on (only models that passed the validator are ever given here).
   * Each is hashed now, in the background, so the first request does not wait for it; chunks
   * are read from disk at each request and proved against that tree (a file corrupted since is
   * caught by its clients' proofs, and a file whose content is not what its sha256 says by their
   * whole-file check).
   */
  setFiles(files: readonly SharedFile[]): void {
    this.files = new Map(files.map((f) => [f.sha256, f.path]));
    for (const sha of this.trees.keys()) if (!this.files.has(sha)) { this.trees.delete(sha); this.ready.delete(sha); }
    for (const [sha, path] of this.files) {
      this.tree(sha, path).then(() => { if (this.files.get(sha) === path) this.ready.add(sha); }, (err: Error) => this.log.warn({ sha256: sha, path, err: err.message }, 'Cannot hash a model file to share'));
    }
  }

  /** Files given, and those hashed and ready to serve. */
  get shared(): { files: number; ready: number } { return { files: this.files.size, ready: this.ready.size }; }

  async handle(stream: Stream, peer: string): Promise<void> {
    try {
      const { header } = await readFrame(stream, () => 0);
      const req = parseChunkRequest(header);
      const path = this.files.get(req.sha256);
      const refuse = async (code: 'not_found' | 'busy' | 'not_shared', error: string) => {
        this.counters.refused++;
        await send(stream, line({ ok: false, code, error } satisfies ChunkHeader));
        await stream.close();
      };
      if (!this.limits.share) return await refuse('not_shared', 'this node does not share model files ([models] share = false)');
      if (!path) return await refuse('not_found', `no model with sha256 ${req.sha256} is served here`);
      if (!this.perPeer.take(peer, this.clock.now())) return await refuse('busy', 'over the per-peer chunk rate; try again shortly');
      const { tree, size } = await this.tree(req.sha256, path);
      if (req.index >= tree.leaves.length) throw new Error(`no chunk ${req.index} (${tree.leaves.length} chunks)`);
      const bytes = Math.min(CHUNK_BYTES, size - req.index * CHUNK_BYTES);
      const chunk = Buffer.alloc(Math.max(0, bytes));
      const fh = await open(path, 'r');
      try { await fh.read(chunk, 0, chunk.length, req.index * CHUNK_BYTES); } finally { await fh.close(); }
      await this.spend(chunk.length);
      await send(stream, line({ ok: true, index: req.index, leaves: tree.leaves.length, size, bytes: chunk.length, proof: tree.proof(req.index) } satisfies ChunkHeader));
      await send(stream, chunk);
      await stream.close();
      this.counters.chunks_served++;
      this.counters.bytes_served += chunk.length;
    } catch (err) {
      this.log.debug({ peer, err: (err as Error).message }, 'Model chunk request refused');
      stream.abort(err as Error);
    }
  }

  private tree(sha256: string, path: string) {
    let t = this.trees.get(sha256);
    if (!t) {
      t = hashModelFile(path);
      this.trees.set(sha256, t);
      t.catch(() => this.trees.delete(sha256));
    }
    return t;
  }

  /** The bandwidth cap: waits until `bytes` fit the bucket (one second of budget at most). */
  private async spend(bytes: number): Promise<void> {
    const rate = this.limits.maxBytesPerSec;
    if (rate <= 0) return;
    for (;;) {
      const now = this.clock.now();
      this.budget = { tokens: Math.min(rate, this.budget.tokens + ((now - this.budget.at) / 1000) * rate), at: now };
      if (this.budget.tokens >= Math.min(bytes, rate)) { this.budget.tokens -= bytes; return; }
      const waitMs = Math.ceil(((Math.min(bytes, rate) - this.budget.tokens) / rate) * 1000);
      await new Promise<void>((r) => this.clock.setTimeout(r, Math.max(5, waitMs)));
    }
  }
}

// --- pulling -----------------------------------------------------------------------------

/** A peer announcing a model file: the root and size it announced with it. */
export interface ModelSource { peer: string; root: string; size: number; name: string }

export interface PullProgress {
  sha256: string;
  name: string;
  state: 'running' | 'done' | 'failed' | 'cancelled';
  size: number;
  chunks: number;
  verified_chunks: number;
  /** Chunks that were already verified on disk when this pull started (a resume). */
  resumed_chunks: number;
  bytes_done: number;
  sources: Array<{ peer: string; chunks: number; dropped?: string }>;
  started_at: number;
  finished_at?: number;
  path?: string;
  error?: { code: PullErrorCode; message: string };
}

export interface PullerDeps {
  clock: Clock;
  log: Logger;
  /** Opens a chunk stream to a peer. */
  dial(peer: string, signal: AbortSignal): Promise<Stream>;
  /** Who announces this sha256 now (from the manifests in the peer table). */
  sources(sha256: string): ModelSource[];
  blame(peer: string, offence: 'bad_chunk' | 'false_announce'): void;
  /** Free bytes where `dir` is (statfs, injected so a test can fill the disk). */
  freeBytes?(dir: string): Promise<number>;
}

interface Sidecar { sha256: string; root: string; size: number; chunk_bytes: number; verified: number[] }

async function defaultFreeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return Number(s.bavail) * Number(s.bsize);
}

/** The client side: one pull per sha256 at a time, several sources in parallel, resumable. */
export class ModelPuller {
  private readonly active = new Map<string, { progress: PullProgress; abort: AbortController; done: Promise<PullProgress> }>();
  private readonly finished: PullProgress[] = [];

  constructor(private readonly deps: PullerDeps) {}

  /** Pulls in progress, then the last 20 that ended, newest first. */
  list(): PullProgress[] {
    return [...[...this.active.values()].map((a) => ({ ...a.progress, sources: a.progress.sources.map((s) => ({ ...s })) })), ...this.finished];
  }

  /** Starts (or joins) the pull of `sha256` into `dir`; resolves when the file is in place as `<dir>/<sha256>.gguf`. */
  pull(sha256: string, dir: string): Promise<PullProgress> {
    const running = this.active.get(sha256);
    if (running) return running.done;
    const abort = new AbortController();
    const progress: PullProgress = {
      sha256, name: '', state: 'running', size: 0, chunks: 0, verified_chunks: 0, resumed_chunks: 0, bytes_done: 0, sources: [], started_at: this.deps.clock.now(),
    };
    const done = this.run(sha256, dir, progress, abort.signal).then(
      (path) => this.end(progress, 'done', { path }),
      (err: unknown) => {
        const full = (err as NodeJS.ErrnoException).code === 'ENOSPC';
        const e = err instanceof ModelPullError ? err
          : new ModelPullError(full ? 'disk_full' : 'io_error', `pulling model ${sha256} into ${dir} failed: ${(err as Error).message}${full ? ' (the disk is full; the verified chunks on disk are kept for a resume)' : ''}`);
        this.end(progress, e.reason === 'cancelled' ? 'cancelled' : 'failed', { error: { code: e.reason, message: e.message } });
        throw e;
      },
    );
    this.active.set(sha256, { progress, abort, done });
    done.catch(() => undefined);
    return done;
  }

  /** Stops a pull; its verified chunks stay on disk for a later resume. False if none runs. */
  cancel(sha256: string): boolean {
    const a = this.active.get(sha256);
    if (!a) return false;
    a.abort.abort(new ModelPullError('cancelled', `the pull of ${sha256} was cancelled (its verified chunks are kept for a resume)`));
    return true;
  }

  cancelAll(): void { for (const sha of this.active.keys()) this.cancel(sha); }

  private end(p: PullProgress, state: PullProgress['state'], extra: Partial<PullProgress>): PullProgress {
    Object.assign(p, { state, finished_at: this.deps.clock.now(), ...extra });
    this.active.delete(p.sha256);
    this.finished.unshift({ ...p });
    this.finished.splice(20);
    return p;
  }

  private async run(sha256: string, dir: string, progress: PullProgress, signal: AbortSignal): Promise<string> {
    const final = join(dir, `${sha256}.gguf`);
    if (await stat(final).then(() => true, () => false)) return final;
    const all = this.deps.sources(sha256);
    if (all.length === 0) throw new ModelPullError('no_source', `no peer announces a model with sha256 ${sha256} and a Merkle root`);
    // Peers may disagree on the root (a liar, or a bug): the root most announce first.
    const groups = new Map<string, ModelSource[]>();
    for (const s of all) groups.set(`${s.root}/${s.size}`, [...(groups.get(`${s.root}/${s.size}`) ?? []), s]);
    const ordered = [...groups.values()].sort((a, b) => b.length - a.length);
    const failed: ModelPullError[] = [];
    for (const group of ordered) {
      try {
        return await this.fetch(sha256, dir, group, progress, signal);
      } catch (err) {
        if (!(err instanceof ModelPullError) || (err.reason !== 'hash_mismatch' && err.reason !== 'invalid_model' && err.reason !== 'sources_failed')) throw err;
        failed.push(err);
        this.deps.log.warn({ sha256, root: group[0]!.root, err: err.message }, 'Model pull from one announced root failed');
      }
    }
    // The most announced root's failure first; the others after it.
    const [first, ...rest] = failed;
    throw rest.length === 0 ? first! : new ModelPullError(first!.reason, `${first!.message}; other roots announced: ${rest.map((e) => `${e.reason}: ${e.message}`).join('; ')}`);
  }

  private async fetch(sha256: string, dir: string, group: ModelSource[], progress: PullProgress, signal: AbortSignal): Promise<string> {
    const { root, size, name } = group[0]!;
    const n = chunkCount(size);
    Object.assign(progress, { name, size, chunks: n });
    await mkdir(dir, { recursive: true });
    const part = join(dir, `${sha256}.part`);
    const sidecarPath = `${part}.json`;
    const verified = await this.resumable(part, sidecarPath, { sha256, root, size });
    progress.resumed_chunks = verified.size;
    progress.verified_chunks = verified.size;
    progress.bytes_done = [...verified].reduce((sum, i) => sum + Math.min(CHUNK_BYTES, size - i * CHUNK_BYTES), 0);
    const missingBytes = size - progress.bytes_done;
    const free = await (this.deps.freeBytes ?? defaultFreeBytes)(dir);
    if (free < missingBytes) {
      throw new ModelPullError('disk_full', `not enough disk space in ${dir} for model ${sha256}: ${Math.ceil(missingBytes / 2 ** 20)} MiB needed, ${Math.floor(free / 2 ** 20)} MiB free`);
    }
    const fh = await open(part, verified.size > 0 ? 'r+' : 'w');
    let sidecarDirty = false;
    let sidecarWrite = Promise.resolve();
    const flush = () => {
      if (!sidecarDirty) return sidecarWrite;
      sidecarDirty = false;
      const body: Sidecar = { sha256, root, size, chunk_bytes: CHUNK_BYTES, verified: [...verified].sort((a, b) => a - b) };
      // Chunks reach the disk before the sidecar names them: a kill -9 never leaves a listed chunk unwritten.
      sidecarWrite = sidecarWrite.then(() => fh.datasync()).then(() => writeFile(`${sidecarPath}.tmp`, JSON.stringify(body))).then(() => rename(`${sidecarPath}.tmp`, sidecarPath));
      return sidecarWrite;
    };
    try {
      const queue = Array.from({ length: n }, (_, i) => i).filter((i) => !verified.has(i));
      const sources = group.slice(0, MAX_SOURCES).map((s) => ({ peer: s.peer, chunks: 0 } as PullProgress['sources'][number]));
      // Every source asked, over every root tried.
      progress.sources.push(...sources);
      const failures: string[] = [];
      let diskError: Error | undefined;
      const worker = async (src: PullProgress['sources'][number]) => {
        let busyBackoff = 0;
        while (queue.length > 0 && !signal.aborted && !diskError) {
          const index = queue.shift()!;
          let outcome: 'ok' | 'busy' | { drop: string; blame?: 'bad_chunk' | 'false_announce' };
          let chunk: Uint8Array | undefined;
          try {
            const got = await this.requestChunk(src.peer, sha256, index, signal);
            if (!got.header.ok) {
              outcome = got.header.code === 'busy' ? 'busy'
                : { drop: `${got.header.code}: ${got.header.error}`, ...(got.header.code === 'not_found' ? { blame: 'false_announce' as const } : {}) };
            } else if (got.header.index !== index || got.header.leaves !== n || got.header.size !== size || !verifyChunk(root, index, n, got.bytes, got.header.proof)
              || got.bytes.length !== Math.min(CHUNK_BYTES, size - index * CHUNK_BYTES)) {
              outcome = { drop: `chunk ${index} failed its Merkle proof`, blame: 'bad_chunk' };
            } else {
              outcome = 'ok';
              chunk = got.bytes;
            }
          } catch (err) {
            outcome = signal.aborted ? 'busy' : { drop: (err as Error).message };
          }
          if (outcome === 'ok') {
            try {
              await fh.write(chunk!, 0, chunk!.length, index * CHUNK_BYTES);
            } catch (err) {
              queue.unshift(index);
              diskError = err as Error;
              return;
            }
            verified.add(index);
            src.chunks++;
            progress.verified_chunks = verified.size;
            progress.bytes_done += chunk!.length;
            sidecarDirty = true;
            // Written after every chunk (writes queue behind one another): what a kill -9 costs is the chunks in flight.
            void flush().catch(() => undefined);
            busyBackoff = 0;
            continue;
          }
          queue.unshift(index);
          if (outcome === 'busy') {
            busyBackoff = Math.min(2000, busyBackoff * 2 || 50);
            await new Promise<void>((r) => this.deps.clock.setTimeout(r, busyBackoff));
            continue;
          }
          src.dropped = outcome.drop;
          failures.push(`${src.peer}: ${outcome.drop}`);
          if (outcome.blame) this.deps.blame(src.peer, outcome.blame);
          this.deps.log.warn({ sha256, peer: src.peer, reason: outcome.drop }, 'Model source dropped');
          return;
        }
      };
      await Promise.all(sources.map(worker));
      sidecarDirty = true;
      await flush();
      if (diskError) {
        const code = (diskError as NodeJS.ErrnoException).code;
        throw new ModelPullError(code === 'ENOSPC' ? 'disk_full' : 'io_error',
          `writing model ${sha256} to ${part} failed: ${diskError.message} (its ${verified.size} verified chunks are kept for a resume)`);
      }
      if (signal.aborted) throw signal.reason instanceof ModelPullError ? signal.reason : new ModelPullError('cancelled', 'cancelled');
      if (verified.size < n) throw new ModelPullError('sources_failed', `no source could send the rest of model ${sha256} (${verified.size}/${n} chunks verified): ${failures.join('; ')}`);
    } finally {
      await sidecarWrite.catch(() => undefined);
      await fh.close();
    }
    const whole = await hashModelFile(part);
    if (whole.sha256 !== sha256 || whole.size !== size) {
      await Promise.all([rm(part, { force: true }), rm(sidecarPath, { force: true })]);
      for (const s of group) this.deps.blame(s.peer, 'false_announce');
      throw new ModelPullError('hash_mismatch', `the file built from root ${root} has sha256 ${whole.sha256}, not ${sha256}: its announcers are blamed`);
    }
    try {
      await validateModel(part);
    } catch (err) {
      if ((err as Error).name !== 'ModelLoadError') throw new ModelPullError('invalid_model', (err as Error).message);
      await Promise.all([rm(part, { force: true }), rm(sidecarPath, { force: true })]);
      for (const s of group) this.deps.blame(s.peer, 'false_announce');
      throw new ModelPullError('invalid_model', `the file announced as model ${sha256} is not a model this node accepts: ${(err as Error).message}`);
    }
    const final = join(dir, `${sha256}.gguf`);
    await rename(part, final);
    await rm(sidecarPath, { force: true });
    this.deps.log.info({ sha256, path: final, bytes: size, resumed_chunks: progress.resumed_chunks, sources: progress.sources.map((s) => s.peer) }, 'Model pulled');
    return final;
  }

  /** The chunks a previous pull verified, when its sidecar matches; otherwise a fresh start. */
  private async resumable(part: string, sidecarPath: string, want: { sha256: string; root: string; size: number }): Promise<Set<number>> {
    try {
      const s = JSON.parse(await readFile(sidecarPath, 'utf8')) as Partial<Sidecar>;
      const n = chunkCount(want.size);
      if (s.sha256 === want.sha256 && s.root === want.root && s.size === want.size && s.chunk_bytes === CHUNK_BYTES && Array.isArray(s.verified)
        && (await stat(part)).isFile()) {
        return new Set(s.verified.filter((i) => isCount(i) && i < n));
      }
    } catch { /* no usable sidecar: start afresh */ }
    await Promise.all([rm(part, { force: true }), rm(sidecarPath, { force: true })]);
    return new Set();
  }

  private async requestChunk(peer: string, sha256: string, index: number, signal: AbortSignal): Promise<{ header: ChunkHeader; bytes: Uint8Array }> {
    const timeout = AbortSignal.any([signal, AbortSignal.timeout(CHUNK_TIMEOUT_MS)]);
    const stream = await this.deps.dial(peer, timeout);
    const onAbort = () => stream.abort(new Error('chunk request aborted'));
    timeout.addEventListener('abort', onAbort, { once: true });
    try {
      await send(stream, line({ sha256, index } satisfies ChunkRequest));
      await stream.close();
      let header: ChunkHeader | undefined;
      const { bytes } = await readFrame(stream, (h) => { header = parseChunkHeader(h); return header.ok ? header.bytes : 0; });
      return { header: header!, bytes };
    } finally {
      timeout.removeEventListener('abort', onAbort);
    }
  }
}
