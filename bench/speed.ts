// The job path against raw node-llama-cpp, side by side in one run, on the `small` test model
// (a SmolLM-135M-shaped q4_0 GGUF written by the project's generator). One node runs as its own
// process, started by the CLI (`mvp-node -m small.gguf`, TCP on 127.0.0.1, threaded placement,
// the node's default threads); raw node-llama-cpp runs in this process while the node is idle.
//
//  P1  one BENCH_TOKENS-token job (default 512) submitted by the CLI (`mvp-node submit -b <node>`,
//      a separate process) ÷ raw with one sequence at its best thread count (threads 1..cores
//      swept, a context of 1 sequence). The rate is the streaming rate as the user sees it:
//      tokens after the first ÷ (last output − first output) on the CLI's stdout; raw the same
//      on node-llama-cpp's onToken. Dispatch and prompt evaluation are P3's business. Also
//      printed: the whole job, submit → last token, over raw's prompt + generation.
//  P2  4 concurrent jobs from one joined light client (submit → last receipt, aggregate
//      tokens/s) ÷ raw 4 sequences of one context at its best fixed thread count (swept).
//  P3  dispatch overhead: a joined client's submit → first token, minus raw prompt evaluation
//      plus one token, median over BENCH_DISPATCH jobs (default 50), ÷ the signed one-hop gossip
//      round trip (bench/gossip-rtt.ts, median of as many).
//  S   a 1-token `mvp-node submit` end to end (process start → exit, receipt verified by the
//      CLI): through the network (`-b <node>`: its own libp2p node, join) and through the local
//      node's API (no -b: the node found by <data_dir>/<node-id>/api.json). Median of BENCH_SUBMITS.
//
// Each round runs raw then the job side, so a change of machine load hits both alike; ratios are
// medians of per-round pairs. Prints the load average, one JSON line per measurement, then a table.
//
//   npm run bench:speed
//   BENCH_TOKENS=512 BENCH_ROUNDS=5 BENCH_DISPATCH=50 BENCH_SUBMITS=5 npm run bench:speed   (defaults)
import os from 'node:os';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getLlama, LlamaCompletion, LlamaLogLevel, type LlamaContext, type LlamaContextSequence } from 'node-llama-cpp';
import { LightClient } from '../src/client/submit.ts';
import { gossipPair } from './gossip-rtt.ts';
import { testModelPath } from '../test/helpers/test-model.ts';
import { median, r1, r2, rate } from './stats.ts';

const TOKENS = Number(process.env.BENCH_TOKENS ?? 512);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const DISPATCH = Number(process.env.BENCH_DISPATCH ?? 50);
const SUBMITS = Number(process.env.BENCH_SUBMITS ?? 5);
const JOBS = 4;
const SWEEP_CAP_MS = 20_000;
const PROMPT = 'The quick brown fox jumps over the lazy dog. Once upon a time';
const GOALS = { p1: 0.95, p2: 0.95, p3: 5, submitMs: 1000 };
const CORES = os.availableParallelism();
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin/mvp-node.js');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const load = () => os.loadavg().map(r2).join(' ');
const emit = (o: object) => console.log(JSON.stringify(o));

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)); });
  });
}

// --- the node: its own process, started by the CLI -------------------------------------------

const modelPath = await testModelPath('small');
console.log(`# speed: small test model (${modelPath}), ${TOKENS} tokens greedy, ${ROUNDS} rounds, ${DISPATCH} dispatch jobs, `
  + `${SUBMITS} CLI submits per way, ${CORES} cores, node ${process.version}`);
console.log(`# loadavg at start: ${load()}`);

const dir = await mkdtemp(join(os.tmpdir(), 'bench-speed-'));
const dataDir = join(dir, 'data');
const port = await freePort();
const boot = `/ip4/127.0.0.1/tcp/${port}`;
// This machine may be shared: let the node claim whatever the load average says.
await writeFile(join(dir, 'config.toml'), '[executor]\nmax_load_per_core = 1000\n');
const cliEnv = { ...process.env, MVP_NODE_CONFIG: join(dir, 'config.toml'), MVP_NODE_DATA_DIR: dataDir };
const nodeLog: string[] = [];
const nodeProc = spawn(process.execPath, [BIN, '--node-id', 'bench-speed', '--port', String(port), '--data-dir', dataDir, '-m', modelPath, '--log-level', 'warn'],
  { cwd: ROOT, env: cliEnv, stdio: ['ignore', 'pipe', 'pipe'] });
for (const s of [nodeProc.stdout, nodeProc.stderr]) s.on('data', (b: Buffer) => nodeLog.push(...String(b).split('\n').filter(Boolean)));
let nodeExited = false;
nodeProc.once('exit', () => { nodeExited = true; });
const stopNode = async () => {
  if (nodeExited) return;
  nodeProc.kill('SIGTERM');
  for (let i = 0; i < 150 && !nodeExited; i++) await sleep(100);
  if (!nodeExited) nodeProc.kill('SIGKILL');
};
process.once('exit', () => { if (!nodeExited) nodeProc.kill('SIGKILL'); });

async function nodeReady(): Promise<string> {
  const end = performance.now() + 180_000;
  while (performance.now() < end) {
    if (nodeExited) throw new Error(`the node exited:\n${nodeLog.slice(-20).join('\n')}`);
    try {
      const { url } = JSON.parse(await readFile(join(dataDir, 'bench-speed', 'api.json'), 'utf8')) as { url: string };
      const h = await (await fetch(`${url}/health`)).json() as { models?: Record<string, string> };
      if (Object.values(h.models ?? {}).includes('loaded')) return url;
    } catch { /* not yet */ }
    await sleep(200);
  }
  throw new Error('the node did not serve its model within 180 s');
}
const apiUrl = await nodeReady();
console.log(`# node listening on ${boot}, API ${apiUrl}`);

// --- raw node-llama-cpp ----------------------------------------------------------------------

const llama = await getLlama({ gpu: false, logLevel: LlamaLogLevel.error });
const rawModel = await llama.loadModel({ modelPath });
const contextSize = 2048;

interface RawRun { tokens: number; text: string; ms: number; firstMs: number; lastMs: number }

async function rawOne(seq: LlamaContextSequence, maxTokens: number, capMs?: number): Promise<RawRun> {
  await seq.clearHistory();
  const completion = new LlamaCompletion({ contextSequence: seq });
  let tokens = 0;
  let text = '';
  let first = NaN;
  let last = NaN;
  const t0 = performance.now();
  await completion.generateCompletion(PROMPT, {
    maxTokens, temperature: 0, ...(capMs ? { signal: AbortSignal.timeout(capMs), stopOnAbortSignal: true } : {}),
    onToken: (t) => { tokens += t.length; last = performance.now(); if (Number.isNaN(first)) first = last; },
    onTextChunk: (c) => { text += c; },
  });
  const ms = performance.now() - t0;
  completion.dispose({ disposeSequence: false });
  return { tokens, text, ms, firstMs: first - t0, lastMs: last - t0 };
}
/** Steady generation rate: tokens after the first over first → last token. */
const streamRate = (r: { tokens: number; firstMs: number; lastMs: number }) => rate(r.tokens - 1, r.lastMs - r.firstMs);

async function rawBatch(seqs: LlamaContextSequence[], maxTokens: number, capMs?: number): Promise<{ tokens: number; ms: number }> {
  const t0 = performance.now();
  const runs = await Promise.all(seqs.map((s) => rawOne(s, maxTokens, capMs)));
  return { tokens: runs.reduce((a, r) => a + r.tokens, 0), ms: performance.now() - t0 };
}

/**
 * The best thread count for `sequences` sequences (threads 1..cores, one run each after a
 * warm-up). Each run stops after SWEEP_CAP_MS: on a loaded machine a count that spins on
 * descheduled threads can be a hundred times slower, and its rate is known well before the end.
 */
async function sweep(sequences: number): Promise<{ threads: number; context: LlamaContext; seqs: LlamaContextSequence[]; rates: Record<number, number> }> {
  const rates: Record<number, number> = {};
  let best: { threads: number; rate: number } | undefined;
  for (let threads = 1; threads <= CORES; threads++) {
    const context = await rawModel.createContext({ contextSize, sequences, threads });
    const seqs = Array.from({ length: sequences }, () => context.getSequence());
    await rawOne(seqs[0]!, 8);
    const r = sequences === 1 ? streamRate(await rawOne(seqs[0]!, TOKENS, SWEEP_CAP_MS)) : (({ tokens, ms }) => rate(tokens, ms))(await rawBatch(seqs, TOKENS, SWEEP_CAP_MS));
    rates[threads] = r1(r);
    emit({ what: `raw sweep, ${sequences} sequence${sequences > 1 ? 's' : ''}`, threads, tokens_per_s: r1(r) });
    await context.dispose();
    if (!best || r > best.rate) best = { threads, rate: r };
  }
  const context = await rawModel.createContext({ contextSize, sequences, threads: best!.threads });
  return { threads: best!.threads, context, seqs: Array.from({ length: sequences }, () => context.getSequence()), rates };
}

// --- the CLI, as a user runs it ----------------------------------------------------------------

interface CliRun { ms: number; tokens: number; receiptTokensPerS: number; firstMs: number; lastMs: number; code: number | null; stderr: string }

/** `mvp-node submit ...`: wall time, and when its stdout carried the first and the last output. */
function cli(args: string[]): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(process.execPath, [BIN, 'submit', ...args], { cwd: ROOT, env: cliEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let first = NaN;
    let last = NaN;
    let out = '';
    let err = '';
    p.stdout.on('data', (b: Buffer) => {
      const s = String(b);
      out += s;
      if (s.trim() === '') return; // the final newline
      last = performance.now();
      if (Number.isNaN(first)) first = last;
    });
    p.stderr.on('data', (b: Buffer) => { err += String(b); });
    p.once('error', reject);
    p.once('exit', (code) => {
      const ms = performance.now() - t0;
      const m = /(\d+) tokens at ([\d.]+) tokens\/s/.exec(err);
      if (code !== 0 || !m) { reject(new Error(`mvp-node submit ${args.join(' ')} exited ${code}: ${err.trim()}`)); return; }
      resolve({ ms, tokens: Number(m[1]), receiptTokensPerS: Number(m[2]), firstMs: first - t0, lastMs: last - t0, code, stderr: err });
    });
  });
}

// --- the run ---------------------------------------------------------------------------------

const client = await LightClient.join({ bootstrap: [boot], timeoutMs: 30_000 });
async function job(maxTokens: number): Promise<{ tokens: number; ms: number; firstMs: number; text: string; execFirstMs: number; queueMs: number }> {
  let first = NaN;
  const t0 = performance.now();
  const r = await client.submit({
    prompt: PROMPT, maxTokens, temperature: 0, priority: 'normal', timeoutMs: 300_000,
    onToken: () => { if (Number.isNaN(first)) first = performance.now() - t0; },
  });
  if (r.receipt.body.status !== 'completed') throw new Error(`job ${r.receipt.body.status}: ${r.receipt.body.reason ?? ''}`);
  const tm = r.receipt.body.timings;
  return { tokens: r.receipt.body.tokens_out, ms: performance.now() - t0, firstMs: first, text: r.text, execFirstMs: tm.first_token_ms ?? NaN, queueMs: tm.queue_ms };
}
await job(8); // warm-up: the node's first job, the client's connection

const one = await sweep(1);
const four = await sweep(JOBS);
console.log(`# raw best: ${one.threads} thread(s) for one sequence (${JSON.stringify(one.rates)}), ${four.threads} for ${JOBS} (${JSON.stringify(four.rates)})`);
await cli(['-b', boot, '--max-tokens', '1', '--temperature', '0', PROMPT]); // warm-up: the CLI's caches

const M = {
  raw1: [] as number[], p1: [] as number[], p1Receipt: [] as number[], p1Whole: [] as number[], job1: [] as number[], job1Whole: [] as number[],
  raw4: [] as number[], job4: [] as number[], p2: [] as number[],
  overhead: [] as number[], execFirst: [] as number[], queue: [] as number[], path: [] as number[], rawFirst: [] as number[], jobFirst: [] as number[], rtt: [] as number[],
  submitNet: [] as number[], submitApi: [] as number[], version: [] as number[],
};
for (let round = 1; round <= ROUNDS; round++) {
  const raw = await rawOne(one.seqs[0]!, TOKENS);
  const c = await cli(['-b', boot, '--max-tokens', String(TOKENS), '--temperature', '0', PROMPT]);
  const rawRate = streamRate(raw);
  const jobRate = rate(c.tokens - 1, c.lastMs - c.firstMs);
  M.raw1.push(rawRate); M.job1.push(jobRate); M.p1.push(jobRate / rawRate);
  M.p1Receipt.push(c.receiptTokensPerS / rate(raw.tokens, raw.ms));
  M.p1Whole.push(rate(c.tokens, c.lastMs) / rate(raw.tokens, raw.ms)); M.job1Whole.push(rate(c.tokens, c.lastMs));
  emit({
    what: 'P1 one job', round, raw: { threads: one.threads, tokens: raw.tokens, stream_tokens_per_s: r1(rawRate), first_token_ms: r1(raw.firstMs), ms: r1(raw.ms) },
    cli: { tokens: c.tokens, stream_tokens_per_s: r1(jobRate), receipt_tokens_per_s: c.receiptTokensPerS, first_output_ms: r1(c.firstMs), last_output_ms: r1(c.lastMs), exit_ms: r1(c.ms) },
    ratio: r2(jobRate / rawRate),
  });

  const raw4 = await rawBatch(four.seqs, TOKENS);
  const t0 = performance.now();
  const j4 = await Promise.all(Array.from({ length: JOBS }, () => job(TOKENS)));
  const ms4 = performance.now() - t0;
  const tokens4 = j4.reduce((a, j) => a + j.tokens, 0);
  M.raw4.push(rate(raw4.tokens, raw4.ms)); M.job4.push(rate(tokens4, ms4)); M.p2.push(rate(tokens4, ms4) / rate(raw4.tokens, raw4.ms));
  emit({
    what: `P2 ${JOBS} jobs`, round, raw: { threads: four.threads, tokens: raw4.tokens, ms: r1(raw4.ms), tokens_per_s: r1(rate(raw4.tokens, raw4.ms)) },
    jobs: { tokens: tokens4, ms: r1(ms4), tokens_per_s: r1(rate(tokens4, ms4)) }, ratio: r2(rate(tokens4, ms4) / rate(raw4.tokens, raw4.ms)),
  });
}

// P3: raw prompt + one token, then the same through the path, interleaved; then the gossip RTT.
for (let i = 0; i < DISPATCH; i++) {
  const raw = await rawOne(one.seqs[0]!, 1);
  const j = await job(1);
  M.rawFirst.push(raw.ms); M.jobFirst.push(j.firstMs); M.overhead.push(j.firstMs - raw.ms);
  M.execFirst.push(j.execFirstMs); M.queue.push(j.queueMs); M.path.push(j.firstMs - j.execFirstMs);
}
emit({ what: 'P3 dispatch', jobs: DISPATCH, raw_prompt_plus_one_ms: r1(median(M.rawFirst)), submit_to_first_token_ms: r1(median(M.jobFirst)), overhead_ms: r1(median(M.overhead)),
  // Where it goes: the executor's own job start → first token (scheduler queue, inference actor, prompt), and the rest (offer, claim, stream, hops).
  executor_first_token_ms: r1(median(M.execFirst)), executor_queue_ms: r1(median(M.queue)), network_and_hops_ms: r1(median(M.path)) });
await client.close();
const gossip = await gossipPair();
for (let i = 0; i < 10; i++) await gossip.roundTrip(true);
for (let i = 0; i < DISPATCH; i++) M.rtt.push(await gossip.roundTrip(true));
await gossip.stop();
emit({ what: 'signed one-hop gossip round trip', samples: DISPATCH, median_ms: r2(median(M.rtt)) });

// S: a 1-token submit from the CLI, both ways; and the CLI's bare start for reference.
for (let i = 0; i < SUBMITS; i++) {
  M.submitNet.push((await cli(['-b', boot, '--max-tokens', '1', '--temperature', '0', PROMPT])).ms);
  M.submitApi.push((await cli(['--max-tokens', '1', '--temperature', '0', PROMPT])).ms);
  const t0 = performance.now();
  await new Promise((resolve) => spawn(process.execPath, [BIN, '--version'], { cwd: ROOT, stdio: 'ignore' }).once('exit', resolve));
  M.version.push(performance.now() - t0);
}
emit({ what: '1-token submit', via_network_ms: M.submitNet.map(r1), via_local_api_ms: M.submitApi.map(r1), cli_version_ms: M.version.map(r1) });

await stopNode();
await rm(dir, { recursive: true, force: true });
const warnings = nodeLog.filter((l) => /warn|error/i.test(l));
if (warnings.length) console.log(`# node warnings/errors (${warnings.length}):\n${warnings.slice(0, 10).join('\n')}`);

// --- the table ---------------------------------------------------------------------------------

const rows: Array<[string, string, string, string, string]> = [
  ['P1 one job, streaming tokens/s', `${r1(median(M.raw1))} (${one.threads} thr)`, r1(median(M.job1)).toString(), r2(median(M.p1)).toString(), `≥ ${GOALS.p1}`],
  ['P1 executor-signed rate (receipt)', '(raw prompt+gen)', '', r2(median(M.p1Receipt)).toString(), 'info'],
  ['P1b one job incl. dispatch+prompt', '(raw prompt+gen)', r1(median(M.job1Whole)).toString(), r2(median(M.p1Whole)).toString(), 'info'],
  [`P2 ${JOBS} jobs, aggregate tokens/s`, `${r1(median(M.raw4))} (${four.threads} thr)`, r1(median(M.job4)).toString(), r2(median(M.p2)).toString(), `≥ ${GOALS.p2}`],
  ['P3 dispatch overhead ms / gossip RTT ms', `${r2(median(M.rtt))} RTT`, `${r1(median(M.overhead))} ms`, r2(median(M.overhead) / median(M.rtt)).toString(), `≤ ${GOALS.p3}`],
  ['S 1-token submit, via network (-b)', '—', `${Math.round(median(M.submitNet))} ms`, '—', `< ${GOALS.submitMs} ms`],
  ['S 1-token submit, via local node API', '—', `${Math.round(median(M.submitApi))} ms`, '—', `< ${GOALS.submitMs} ms`],
  ['  (CLI start alone: --version)', '—', `${Math.round(median(M.version))} ms`, '—', 'info'],
];
const w = [40, 22, 14, 8, 10];
console.log('\n' + ['measure', 'raw', 'job path', 'ratio', 'target'].map((h, i) => h.padEnd(w[i]!)).join(' | '));
console.log(w.map((n) => '-'.repeat(n)).join('-|-'));
for (const r of rows) console.log(r.map((c, i) => c.padEnd(w[i]!)).join(' | '));
console.log(`\n# loadavg at end: ${load()}`);
process.exit(0);
