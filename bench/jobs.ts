// Jobs through the network path against raw node-llama-cpp, on the `small` test model
// (SmolLM-135M shape), measured side by side in one process and one run:
//
//  1. one job: raw node-llama-cpp (getLlama, one context of 4 sequences, LlamaCompletion, greedy,
//     BENCH_TOKENS tokens, prompt evaluation included) against the same generation submitted as a
//     job through the full path — a real node (createNode, TCP on 127.0.0.1, the small model as
//     `model.path`) and the light client `submitJob` (client → gossip work_offer → job_claim →
//     job_assign → /mvp/job/1.0.0 stream → tokens → signed receipt). Tokens are counted the same
//     way on both sides (node-llama-cpp's onToken: the receipt's tokens_out on the job side).
//  2. 4 concurrent jobs (4 submitJob calls at once, the node's model has 4 sequences) against raw
//     node-llama-cpp running 4 sequences of one context at once; aggregate tokens/s.
//  3. dispatch overhead: a job with max_tokens = 1 against a one-hop gossip round trip between
//     two libp2p nodes (buildLibp2p, TCP on loopback: A publishes, B answers on another topic).
//
// Job timings, all on this process's clock: `client` is submitJob's wall time (submit → it
// returns: includes the client's own libp2p start, join — dial + manifest sync —, and stop);
// `offer→receipt` is what an observer libp2p node subscribed to the work and receipt topics
// sees (first work_offer → receipt gossiped by the executor: the client's join and teardown
// excluded); `receipt` is the generation rate the executor signs (tokens_out / generation_ms).
// The observer also splits each job into phases (see `Phases`): join, claim, choose (the
// client's claim window), open, execute, deliver, teardown.
//
// Also in the same rounds, to tell where a gap comes from: the inference actor alone (supervisor,
// pool worker, tokens streamed to a requesting actor; no network, as bench/inference-raw.ts),
// a step-by-step replica of the client's join (its own libp2p node, dial, manifest sync, wait for
// a work-topic subscriber), and a count of job messages gossipsub's publish() delivered to no peer.
//
// Threads: the node's choice (`model.threads`, else defaultThreads() by model size), used by the
// raw baseline and the actor too, and printed; BENCH_THREADS=n sets all three. Each round runs
// raw, actor, job, then raw ×4, actor ×4, jobs ×4, then the dispatch jobs and gossip round trips,
// so a change of machine load hits every side alike; the table gives medians over the rounds.
// Prints the load average at start and end, one JSON line per measurement, then tables.
//
//   npm run bench:jobs
//   BENCH_ROUNDS=3 BENCH_TOKENS=128 BENCH_DISPATCH=5 BENCH_GOSSIP=40 BENCH_THREADS=<node's> ... (defaults)
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { getLlama, LlamaCompletion, LlamaLogLevel, type LlamaContextSequence } from 'node-llama-cpp';
import { createNode } from '../src/node/create-node.ts';
import { resolveModels, SEQUENCES_PER_MODEL } from '../src/node/models.ts';
import { submitJob, type SubmitResult } from '../src/client/submit.ts';
import { buildLibp2p, type NetworkNode } from '../src/actors/network/libp2p.ts';
import { RECEIPT_TOPIC, WORK_TOPIC } from '../src/protocol/topics.ts';
import { SYNC_PROTOCOL, parseResponse, readJson, writeJson } from '../src/actors/network/sync.ts';
import { createEnvelopeInspector, encodeEnvelope, sealEnvelope } from '../src/protocol/index.ts';
import { createLogger } from '../src/runtime/log.ts';
import { gossipPair } from './gossip-rtt.ts';
import { InlineHost, ThreadHost } from '../src/runtime/host.ts';
import { Supervisor } from '../src/runtime/supervisor.ts';
import { systemClock } from '../src/runtime/clock.ts';
import type { InferenceArgs } from '../src/actors/inference/index.ts';
import type { ClientGenerate, ClientResult } from '../test/fixtures/inference-client-actor.ts';
import { testConfig } from '../test/helpers/config.ts';
import { testModelPath } from '../test/helpers/test-model.ts';
import { median, r1, r2, rate } from './stats.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const TOKENS = Number(process.env.BENCH_TOKENS ?? 128);
/** max_tokens = 1 jobs per round. */
const DISPATCH = Number(process.env.BENCH_DISPATCH ?? 5);
/** Gossip round trips per round (after a warm-up). */
const GOSSIP = Number(process.env.BENCH_GOSSIP ?? 40);
const THREADS = process.env.BENCH_THREADS ? Number(process.env.BENCH_THREADS) : undefined;
const JOBS = SEQUENCES_PER_MODEL;
const PROMPT = 'The quick brown fox jumps over the lazy dog. Once upon a time';
const GOALS = { single: 0.95, batch: 0.9, dispatch: 5 };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const load = () => os.loadavg().map(r2);
const emit = (o: object) => console.log(JSON.stringify(o));

async function until(cond: () => boolean, ms: number, what: string, pollMs = 20): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(pollMs);
  }
}

// --- setup -------------------------------------------------------------------------------

const modelPath = await testModelPath('small');
console.log(`# jobs: small test model (${modelPath}), ${TOKENS} tokens greedy, ${JOBS} sequences, ${ROUNDS} rounds, `
  + `${DISPATCH} dispatch jobs and ${GOSSIP} gossip round trips per round, ${os.cpus().length} CPUs, node ${process.version}`);
console.log(`# loadavg at start: ${load().join(' ')}`);

// The node logs warnings and errors here: printed at the end, so a job path problem is not missed.
const nodeLog: string[] = [];
const logSink = new Writable({ write(chunk, _enc, cb) { nodeLog.push(...String(chunk).split('\n').filter(Boolean)); cb(); } });
const config = testConfig({
  node: { node_id: 'bench-exec', listen_host: '127.0.0.1', listen_port: 0 },
  model: { path: modelPath, name: 'small', ...(THREADS ? { threads: THREADS } : {}) },
  // This machine is shared: let the load manager claim whatever the load average says.
  executor: { max_load_per_core: 1000 },
  monitoring: { log_level: 'warn' },
});
const [served] = await resolveModels(config, createLogger({ level: 'error', nodeId: 'bench', pretty: false }));
const threads = served!.threads;
const contextSize = config.model.max_context_length;
console.log(`# threads: ${threads} (${THREADS ? 'BENCH_THREADS' : config.model.threads ? 'model.threads' : `defaultThreads(${(served!.manifest.params / 1e6).toFixed(0)}M params)`}), `
  + `node and raw alike; context ${contextSize} tokens per sequence × ${served!.sequences} sequences`);

const node = await createNode(config, { logDestination: logSink });
await node.start();
const boot = (await node.network()).listen.find((a) => a.includes('/tcp/'))!;
console.log(`# node ${node.peerId} listening on ${boot}`);

const llama = await getLlama({ gpu: false, logLevel: LlamaLogLevel.error });
const rawModel = await llama.loadModel({ modelPath });
const rawContext = await rawModel.createContext({ contextSize, sequences: JOBS, threads });
const rawSequences = Array.from({ length: JOBS }, () => rawContext.getSequence());

// --- the inference actor alone (no network): where the node's own generation path stands ------

// As bench/inference-raw.ts: an inference:<model> actor (its own pool worker holding the model)
// and a requesting actor under one supervisor, same threads, context and sequences as the node.
const actorLogOptions = { level: 'warn' as const, nodeId: 'bench-actor', pretty: false };
const actorLog = createLogger({ ...actorLogOptions, destination: logSink });
const actorEnv = { config, clock: systemClock, log: actorLog, logOptions: actorLogOptions };
const actorSup = new Supervisor({
  strategy: 'one_for_one', intensity: 3, periodMs: 5000, clock: systemClock, log: actorLog,
  hosts: { inline: new InlineHost(actorEnv), thread: new ThreadHost(actorEnv) },
  children: [
    {
      name: 'inference:small', module: fileURLToPath(new URL('../src/actors/inference/index.ts', import.meta.url)), restart: 'permanent', shutdownMs: 12_000, placement: 'inline',
      args: { path: modelPath, name: 'small', threads, contextSize, sequences: JOBS } satisfies InferenceArgs,
    },
    { name: 'client', module: fileURLToPath(new URL('../test/fixtures/inference-client-actor.ts', import.meta.url)), restart: 'permanent', shutdownMs: 2000, placement: 'inline' },
  ],
});
await actorSup.start();
let actorJobs = 0;
async function actorJob(maxTokens: number): Promise<number> {
  const spec: ClientGenerate = { to: 'inference:small', job: { job_id: `a${++actorJobs}`, prompt: PROMPT, max_tokens: maxTokens, temperature: 0 } };
  const out = await actorSup.request<ClientResult>('client', { type: 'client.generate', ...spec }, 600_000);
  if (out.result.status !== 'completed') throw new Error(`actor job ${out.result.status}: ${out.result.reason}`);
  return out.result.tokens_out;
}

// --- raw node-llama-cpp ----------------------------------------------------------------------

interface RawRun { tokens: number; text: string; ms: number }

async function rawOne(seq: LlamaContextSequence, maxTokens: number): Promise<RawRun> {
  await seq.clearHistory();
  const completion = new LlamaCompletion({ contextSequence: seq });
  let tokens = 0;
  let text = '';
  const t0 = performance.now();
  await completion.generateCompletion(PROMPT, {
    maxTokens, temperature: 0, onToken: (t) => { tokens += t.length; }, onTextChunk: (c) => { text += c; },
  });
  const ms = performance.now() - t0;
  completion.dispose({ disposeSequence: false });
  return { tokens, text, ms };
}

async function rawBatch(maxTokens: number): Promise<{ tokens: number; ms: number }> {
  const t0 = performance.now();
  const runs = await Promise.all(rawSequences.map((s) => rawOne(s, maxTokens)));
  return { tokens: runs.reduce((a, r) => a + r.tokens, 0), ms: performance.now() - t0 };
}

// --- observer: timestamps of each job's gossip -----------------------------------------------

interface Seen { offer?: number; claim?: number; assign?: number; receipt?: number }
const seen = new Map<string, Seen>();
const observer = await buildLibp2p({ privateKey: await generateKeyPair('Ed25519'), transport: 'tcp', listen: ['/ip4/127.0.0.1/tcp/0'], maxPeers: 16, mdns: false });
{
  const ps = observer.services.pubsub;
  ps.subscribe(WORK_TOPIC);
  ps.subscribe(RECEIPT_TOPIC);
  ps.addEventListener('message', (e) => {
    const at = performance.now();
    let env: { type?: string; body?: { job_id?: string } };
    try { env = JSON.parse(new TextDecoder().decode(e.detail.data)) as typeof env; } catch { return; }
    const id = env.body?.job_id;
    if (!id) return;
    const s = seen.get(id) ?? {};
    seen.set(id, s);
    if (env.type === 'work_offer') s.offer ??= at;
    else if (env.type === 'job_claim') s.claim ??= at;
    else if (env.type === 'job_assign') s.assign ??= at;
    else if (env.type === 'receipt') s.receipt ??= at;
  });
  await observer.dial(multiaddr(boot));
  await until(() => ps.getSubscribers(WORK_TOPIC).length > 0 && ps.getSubscribers(RECEIPT_TOPIC).length > 0, 10_000, 'the observer to see the node\'s topics');
  await sleep(2500); // gossipsub heartbeats graft the observer into the node's mesh (checked by the warm-up job)
}

// Diagnostic: gossipsub's publish() resolves with the peers it reached and sends nothing to a
// peer whose outbound pubsub stream is not open yet. Every GossipSub instance in this process
// (client, node, observer) shares the class; wrapping its publish counts the job messages that
// reached nobody (a lost work_offer costs the client REOFFER_MS before it offers again).
const unheard = new Map<string, string[]>();
{
  type Publish = (topic: string, data: Uint8Array, opts?: unknown) => Promise<{ recipients: unknown[] }>;
  const proto = Object.getPrototypeOf(observer.services.pubsub) as { publish: Publish };
  const publish = proto.publish;
  proto.publish = async function (this: unknown, topic, data, opts) {
    const r = await publish.call(this, topic, data, opts);
    if (r.recipients.length === 0 && topic === WORK_TOPIC) {
      try {
        const env = JSON.parse(new TextDecoder().decode(data)) as { type: string; body: { job_id: string } };
        unheard.set(env.body.job_id, [...(unheard.get(env.body.job_id) ?? []), env.type]);
      } catch { /* not an envelope */ }
    }
    return r;
  };
}

// --- jobs through the network path ------------------------------------------------------------

/**
 * Where a job's time goes, in ms, on this process's clock (the executor's started_at and
 * finished_at are Date.now() values, whole ms): join (client starts libp2p, dials, syncs
 * manifests, publishes the offer) · claim (offer → the node's job_claim) · choose (the client's
 * claim window) · open (job_assign → the executor's stream handler starts) · execute (the
 * executor's handler: scheduler, inference, prompt evaluation and generation, receipt sealed) ·
 * deliver (final frame, stream close, receipt gossiped) · teardown (→ submitJob returns; ≈ 0
 * or negative when the client stops before the receipt's gossip copy reaches the observer).
 */
type Phases = Record<'join' | 'claim' | 'choose' | 'open' | 'execute' | 'deliver' | 'teardown', number>;
const PHASES = ['join', 'claim', 'choose', 'open', 'execute', 'deliver', 'teardown'] as const;
/** A Date.now() value on the performance.now() clock. */
const fromEpoch = (ms: number) => ms - performance.timeOrigin;

interface JobRun {
  tokens: number;
  text: string;
  /** Client wall time, submit → submitJob returned. */
  ms: number;
  /** Observer: first work_offer → receipt gossiped. */
  offerToReceiptMs: number;
  receiptTokensPerS: number;
  generationMs: number;
  firstTokenMs: number;
  queueMs: number;
  startedAt: number;
  finishedAt: number;
  phases: Phases;
  /** Job messages this job's client published to no peer (see `unheard`). */
  unheard: string[];
  t0: number;
  end: number;
  offerAt: number;
  receiptAt: number;
}

const counts = { jobs: 0, unheard: 0 };

async function job(maxTokens: number): Promise<JobRun> {
  let assignedAt = NaN;
  const t0 = performance.now();
  const res: SubmitResult = await submitJob({
    bootstrap: [boot], prompt: PROMPT, model: 'small', maxTokens, temperature: 0, priority: 'normal', timeoutMs: 120_000,
    onNote: (n) => { if (/assigned to/.test(n) && Number.isNaN(assignedAt)) assignedAt = performance.now(); },
  });
  const end = performance.now();
  const b = res.receipt.body;
  if (b.status !== 'completed') throw new Error(`job ${b.job_id} ${b.status}: ${b.reason ?? ''}`);
  // The executor gossips the receipt after closing the stream: normally seen before the client
  // has stopped its libp2p node, but allow a moment.
  await until(() => seen.get(b.job_id)?.receipt !== undefined, 1000, 'the receipt gossip').catch(() => undefined);
  const s = seen.get(b.job_id) ?? {};
  seen.delete(b.job_id);
  const lost = unheard.get(b.job_id) ?? [];
  unheard.delete(b.job_id);
  counts.jobs++;
  if (lost.length) counts.unheard++;
  const offerAt = s.offer ?? NaN;
  const receiptAt = s.receipt ?? NaN;
  return {
    tokens: b.tokens_out, text: res.text, ms: end - t0, offerToReceiptMs: receiptAt - offerAt,
    receiptTokensPerS: b.timings.tokens_per_s, generationMs: b.timings.generation_ms,
    firstTokenMs: b.timings.first_token_ms, queueMs: b.timings.queue_ms, startedAt: b.started_at, finishedAt: b.finished_at,
    phases: {
      join: offerAt - t0, claim: (s.claim ?? NaN) - offerAt, choose: assignedAt - (s.claim ?? NaN),
      open: fromEpoch(b.started_at) - assignedAt, execute: b.finished_at - b.started_at,
      deliver: receiptAt - fromEpoch(b.finished_at), teardown: end - receiptAt,
    },
    t0, end, offerAt, receiptAt, unheard: lost,
  };
}

const phaseOut = (j: JobRun) => ({
  phases_ms: Object.fromEntries(Object.entries(j.phases).map(([k, v]) => [k, r1(v)])),
  ...(j.unheard.length ? { published_to_no_peer: j.unheard } : {}),
});

/**
 * The client's join as submit.ts does it (its own libp2p node, dial the bootstrap node, manifest
 * sync, wait for a peer subscribed to the work topic), step by step — submitJob cannot be
 * timed inside. Subscribers are polled every 5 ms here (submit.ts polls every 50 ms).
 */
async function joinSteps(): Promise<Record<'start' | 'dial' | 'sync' | 'subscriber' | 'stop', number>> {
  const t0 = performance.now();
  const n = await buildLibp2p({ privateKey: await generateKeyPair('Ed25519'), transport: 'tcp', listen: ['/ip4/127.0.0.1/tcp/0'], maxPeers: 16, mdns: false });
  n.services.pubsub.subscribe(WORK_TOPIC);
  const t1 = performance.now();
  const conn = await n.dial(multiaddr(boot), { signal: AbortSignal.timeout(10_000) });
  const t2 = performance.now();
  const stream = await n.dialProtocol(conn.remotePeer, SYNC_PROTOCOL, { signal: AbortSignal.timeout(10_000) });
  await writeJson(stream, { since: 0 });
  const inspector = createEnvelopeInspector();
  for (const text of parseResponse(await readJson(stream)).announces) await inspector.open(new TextEncoder().encode(text), { now: Date.now() });
  const t3 = performance.now();
  await until(() => n.services.pubsub.getSubscribers(WORK_TOPIC).length > 0, 10_000, 'a work topic subscriber', 5);
  const t4 = performance.now();
  await n.stop();
  return { start: t1 - t0, dial: t2 - t1, sync: t3 - t2, subscriber: t4 - t3, stop: performance.now() - t4 };
}

// --- the run ---------------------------------------------------------------------------------

const gossip = await gossipPair();
for (let i = 0; i < 20; i++) { await gossip.roundTrip(false); await gossip.roundTrip(true); }
await rawOne(rawSequences[0]!, 8); // warm-up
await actorJob(8);
{
  const w = await job(8);
  if (!Number.isFinite(w.offerToReceiptMs)) throw new Error('the observer missed the warm-up job\'s gossip: phases would be unknown');
}

const M = {
  raw1: [] as number[], raw4: [] as number[], actor1: [] as number[], actor4: [] as number[],
  job1Client: [] as number[], job1Observed: [] as number[], job1Receipt: [] as number[],
  job4Client: [] as number[], job4Observed: [] as number[], job4Executor: [] as number[],
  dispatchClient: [] as number[], dispatchObserved: [] as number[], gossipPlain: [] as number[], gossipSigned: [] as number[],
  dispatchOverhead: [] as number[],
  /** offer→receipt without generation and without the client's claim window (choose). */
  dispatchPath: [] as number[],
  /** Per round, each side over the raw run just before it: paired, so slow drifts of load cancel. */
  pairedSingle: [] as number[], pairedSingleObserved: [] as number[], pairedSingleReceipt: [] as number[], pairedActor1: [] as number[],
  pairedBatch: [] as number[], pairedBatchObserved: [] as number[], pairedBatchExecutor: [] as number[], pairedActor4: [] as number[],
  phases: [] as Phases[], phases1: [] as Phases[], phases4: [] as Phases[], joins: [] as Awaited<ReturnType<typeof joinSteps>>[],
};
let sameText: boolean | undefined;

for (let round = 1; round <= ROUNDS; round++) {
  let elu = performance.eventLoopUtilization();
  const raw1 = await rawOne(rawSequences[0]!, TOKENS);
  const raw1Busy = performance.eventLoopUtilization(elu).utilization;
  M.raw1.push(rate(raw1.tokens, raw1.ms));
  emit({ what: 'raw 1 job', round, threads, tokens: raw1.tokens, ms: r1(raw1.ms), tokens_per_s: r1(rate(raw1.tokens, raw1.ms)), main_thread_busy: r2(raw1Busy) });

  let t = performance.now();
  const a1 = await actorJob(TOKENS);
  const a1ms = performance.now() - t;
  M.actor1.push(rate(a1, a1ms));
  emit({ what: 'actor 1 job (no network)', round, threads, tokens: a1, ms: r1(a1ms), tokens_per_s: r1(rate(a1, a1ms)) });

  elu = performance.eventLoopUtilization();
  const j1 = await job(TOKENS);
  const j1Busy = performance.eventLoopUtilization(elu).utilization;
  sameText = (sameText ?? true) && j1.text === raw1.text && j1.tokens === raw1.tokens;
  M.job1Client.push(rate(j1.tokens, j1.ms));
  M.job1Observed.push(rate(j1.tokens, j1.offerToReceiptMs));
  M.job1Receipt.push(j1.receiptTokensPerS);
  M.phases1.push(j1.phases);
  M.pairedActor1.push(rate(a1, a1ms) / rate(raw1.tokens, raw1.ms));
  M.pairedSingle.push(rate(j1.tokens, j1.ms) / rate(raw1.tokens, raw1.ms));
  M.pairedSingleObserved.push(rate(j1.tokens, j1.offerToReceiptMs) / rate(raw1.tokens, raw1.ms));
  M.pairedSingleReceipt.push(j1.receiptTokensPerS / rate(raw1.tokens, raw1.ms));
  emit({
    what: 'job 1', round, threads, tokens: j1.tokens, same_text_as_raw: j1.text === raw1.text,
    client_ms: r1(j1.ms), client_tokens_per_s: r1(rate(j1.tokens, j1.ms)),
    offer_to_receipt_ms: r1(j1.offerToReceiptMs), offer_to_receipt_tokens_per_s: r1(rate(j1.tokens, j1.offerToReceiptMs)),
    receipt: { tokens_per_s: r1(j1.receiptTokensPerS), generation_ms: j1.generationMs, first_token_ms: j1.firstTokenMs, queue_ms: j1.queueMs },
    ...phaseOut(j1), main_thread_busy: r2(j1Busy),
  });

  elu = performance.eventLoopUtilization();
  const raw4 = await rawBatch(TOKENS);
  const raw4Busy = performance.eventLoopUtilization(elu).utilization;
  M.raw4.push(rate(raw4.tokens, raw4.ms));
  emit({ what: `raw ${JOBS} jobs`, round, threads, tokens: raw4.tokens, ms: r1(raw4.ms), tokens_per_s: r1(rate(raw4.tokens, raw4.ms)), main_thread_busy: r2(raw4Busy) });

  t = performance.now();
  const a4 = (await Promise.all(Array.from({ length: JOBS }, () => actorJob(TOKENS)))).reduce((a, b) => a + b, 0);
  const a4ms = performance.now() - t;
  M.actor4.push(rate(a4, a4ms));
  emit({ what: `actor ${JOBS} jobs (no network)`, round, threads, tokens: a4, ms: r1(a4ms), tokens_per_s: r1(rate(a4, a4ms)) });

  elu = performance.eventLoopUtilization();
  const t0 = performance.now();
  const j4 = await Promise.all(Array.from({ length: JOBS }, () => job(TOKENS)));
  const wall = Math.max(...j4.map((j) => j.end)) - t0;
  const j4Busy = performance.eventLoopUtilization(elu).utilization;
  const tokens4 = j4.reduce((a, j) => a + j.tokens, 0);
  const observed = Math.max(...j4.map((j) => j.receiptAt)) - Math.min(...j4.map((j) => j.offerAt));
  const executor = Math.max(...j4.map((j) => j.finishedAt)) - Math.min(...j4.map((j) => j.startedAt));
  M.job4Client.push(rate(tokens4, wall));
  M.job4Observed.push(rate(tokens4, observed));
  M.job4Executor.push(rate(tokens4, executor));
  M.phases4.push(...j4.map((j) => j.phases));
  M.pairedActor4.push(rate(a4, a4ms) / rate(raw4.tokens, raw4.ms));
  M.pairedBatch.push(rate(tokens4, wall) / rate(raw4.tokens, raw4.ms));
  M.pairedBatchObserved.push(rate(tokens4, observed) / rate(raw4.tokens, raw4.ms));
  M.pairedBatchExecutor.push(rate(tokens4, executor) / rate(raw4.tokens, raw4.ms));
  emit({
    what: `jobs ${JOBS}`, round, threads, tokens: tokens4,
    client_ms: r1(wall), client_tokens_per_s: r1(rate(tokens4, wall)),
    offer_to_receipt_ms: r1(observed), offer_to_receipt_tokens_per_s: r1(rate(tokens4, observed)),
    executor_span_ms: executor, executor_tokens_per_s: r1(rate(tokens4, executor)),
    main_thread_busy: r2(j4Busy),
    first_offer_spread_ms: r1(Math.max(...j4.map((j) => j.offerAt)) - Math.min(...j4.map((j) => j.offerAt))),
    per_job: j4.map((j) => ({ tokens: j.tokens, receipt_tokens_per_s: r1(j.receiptTokensPerS), queue_ms: j.queueMs, ...phaseOut(j) })),
  });

  for (let i = 0; i < DISPATCH; i++) {
    // libp2p accepts at most 5 new inbound connections per second from one host
    // (inboundConnectionThreshold): one join replica and one job per iteration stay under it.
    const js = await joinSteps();
    M.joins.push(js);
    emit({ what: 'join steps (replica of the client\'s join)', round, i, ms: Object.fromEntries(Object.entries(js).map(([k, v]) => [k, r1(v)])) });
    const d = await job(1);
    M.dispatchClient.push(d.ms);
    M.dispatchObserved.push(d.offerToReceiptMs);
    M.dispatchOverhead.push(d.offerToReceiptMs - d.generationMs);
    M.dispatchPath.push(d.offerToReceiptMs - d.generationMs - d.phases.choose);
    M.phases.push(d.phases);
    emit({
      what: 'dispatch (max_tokens 1)', round, i, tokens: d.tokens, client_ms: r1(d.ms), offer_to_receipt_ms: r1(d.offerToReceiptMs),
      offer_to_receipt_minus_generation_ms: r1(d.offerToReceiptMs - d.generationMs),
      minus_generation_and_choose_ms: r1(d.offerToReceiptMs - d.generationMs - d.phases.choose),
      receipt: { generation_ms: d.generationMs, first_token_ms: d.firstTokenMs, queue_ms: d.queueMs }, ...phaseOut(d),
    });
  }

  const plain: number[] = [];
  const signed: number[] = [];
  for (let i = 0; i < GOSSIP; i++) { plain.push(await gossip.roundTrip(false)); signed.push(await gossip.roundTrip(true)); }
  M.gossipPlain.push(...plain);
  M.gossipSigned.push(...signed);
  emit({ what: 'gossip round trip', round, samples: GOSSIP, plain_median_ms: r2(median(plain)), signed_median_ms: r2(median(signed)), plain_min_ms: r2(Math.min(...plain)), signed_min_ms: r2(Math.min(...signed)) });
}
const loadEnd = load();

// --- summary ---------------------------------------------------------------------------------

const m = Object.fromEntries(Object.entries(M).filter(([k]) => !k.startsWith('phases') && k !== 'joins').map(([k, v]) => [k, median(v as number[])])) as Record<string, number>;
const medPhases = (ps: Phases[]) => Object.fromEntries(PHASES.map((k) => [k, r1(median(ps.map((p) => p[k])))]));
const joinMedians = Object.fromEntries((['start', 'dial', 'sync', 'subscriber', 'stop'] as const).map((k) => [k, r1(median(M.joins.map((j) => j[k])))]));
// Ratios against raw: the median of the per-round ratios (each run over the raw run just before
// it), which a changing machine load disturbs less than a ratio of medians.
const ratios = {
  single_client: r2(m.pairedSingle!),
  single_offer_to_receipt: r2(m.pairedSingleObserved!),
  single_receipt_generation: r2(m.pairedSingleReceipt!),
  batch_client: r2(m.pairedBatch!),
  batch_offer_to_receipt: r2(m.pairedBatchObserved!),
  batch_executor: r2(m.pairedBatchExecutor!),
  actor_single: r2(m.pairedActor1!),
  actor_batch: r2(m.pairedActor4!),
  raw_batch_gain: r2(m.raw4! / m.raw1!),
  job_batch_gain_client: r2(m.job4Client! / m.job1Client!),
  job_batch_gain_offer_to_receipt: r2(m.job4Observed! / m.job1Observed!),
  dispatch_client_vs_gossip: r1(m.dispatchClient! / m.gossipPlain!),
  dispatch_offer_to_receipt_vs_gossip: r1(m.dispatchObserved! / m.gossipPlain!),
  dispatch_offer_to_receipt_vs_signed_gossip: r1(m.dispatchObserved! / m.gossipSigned!),
  dispatch_overhead_vs_gossip: r1(m.dispatchOverhead! / m.gossipPlain!),
  dispatch_path_vs_gossip: r1(m.dispatchPath! / m.gossipPlain!),
  dispatch_path_vs_signed_gossip: r1(m.dispatchPath! / m.gossipSigned!),
};
emit({ what: 'summary', threads, tokens: TOKENS, rounds: ROUNDS, medians: Object.fromEntries(Object.entries(m).map(([k, v]) => [k, r2(v)])), ratios,
  phases_ms: { job_1: medPhases(M.phases1), [`job_of_${JOBS}`]: medPhases(M.phases4), dispatch: medPhases(M.phases) }, join_steps_ms: joinMedians,
  jobs: counts.jobs, jobs_with_a_message_published_to_no_peer: counts.unheard, same_text_as_raw: sameText, loadavg_end: loadEnd });

console.log(`\nmedians over ${ROUNDS} rounds; threads ${threads}; ${TOKENS} tokens greedy; tokens/s unless marked ms; `
  + '"vs raw": median of the per-round ratios, as client / offer→receipt / receipt');
console.table([
  { measurement: 'raw node-llama-cpp, 1 job', client: r1(m.raw1!), 'offer→receipt': '', receipt: '', 'vs raw': '' },
  { measurement: 'inference actor alone, 1 job', client: r1(m.actor1!), 'offer→receipt': '', receipt: '', 'vs raw': `${ratios.actor_single}` },
  { measurement: 'job through the network, 1', client: r1(m.job1Client!), 'offer→receipt': r1(m.job1Observed!), receipt: r1(m.job1Receipt!), 'vs raw': `${ratios.single_client} / ${ratios.single_offer_to_receipt} / ${ratios.single_receipt_generation} (goal ≥ ${GOALS.single})` },
  { measurement: `raw node-llama-cpp, ${JOBS} sequences`, client: r1(m.raw4!), 'offer→receipt': '', receipt: '', 'vs raw': `gain over 1: ${ratios.raw_batch_gain}×` },
  { measurement: `inference actor alone, ${JOBS} jobs`, client: r1(m.actor4!), 'offer→receipt': '', receipt: '', 'vs raw': `${ratios.actor_batch}` },
  { measurement: `jobs through the network, ${JOBS} at once`, client: r1(m.job4Client!), 'offer→receipt': r1(m.job4Observed!), receipt: `${r1(m.job4Executor!)} (executor span)`, 'vs raw': `${ratios.batch_client} / ${ratios.batch_offer_to_receipt} / ${ratios.batch_executor} (goal ≥ ${GOALS.batch}); gain over 1: ${ratios.job_batch_gain_client}×` },
  { measurement: 'dispatch, max_tokens 1 (ms)', client: r1(m.dispatchClient!), 'offer→receipt': r1(m.dispatchObserved!), receipt: `${r1(m.dispatchOverhead!)} without generation`, 'vs raw': `${ratios.dispatch_client_vs_gossip}× / ${ratios.dispatch_offer_to_receipt_vs_gossip}× gossip RTT (goal ≤ ${GOALS.dispatch}×)` },
  { measurement: 'gossip round trip, one hop (ms)', client: r2(m.gossipPlain!), 'offer→receipt': '', receipt: `${r2(m.gossipSigned!)} (signed envelopes)`, 'vs raw': '' },
]);
console.log('\nwhere the time goes, median ms per job (see Phases)');
console.table({ [`1 job, ${TOKENS} tokens`]: medPhases(M.phases1), [`each of ${JOBS} jobs at once`]: medPhases(M.phases4), 'dispatch, max_tokens 1': medPhases(M.phases) });
console.log(`join steps, median ms (replica of the client's join): ${JSON.stringify(joinMedians)}`);
console.log(`jobs whose client published an offer or assign to no peer: ${counts.unheard} of ${counts.jobs}`);
console.log(`dispatch without its generation (offer→receipt − receipt generation_ms): ${r1(m.dispatchOverhead!)} ms = ${ratios.dispatch_overhead_vs_gossip}× the gossip round trip`);
console.log(`  … and without the client's claim window (− choose): ${r1(m.dispatchPath!)} ms = ${ratios.dispatch_path_vs_gossip}× the gossip round trip, ${ratios.dispatch_path_vs_signed_gossip}× the signed one`);
console.log(`same text as raw (1 job, every round): ${sameText}`);
console.log(`# loadavg at end: ${loadEnd.join(' ')}`);
const warnings = nodeLog.filter((l) => !/"level":(10|20|30)\b/.test(l));
if (warnings.length) {
  console.log(`# node warnings/errors: ${warnings.length}`);
  for (const l of warnings.slice(0, 10)) console.log(`#   ${l}`);
}

await gossip.stop();
await observer.stop();
await node.stop();
await actorSup.stop();
await rawContext.dispose();
await rawModel.dispose();
await llama.dispose();
process.exit(0);
