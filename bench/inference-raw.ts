// Raw node-llama-cpp vs the same generation through an inference:<model> actor (real supervisor,
// pool worker, tokens streamed to a requesting actor), on the `small` test model (SmolLM-135M
// shape): 128 tokens greedy, one job and 4 concurrent jobs (sequences of one context), for
// threads 1 and 2. Prints one line per measurement and a summary table.
//
//   node --import tsx --import ./src/polyfill.ts bench/inference-raw.ts
//   BENCH_ROUNDS=3 BENCH_TOKENS=128 BENCH_THREADS=1,2 ... (defaults shown)
import { fileURLToPath } from 'node:url';
import { cpus } from 'node:os';
import { getLlama, LlamaCompletion, LlamaLogLevel, type LlamaModel } from 'node-llama-cpp';
import { InlineHost, ThreadHost } from '../src/runtime/host.ts';
import { Supervisor } from '../src/runtime/supervisor.ts';
import { systemClock } from '../src/runtime/clock.ts';
import { createLogger } from '../src/runtime/log.ts';
import { loadConfig } from '../src/config/index.ts';
import type { InferenceArgs } from '../src/actors/inference/index.ts';
import type { ClientGenerate, ClientResult } from '../test/fixtures/inference-client-actor.ts';
import { testModelPath } from '../test/helpers/test-model.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const TOKENS = Number(process.env.BENCH_TOKENS ?? 128);
const THREADS = (process.env.BENCH_THREADS ?? '1,2').split(',').map(Number);
const SEQUENCES = 4;
const CONTEXT = 1024;
const PROMPT = 'The quick brown fox jumps over the lazy dog. Once upon a time';

interface Run { tokens: number; ms: number }
const rate = (r: Run) => (r.tokens * 1000) / r.ms;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function rawRuns(model: LlamaModel, threads: number) {
  const context = await model.createContext({ contextSize: CONTEXT, sequences: SEQUENCES, threads });
  const sequences = Array.from({ length: SEQUENCES }, () => context.getSequence());
  const one = async (i: number, maxTokens: number): Promise<number> => {
    const seq = sequences[i]!;
    await seq.clearHistory();
    const completion = new LlamaCompletion({ contextSequence: seq });
    let tokens = 0;
    await completion.generateCompletion(PROMPT, { maxTokens, temperature: 0, onToken: (t) => { tokens += t.length; } });
    completion.dispose({ disposeSequence: false });
    return tokens;
  };
  await one(0, 8); // warm-up
  const single: Run[] = [];
  const batch: Run[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    let t0 = performance.now();
    single.push({ tokens: await one(0, TOKENS), ms: performance.now() - t0 });
    t0 = performance.now();
    const counts = await Promise.all(sequences.map((_, i) => one(i, TOKENS)));
    batch.push({ tokens: counts.reduce((a, b) => a + b, 0), ms: performance.now() - t0 });
  }
  await context.dispose();
  return { single, batch };
}

async function actorRuns(path: string, threads: number) {
  const config = loadConfig({ env: {} });
  const logOptions = { level: 'warn' as const, nodeId: 'bench', pretty: false };
  const log = createLogger(logOptions);
  const env = { config, clock: systemClock, log, logOptions };
  const args: InferenceArgs = { path, name: 'small', threads, contextSize: CONTEXT, sequences: SEQUENCES };
  const sup = new Supervisor({
    strategy: 'one_for_one', intensity: 3, periodMs: 5000, clock: systemClock, log,
    hosts: { inline: new InlineHost(env), thread: new ThreadHost(env) },
    children: [
      { name: 'inference:small', module: fileURLToPath(new URL('../src/actors/inference/index.ts', import.meta.url)), restart: 'permanent', shutdownMs: 5000, placement: 'inline', args },
      { name: 'client', module: fileURLToPath(new URL('../test/fixtures/inference-client-actor.ts', import.meta.url)), restart: 'permanent', shutdownMs: 2000, placement: 'inline' },
    ],
  });
  await sup.start();
  let n = 0;
  const one = async (maxTokens: number): Promise<ClientResult> => {
    const spec: ClientGenerate = { to: 'inference:small', job: { job_id: `b${++n}`, prompt: PROMPT, max_tokens: maxTokens, temperature: 0 } };
    const out = await sup.request<ClientResult>('client', { type: 'client.generate', ...spec }, 600_000);
    if (out.result.status !== 'completed') throw new Error(`job ${out.result.job_id} ${out.result.status}: ${out.result.reason}`);
    return out;
  };
  await one(8); // warm-up
  const single: Run[] = [];
  const batch: Run[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    let t0 = performance.now();
    single.push({ tokens: (await one(TOKENS)).result.tokens_out, ms: performance.now() - t0 });
    t0 = performance.now();
    const outs = await Promise.all(Array.from({ length: SEQUENCES }, () => one(TOKENS)));
    batch.push({ tokens: outs.reduce((a, o) => a + o.result.tokens_out, 0), ms: performance.now() - t0 });
  }
  await sup.stop();
  return { single, batch };
}

const path = await testModelPath('small');
console.log(`# inference-raw: small test model (${path}), ${TOKENS} tokens greedy, ${SEQUENCES} sequences, context ${CONTEXT}/sequence, ${ROUNDS} rounds, ${cpus().length} CPUs, node ${process.version}`);
const llama = await getLlama({ gpu: false, logLevel: LlamaLogLevel.error });
const model = await llama.loadModel({ modelPath: path });

const rows: string[] = [];
for (const threads of THREADS) {
  const raw = await rawRuns(model, threads);
  const actor = await actorRuns(path, threads);
  for (const [what, runs] of [['raw 1 job', raw.single], ['raw 4 jobs', raw.batch], ['actor 1 job', actor.single], ['actor 4 jobs', actor.batch]] as const) {
    console.log(`threads=${threads} ${what.padEnd(13)} ${runs.map((r) => `${r.tokens} tok in ${r.ms.toFixed(0)} ms = ${rate(r).toFixed(1)} tok/s`).join(' | ')}`);
  }
  const m = (rs: Run[]) => median(rs.map(rate));
  rows.push(`| ${threads} | ${m(raw.single).toFixed(1)} | ${m(actor.single).toFixed(1)} | ${(m(actor.single) / m(raw.single)).toFixed(2)}× `
    + `| ${m(raw.batch).toFixed(1)} | ${m(actor.batch).toFixed(1)} | ${(m(actor.batch) / m(raw.batch)).toFixed(2)}× | ${(m(raw.batch) / m(raw.single)).toFixed(2)}× |`);
}
await model.dispose();
await llama.dispose();

console.log('\nmedian tokens/s (wall clock, request to reply, prompt evaluation included)');
console.log('| threads | raw 1 job | actor 1 job | actor/raw | raw 4 jobs (aggregate) | actor 4 jobs (aggregate) | actor/raw | raw batching gain |');
console.log('|---|---|---|---|---|---|---|---|');
for (const r of rows) console.log(r);
