// The executor side of a job (JobExecutor) over a real libp2p stream: an offer re-published
// with the same id is claimed once, a job brought twice runs once (the second time gets the
// same receipt), a job whose client goes away mid-run is cancelled, and a stream a client opens
// ahead of its next job (a spare) waits for it, or is let go without counting as refused.
// Inference is replaced
// by a scripted `submit` to isolate the executor from the model.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import type { PrivateKey } from '@libp2p/interface';
import { buildLibp2p, type NetworkNode } from '../../src/actors/network/libp2p.ts';
import { AHEAD_WAIT_MS, JobExecutor, SPARE_IDLE_MS } from '../../src/market/executor.ts';
import { JOB_PROTOCOL, parseJobFrame, readLines, writeLine, type JobFrame } from '../../src/jobs/stream.ts';
import { buildWorkOffer, sealEnvelope, sha256Hex, verifyReceipt, type Envelope } from '../../src/protocol/index.ts';
import { systemClock, type Clock } from '../../src/runtime/clock.ts';
import { createLogger } from '../../src/runtime/log.ts';
import type { JobResult, SchedulerJob } from '../../src/actors/scheduler/messages.ts';

const PROMPT = 'Hello there';
const MODEL = { name: 'tiny', sha256: 'a'.repeat(64), params: 1000, quantization: 'Q4_0', context_length: 256, test_model: true };

/** The system clock, with an idle spare let go after IDLE_MS instead of SPARE_IDLE_MS, and a request ahead of its claim waiting AHEAD_MS. */
const IDLE_MS = 600;
const AHEAD_MS = 500;
const clock: Clock = { ...systemClock, setTimeout: (fn, ms) => systemClock.setTimeout(fn, ms === SPARE_IDLE_MS ? IDLE_MS : ms === AHEAD_WAIT_MS ? AHEAD_MS : ms) };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('JobExecutor', () => {
  let execKey: PrivateKey;
  let clientKey: PrivateKey;
  let execNode: NetworkNode;
  let clientNode: NetworkNode;
  let executor: JobExecutor;
  const runs: SchedulerJob[] = [];
  const claims: unknown[] = [];
  const cancelled: string[] = [];
  let hold: Promise<void> | undefined;

  before(async () => {
    execKey = await generateKeyPair('Ed25519');
    clientKey = await generateKeyPair('Ed25519');
    execNode = await buildLibp2p({ privateKey: execKey, transport: 'memory', listen: [`/memory/exec-${Date.now()}`], maxPeers: 8, mdns: false });
    clientNode = await buildLibp2p({ privateKey: clientKey, transport: 'memory', listen: [`/memory/client-${Date.now()}`], maxPeers: 8, mdns: false });
    executor = new JobExecutor({
      rng: () => 0, // always claim: these tests are about admission, not the claim draw
      peerId: execNode.peerId.toString(), privateKey: execKey, models: [MODEL as never], clock,
      log: createLogger({ level: 'error', nodeId: 'exec', pretty: false }),
      publish: async (_topic, _type, body) => { claims.push(body); },
      publishSealed: async () => undefined,
      storeReceipt: async () => undefined,
      canClaim: async () => ({ ok: true }),
      queue: async () => ({ depth: 0, capacity: 10, slots: 4, busy_slots: 0 }),
      submit: async (job): Promise<JobResult> => {
        runs.push(job);
        const cancelledBefore = cancelled.length;
        await hold;
        // Cancelled while this run was on.
        return {
          job_id: job.id, status: cancelled.slice(cancelledBefore).includes(job.id) ? 'cancelled' : 'completed', text: 'general kenobi', tokens_in: 3, tokens_out: 2, queue_ms: 0,
          timings: { queue_ms: 0, load_ms: 0, first_token_ms: 1, generation_ms: 2, tokens_per_s: 1000 },
        } as JobResult;
      },
      cancel: (id) => { cancelled.push(id); },
    });
    await execNode.handle(JOB_PROTOCOL, (stream, connection) => executor.handleStream(stream, connection));
    await clientNode.dial(execNode.getMultiaddrs()[0]!);
  });
  after(async () => { await clientNode.stop(); await execNode.stop(); });

  async function offer(seed: number): Promise<Envelope<'work_offer'>> {
    const client = peerIdFromPrivateKey(clientKey).toString();
    const body = buildWorkOffer({ client, model: 'tiny', prompt_sha256: sha256Hex(PROMPT), max_tokens: 8, temperature: 0, seed, priority: 'normal', requirements: {} });
    return sealEnvelope(clientKey, client, 'work_offer', body, { now: Date.now() });
  }

  async function bring(jobId: string): Promise<JobFrame[]> {
    const stream = await clientNode.dialProtocol(execNode.peerId, JOB_PROTOCOL);
    await writeLine(stream, { job_id: jobId, prompt: PROMPT });
    const frames: JobFrame[] = [];
    for await (const line of readLines(stream)) frames.push(parseJobFrame(line));
    return frames;
  }

  it('claims a re-published offer once and runs a job brought twice once, answering with the same receipt', async () => {
    const env = await offer(1);
    await executor.onOffer(env);
    await executor.onOffer(env);
    assert.equal(claims.length, 1);
    const first = await bring(env.body.job_id);
    const second = await bring(env.body.job_id);
    assert.equal(runs.length, 1, 'ran once');
    const done = [first.at(-1), second.at(-1)];
    assert.deepEqual(done.map((f) => f?.t), ['done', 'done']);
    const [r1, r2] = done.map((f) => (f as { receipt: Envelope<'receipt'> }).receipt);
    assert.equal(r1!.id, r2!.id, 'the same receipt');
    assert.equal((await verifyReceipt(r1!, { text: 'general kenobi', prompt: PROMPT })).ok, true);
  });

  it('cancels a job whose client has gone', async () => {
    let release!: () => void;
    hold = new Promise((r) => { release = r; });
    const env = await offer(2);
    await executor.onOffer(env);
    const stream = await clientNode.dialProtocol(execNode.peerId, JOB_PROTOCOL);
    await writeLine(stream, { job_id: env.body.job_id, prompt: PROMPT });
    while (runs.length < 2) await new Promise((r) => setTimeout(r, 20));
    stream.abort(new Error('client gone'));
    // The executor notices at its next write (a keepalive at the latest).
    const t0 = Date.now();
    while (!cancelled.includes(env.body.job_id) && Date.now() - t0 < 10_000) {
      executor.onToken(env.body.job_id, 'x');
      await new Promise((r) => setTimeout(r, 100));
    }
    release();
    hold = undefined;
    assert.ok(cancelled.includes(env.body.job_id), 'cancelled');
  });

  it('a stream opened ahead of its job (a spare) waits for it; one let go before a request is no refusal', async () => {
    const spare = await clientNode.dialProtocol(execNode.peerId, JOB_PROTOCOL);
    await sleep(IDLE_MS / 3);
    const env = await offer(3);
    await executor.onOffer(env);
    await writeLine(spare, { job_id: env.body.job_id, prompt: PROMPT });
    const frames: JobFrame[] = [];
    for await (const line of readLines(spare)) frames.push(parseJobFrame(line));
    assert.equal(frames.at(-1)?.t, 'done', 'the job ran on the spare');

    // Counted from here: the previous test's aborted job may have been counted just now.
    const refused = executor.counters.refused_streams;
    const closed = await clientNode.dialProtocol(execNode.peerId, JOB_PROTOCOL);
    await closed.close();
    const reset = await clientNode.dialProtocol(execNode.peerId, JOB_PROTOCOL);
    reset.abort(new Error('client going away'));
    const idle = await clientNode.dialProtocol(execNode.peerId, JOB_PROTOCOL);
    const t0 = Date.now();
    while (idle.status === 'open' && idle.remoteWriteStatus === 'writable' && Date.now() - t0 < IDLE_MS * 10) await sleep(20);
    assert.ok(Date.now() - t0 >= IDLE_MS * 0.8, 'an idle spare is kept for its idle time');
    assert.notEqual(idle.status === 'open' && idle.remoteWriteStatus === 'writable', true, 'then let go by the executor');
    await sleep(50);
    assert.equal(executor.counters.refused_streams, refused, 'none of them counts as a refused stream');
  });

  it('a job brought ahead of its claim waits for it, and starts the moment its offer is claimed', async () => {
    const env = await offer(4);
    const before = { runs: runs.length, ahead: executor.counters.started_ahead };
    const stream = await clientNode.dialProtocol(execNode.peerId, JOB_PROTOCOL);
    await writeLine(stream, { job_id: env.body.job_id, prompt: PROMPT });
    await stream.close();
    const frames: JobFrame[] = [];
    const reading = (async () => { for await (const line of readLines(stream)) frames.push(parseJobFrame(line)); })();
    await sleep(100);
    assert.equal(runs.length, before.runs, 'nothing runs before the claim');
    await executor.onOffer(env);
    await reading;
    assert.equal(frames.at(-1)?.t, 'done');
    assert.equal(runs.length, before.runs + 1);
    assert.equal(executor.counters.started_ahead, before.ahead + 1);
  });

  it('a job sent ahead and then let go (given to another claimant) runs anew when its client brings it back', async () => {
    let release!: () => void;
    hold = new Promise((r) => { release = r; });
    const env = await offer(6);
    const before = runs.length;
    const ahead = await clientNode.dialProtocol(execNode.peerId, JOB_PROTOCOL);
    await writeLine(ahead, { job_id: env.body.job_id, prompt: PROMPT });
    await executor.onOffer(env);
    while (runs.length === before) await sleep(10);
    ahead.abort(new Error('the job went to another node'));
    await sleep(50);
    const again = bring(env.body.job_id);
    while (!cancelled.includes(env.body.job_id)) await sleep(10);
    release();
    hold = undefined;
    const frames = await again;
    assert.equal(runs.length, before + 2, 'run twice: the let-go run was cancelled');
    const done = frames.at(-1) as { t: string; receipt?: Envelope<'receipt'> };
    assert.equal(done.t, 'done', JSON.stringify(frames));
    assert.equal(done.receipt!.body.status, 'completed', 'the run it was brought back for completed');
  });

  it('a job brought ahead of an offer this node never claims is refused once the wait is over', async () => {
    const env = await offer(5);
    const stream = await clientNode.dialProtocol(execNode.peerId, JOB_PROTOCOL);
    const t0 = Date.now();
    await writeLine(stream, { job_id: env.body.job_id, prompt: PROMPT });
    const frames: JobFrame[] = [];
    for await (const line of readLines(stream)) frames.push(parseJobFrame(line));
    assert.ok(Date.now() - t0 >= AHEAD_MS * 0.9, 'it waited for a claim');
    assert.deepEqual(frames, [{ t: 'error', reason: `job ${env.body.job_id} was not offered to and claimed by this node` }]);
  });

  it('a bad first line on a spare is still refused with the cause', async () => {
    const refused = executor.counters.refused_streams;
    const stream = await clientNode.dialProtocol(execNode.peerId, JOB_PROTOCOL);
    stream.send(new TextEncoder().encode('not json\n'));
    const frames: JobFrame[] = [];
    for await (const line of readLines(stream)) frames.push(parseJobFrame(line));
    assert.deepEqual(frames, [{ t: 'error', reason: 'job stream line is not JSON' }]);
    assert.equal(executor.counters.refused_streams, refused + 1);
  });
});
