// A draining executor (JobExecutor.drain) over a real libp2p stream: it claims no more offers,
// refuses new job streams retryably, hands a job the scheduler gave back (still queued) to its
// client with a retryable refusal and no receipt, and ends a job still running at the drain's
// deadline with a signed failed receipt (reason `drain`) and a retryable refusal. Inference is
// replaced by a scripted `submit` that holds a job until it is cancelled, to isolate the
// executor from the model.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import type { PrivateKey } from '@libp2p/interface';
import { buildLibp2p, type NetworkNode } from '../../src/actors/network/libp2p.ts';
import { JobExecutor } from '../../src/market/executor.ts';
import { ReceiptBook } from '../../src/market/receipts.ts';
import { JOB_PROTOCOL, parseJobFrame, readLines, writeLine, type JobFrame } from '../../src/jobs/stream.ts';
import { DRAIN_REASON, buildWorkOffer, sealEnvelope, sealReceipt, sha256Hex, validateJobStreamLine, verifyReceipt, type Envelope } from '../../src/protocol/index.ts';
import { systemClock } from '../../src/runtime/clock.ts';
import { createLogger } from '../../src/runtime/log.ts';
import type { JobResult, SchedulerJob } from '../../src/actors/scheduler/messages.ts';
import { newPeer, receiptBy, NOW } from '../helpers/jobs.ts';

const PROMPT = 'Hello there';
const MODEL = { name: 'tiny', sha256: 'a'.repeat(64), params: 1000, quantization: 'Q4_0', context_length: 256, test_model: true };

function result(job: SchedulerJob, status: JobResult['status'], reason?: string): JobResult {
  return {
    job_id: job.id, status, ...(reason ? { reason } : {}), text: status === 'completed' ? 'done' : 'part', tokens_in: 3, tokens_out: 2, queue_ms: 0,
    timings: { queue_ms: 0, load_ms: 0, first_token_ms: 1, generation_ms: 2, tokens_per_s: 1000 },
  };
}

describe('JobExecutor draining', () => {
  let execKey: PrivateKey;
  let clientKey: PrivateKey;
  let execNode: NetworkNode;
  let clientNode: NetworkNode;
  let executor: JobExecutor;
  const claims: unknown[] = [];
  const gossiped: Envelope[] = [];
  const stored: Envelope[] = [];
  /** Jobs the scripted scheduler holds, by id: resolve ends one. */
  const held = new Map<string, (r: JobResult) => void>();
  const submitted: SchedulerJob[] = [];

  before(async () => {
    execKey = await generateKeyPair('Ed25519');
    clientKey = await generateKeyPair('Ed25519');
    execNode = await buildLibp2p({ privateKey: execKey, transport: 'memory', listen: [`/memory/drain-exec-${Date.now()}`], maxPeers: 8, mdns: false });
    clientNode = await buildLibp2p({ privateKey: clientKey, transport: 'memory', listen: [`/memory/drain-client-${Date.now()}`], maxPeers: 8, mdns: false });
    executor = new JobExecutor({
      rng: () => 0, // always claim: these tests are about admission, not the claim draw
      peerId: execNode.peerId.toString(), privateKey: execKey, models: [MODEL as never], clock: systemClock,
      log: createLogger({ level: 'error', nodeId: 'exec', pretty: false }),
      publish: async (_topic, _type, body) => { claims.push(body); },
      publishSealed: async (_topic, env) => { gossiped.push(env); },
      storeReceipt: async (env) => { stored.push(env); },
      canClaim: async () => ({ ok: true }),
      queue: async () => ({ depth: 0, capacity: 10, slots: 4, busy_slots: 0 }),
      submit: (job) => { submitted.push(job); return new Promise((resolve) => held.set(job.id, resolve)); },
      // A cancel ends the held job as the scheduler would: cancelled.
      cancel: (id) => { const job = submitted.find((j) => j.id === id)!; held.get(id)?.(result(job, 'cancelled', 'cancelled by request')); },
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

  /** Brings a claimed job; resolves to every frame the executor sent, as raw lines and parsed. */
  async function bring(jobId: string): Promise<{ raw: unknown[]; frames: JobFrame[] }> {
    const stream = await clientNode.dialProtocol(execNode.peerId, JOB_PROTOCOL);
    await writeLine(stream, { job_id: jobId, prompt: PROMPT });
    const raw: unknown[] = [];
    for await (const line of readLines(stream)) raw.push(line);
    return { raw, frames: raw.map(parseJobFrame) };
  }

  const until = async (cond: () => boolean) => { while (!cond()) await new Promise((r) => setTimeout(r, 10)); };

  it('hands a queued job back retryably, ends a running one past the deadline with a failed drain receipt, and claims nothing more', async () => {
    const queued = await offer(1);
    const running = await offer(2);
    const finishing = await offer(3);
    for (const o of [queued, running, finishing]) await executor.onOffer(o);
    assert.equal(claims.length, 3);
    const broughtQueued = bring(queued.body.job_id);
    const broughtRunning = bring(running.body.job_id);
    const broughtFinishing = bring(finishing.body.job_id);
    await until(() => held.size === 3);

    const drained = executor.drain(300);
    assert.equal(executor.isDraining, true);
    // The scheduler's drain hands the queued job back: cancelled with reason `drain`.
    held.get(queued.body.job_id)!(result(submitted[0]!, 'cancelled', DRAIN_REASON));
    // One running job finishes within the drain timeout; the other does not.
    held.get(finishing.body.job_id)!(result(submitted[2]!, 'completed'));
    const report = await drained;
    assert.deepEqual(report, { finished: 1, ended_by_drain: 1 });

    const q = await broughtQueued;
    assert.equal(q.frames.length, 1);
    assert.equal(q.frames[0]!.t, 'error');
    assert.equal((q.frames[0] as { retry?: boolean }).retry, true, 'a queued job handed back is a retryable refusal');
    assert.equal((q.raw[0] as { receipt?: unknown }).receipt, undefined, 'nothing ran: no receipt');

    const r = await broughtRunning;
    const last = r.raw.at(-1) as { t: string; retry?: boolean; receipt?: unknown };
    assert.equal(last.t, 'error');
    assert.equal(last.retry, true, 'the cut job is a retryable refusal: its client offers it again');
    const v = await verifyReceipt(last.receipt);
    assert.ok(v.ok, 'the drain receipt is signed by the executor');
    assert.equal(v.receipt.body.job_id, running.body.job_id);
    assert.equal(v.receipt.body.status, 'failed');
    assert.equal(v.receipt.body.reason, DRAIN_REASON);
    assert.ok(gossiped.some((e) => e.id === v.receipt.id), 'the drain receipt is gossiped too');
    assert.ok(stored.some((e) => e.id === v.receipt.id), 'the drain receipt is kept in the store');

    const f = await broughtFinishing;
    assert.equal(f.frames.at(-1)!.t, 'done', 'a job that finished in time ends as usual');

    for (const line of [...q.raw, ...r.raw, ...f.raw]) assert.ok(validateJobStreamLine(line), `frame ${JSON.stringify(line)} matches schemas/job-stream.schema.json`);

    // Draining: a new offer is not claimed, and a stream for a job claimed before is refused retryably.
    await executor.onOffer(await offer(4));
    assert.equal(claims.length, 3, 'no claim while draining');
    await executor.flushReceipts();
  });

  it('refuses a job stream that arrives while draining, retryably', async () => {
    const late = await offer(5);
    // Claimed by an executor that is not draining yet, brought once it is.
    const fresh = new JobExecutor({
      rng: () => 0, // always claim: these tests are about admission, not the claim draw
      peerId: execNode.peerId.toString(), privateKey: execKey, models: [MODEL as never], clock: systemClock,
      log: createLogger({ level: 'error', nodeId: 'exec', pretty: false }),
      publish: async () => undefined, publishSealed: async () => undefined, storeReceipt: async () => undefined,
      canClaim: async () => ({ ok: true }), queue: async () => ({ depth: 0, capacity: 10, slots: 4, busy_slots: 0 }),
      submit: async (job) => result(job, 'completed'), cancel: () => undefined,
    });
    await fresh.onOffer(late);
    fresh.beginDrain();
    await execNode.unhandle(JOB_PROTOCOL);
    await execNode.handle(JOB_PROTOCOL, (stream, connection) => fresh.handleStream(stream, connection));
    const { frames } = await bring(late.body.job_id);
    assert.equal(frames.length, 1);
    assert.deepEqual([frames[0]!.t, (frames[0] as { retry?: boolean }).retry], ['error', true]);
  });

  it('counts a job that finishes between the drain\'s first step and its wait as finished by the drain', async () => {
    const job = await offer(6);
    let finish!: (r: JobResult) => void;
    const counted = new JobExecutor({
      rng: () => 0,
      peerId: execNode.peerId.toString(), privateKey: execKey, models: [MODEL as never], clock: systemClock,
      log: createLogger({ level: 'error', nodeId: 'exec', pretty: false }),
      publish: async () => undefined, publishSealed: async () => undefined, storeReceipt: async () => undefined,
      canClaim: async () => ({ ok: true }), queue: async () => ({ depth: 0, capacity: 10, slots: 4, busy_slots: 0 }),
      submit: (j) => new Promise((resolve) => { finish = (r) => resolve({ ...r, job_id: j.id }); }), cancel: () => undefined,
    });
    await counted.onOffer(job);
    await execNode.unhandle(JOB_PROTOCOL);
    await execNode.handle(JOB_PROTOCOL, (stream, connection) => counted.handleStream(stream, connection));
    const brought = bring(job.body.job_id);
    await until(() => finish !== undefined);
    // The network actor's drain: claims stop at once, then the scheduler hands its queue back
    // (a round trip), and only then does the executor wait for its running jobs.
    counted.beginDrain();
    finish(result({ id: job.body.job_id } as SchedulerJob, 'completed'));
    assert.equal((await brought).frames.at(-1)!.t, 'done');
    assert.deepEqual(await counted.drain(300), { finished: 1, ended_by_drain: 0 });
  });
});

describe('ReceiptBook and drain receipts', () => {
  it('lets the next run\'s receipt, by another executor, replace a drain receipt; nothing else replaces a receipt', async () => {
    const client = await newPeer(); const a = await newPeer(); const b = await newPeer(); const c = await newPeer();
    const drainA = await sealReceipt(a.key, receiptBy(a, client, { status: 'failed', reason: DRAIN_REASON, tokens_out: 1 }), NOW);
    const doneB = await sealReceipt(b.key, receiptBy(b, client), NOW + 1);
    const doneC = await sealReceipt(c.key, receiptBy(c, client), NOW + 2);
    const againA = await sealReceipt(a.key, receiptBy(a, client), NOW + 3);
    const book = new ReceiptBook();
    assert.equal(book.accept(drainA), undefined);
    assert.equal(book.accept(againA), 'duplicate_receipt', 'the drained executor cannot replace its own drain receipt');
    assert.equal(book.accept(doneB), undefined, 'the job\'s next run replaces the drain receipt');
    assert.equal(book.get(drainA.body.job_id)?.id, doneB.id);
    assert.equal(book.accept(doneC), 'duplicate_receipt', 'a completed receipt is final');
    assert.equal(book.size, 1);
    assert.deepEqual(book.since(0).map((e) => e.receipt.id), [doneB.id], 'sync hands on the replacement');
  });
});
