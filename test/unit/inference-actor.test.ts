// The inference:<model> actor under the real supervisor, on the tiny generated model: it loads
// once, streams tokens in order, batches concurrent jobs, cancels and times out in-band, refuses
// a bad model at start, and survives its worker dying mid-job without losing the job.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InlineHost, ThreadHost } from '../../src/runtime/host.ts';
import { Supervisor, type ChildSpec } from '../../src/runtime/supervisor.ts';
import { systemClock } from '../../src/runtime/clock.ts';
import { createLogger } from '../../src/runtime/log.ts';
import type { Placement } from '../../src/runtime/actor.ts';
import type { Config } from '../../src/config/types.ts';
import { sha256File } from '../../src/models/index.ts';
import type { InferenceArgs } from '../../src/actors/inference/index.ts';
import type { CancelResult, GenerateResult, InferenceStatus } from '../../src/actors/inference/messages.ts';
import type { ClientGenerate, ClientResult } from '../fixtures/inference-client-actor.ts';
import { testConfig, tmpDir } from '../helpers/config.ts';
import { once, until } from '../helpers/runtime.ts';
import type { ActorEvent } from '../../src/runtime/supervisor.ts';
import { tinyTestModelPath } from '../helpers/test-model.ts';

const inferenceModule = fileURLToPath(new URL('../../src/actors/inference/index.ts', import.meta.url));
const clientModule = fileURLToPath(new URL('../fixtures/inference-client-actor.ts', import.meta.url));

function inference(name: string, args: InferenceArgs, placement: Placement = 'inline'): ChildSpec {
  return { name, module: inferenceModule, restart: 'permanent', shutdownMs: 5000, placement, args };
}

function supervise(config: Config, children: ChildSpec[]): Supervisor {
  const logOptions = { level: 'silent' as const, nodeId: 'test', pretty: false };
  const log = createLogger(logOptions);
  const env = { config, clock: systemClock, log, logOptions };
  return new Supervisor({
    strategy: 'one_for_one', intensity: 3, periodMs: 5000, children,
    hosts: { inline: new InlineHost(env), thread: new ThreadHost(env) }, clock: systemClock, log,
  });
}

const generate = (sup: Supervisor, spec: ClientGenerate) =>
  sup.request<ClientResult>('client', { type: 'client.generate', ...spec }, 60_000);

/** Greedy decoding of this prompt runs ~550 tokens before the tiny model's EOS: long enough to interrupt. */
function job(job_id: string, extra: Partial<ClientGenerate['job']> = {}): ClientGenerate['job'] {
  return { job_id, prompt: 'Once upon a time', max_tokens: 32, temperature: 0, ...extra };
}

/** The stream a client saw is the whole answer: indexes 0..n-1 in order, text equal to the result's. */
function assertStreamMatches({ result, tokens }: ClientResult): void {
  assert.deepEqual(tokens.map((t) => t.index), tokens.map((_, i) => i), 'token events arrive in order, none missing');
  assert.ok(tokens.every((t) => t.job_id === result.job_id));
  assert.equal(tokens.map((t) => t.text).join(''), result.text);
}

describe('inference actor', () => {
  let modelPath: string;
  let sup: Supervisor;

  before(async () => {
    modelPath = await tinyTestModelPath();
    sup = supervise(testConfig(), [
      inference('inference:tiny', { path: modelPath, name: 'tiny', threads: 1, contextSize: 2048, sequences: 4, debug: true }),
      { name: 'client', module: clientModule, restart: 'permanent', shutdownMs: 2000, placement: 'inline' },
    ]);
    await sup.start();
  });

  after(async () => { await sup?.stop(); });

  it('loads the model once and describes it', async () => {
    const s = await sup.request<InferenceStatus>('inference:tiny', { type: 'inference.status' }, 5000);
    assert.equal(s.model, 'tiny');
    assert.equal(s.sha256, await sha256File(modelPath));
    assert.equal(s.quantization, 'Q4_0');
    assert.equal(s.context_length, 2048);
    assert.equal(s.sequences, 4);
    assert.equal(s.threads, 1);
    assert.equal(s.test_model, true);
    assert.equal(s.busy, 0);
    assert.ok(s.load_ms > 0);
  });

  it('streams tokens in order to the requester, then replies with the same text', async () => {
    const out = await generate(sup, { to: 'inference:tiny', job: job('stream-1', { max_tokens: 48 }) });
    const { result } = out;
    assert.equal(result.status, 'completed');
    assert.equal(result.reason, undefined);
    assert.ok(result.tokens_in > 0);
    assert.ok(result.tokens_out > 0 && result.tokens_out <= 48, `tokens_out ${result.tokens_out}`);
    assert.ok(out.tokens.length > 0);
    assertStreamMatches(out);
    assert.ok(result.timings.load_ms > 0);
    assert.ok(result.timings.first_token_ms !== null && result.timings.first_token_ms >= 0);
    assert.ok(result.timings.generation_ms > 0 && result.timings.tokens_per_s > 0);
  });

  it('sends a fast generation\'s tokens in batches, the whole text and in order', async () => {
    const out = await generate(sup, { to: 'inference:tiny', job: job('batched-1', { max_tokens: 200 }) });
    assert.equal(out.result.status, 'completed');
    assertStreamMatches(out);
    // The tiny model makes a token in well under the 100 ms batch window: chunks are coalesced.
    assert.ok(out.tokens.length < out.result.tokens_out, `${out.tokens.length} token events for ${out.result.tokens_out} tokens`);
  });

  it('answers the supervisor itself without streaming (it has no mailbox)', async () => {
    const r = await sup.request<GenerateResult>('inference:tiny', { type: 'inference.generate', ...job('direct-1') }, 30_000);
    assert.equal(r.status, 'completed');
    assert.ok(r.text.length > 0);
  });

  it('runs concurrent jobs side by side on the sequences of one context', async () => {
    const results = await Promise.all(['a', 'b', 'c'].map((id) =>
      generate(sup, { to: 'inference:tiny', job: job(`batch-${id}`, { max_tokens: 64 }) })));
    for (const r of results) { assert.equal(r.result.status, 'completed'); assertStreamMatches(r); }
    // Same prompt, temperature 0: sequences sharing a batch do not disturb each other.
    assert.equal(results[1]!.result.text, results[0]!.result.text);
    assert.equal(results[2]!.result.text, results[0]!.result.text);
  });

  it('queues a fifth concurrent job inside the worker until one of the four sequences frees up', async () => {
    assert.equal(sup.actors().find((a) => a.name === 'inference:tiny')!.state, 'ready');
    const seen: string[] = [];
    const onState = (e: ActorEvent) => { if (e.name === 'inference:tiny') seen.push(e.state!); };
    sup.on('state', onState);
    const results = await Promise.all([1, 2, 3, 4, 5].map((i) =>
      generate(sup, { to: 'inference:tiny', job: job(`queue-${i}`, { max_tokens: 200 }) })));
    sup.off('state', onState);
    // ready ⇄ generating: the actor's state follows the jobs it holds (the last reply may
    // arrive just before the state that follows it).
    assert.equal(seen[0], 'generating', seen.join(' → '));
    await until(async () => sup.actors().find((a) => a.name === 'inference:tiny')!.state === 'ready', 20_000, 'the actor to be ready again');
    for (const r of results) assert.equal(r.result.status, 'completed');
    const waited = results.filter((r) => r.result.timings.queue_ms > 1);
    assert.ok(waited.length >= 1, `queue_ms: ${results.map((r) => r.result.timings.queue_ms.toFixed(1)).join(', ')}`);
  });

  it('cancels a job mid-generation in-band: status cancelled, partial text, worker kept', async () => {
    const out = await generate(sup, {
      // The first chunk leaves at once, the next only after a batch window: cancel on the first.
      to: 'inference:tiny', job: job('cancel-1', { max_tokens: 2000 }), cancelAfterTokens: 1,
    });
    assert.equal(out.result.status, 'cancelled');
    assert.match(out.result.reason ?? '', /cancel/);
    assert.ok(out.result.tokens_out >= 1 && out.result.tokens_out < 2000, `tokens_out ${out.result.tokens_out}`);
    assertStreamMatches(out);
    const again = await generate(sup, { to: 'inference:tiny', job: job('after-cancel') });
    assert.equal(again.result.status, 'completed');
    assert.equal(sup.actors().find((a) => a.name === 'inference:tiny')!.crashes, 0, 'no worker restart for a cancel');
  });

  it('answers a cancel request for an unknown job with cancelled: false', async () => {
    const r = await sup.request<CancelResult>('inference:tiny', { type: 'inference.cancel', job_id: 'nope' }, 5000);
    assert.deepEqual(r, { job_id: 'nope', cancelled: false });
  });

  it('ends a job that outlives its timeout with status timeout', async () => {
    const out = await generate(sup, { to: 'inference:tiny', job: job('timeout-1', { max_tokens: 2000, timeout_ms: 40 }) });
    assert.equal(out.result.status, 'timeout');
    assert.match(out.result.reason ?? '', /timeout after 40 ms/);
    assert.ok(out.result.tokens_out < 2000);
    assertStreamMatches(out);
  });

  it('refuses invalid parameters and duplicate job ids with InvalidJobError', async () => {
    const ask = (extra: Record<string, unknown>) =>
      sup.request('inference:tiny', { type: 'inference.generate', ...job('bad'), ...extra }, 5000);
    await assert.rejects(ask({ max_tokens: 0 }), { name: 'InvalidJobError', message: /max_tokens must be an integer/ });
    await assert.rejects(ask({ max_tokens: 5000 }), { name: 'InvalidJobError', message: /context size 2048/ });
    await assert.rejects(ask({ temperature: 3 }), { name: 'InvalidJobError', message: /temperature/ });
    await assert.rejects(ask({ job_id: '' }), { name: 'InvalidJobError' });
    // Both from the supervisor, so they arrive in this order.
    const first = sup.request<GenerateResult>('inference:tiny', { type: 'inference.generate', ...job('dup', { max_tokens: 1000 }) }, 30_000);
    await assert.rejects(ask({ job_id: 'dup' }), { name: 'InvalidJobError', message: /already running/ });
    sup.send('inference:tiny', { type: 'inference.cancel', job_id: 'dup' });
    assert.ok(['completed', 'cancelled'].includes((await first).status));
  });

  it('stops its generations in order when the actor itself is killed, then restarts with the model', async () => {
    const crashesBefore = sup.actors().find((a) => a.name === 'inference:tiny')!.crashes;
    const restarted = once<{ name: string }>(sup, 'restarted');
    const running = generate(sup, { to: 'inference:tiny', job: job('kill-actor', { max_tokens: 2000 }) });
    await new Promise((r) => setTimeout(r, 100));
    await sup.kill('inference:tiny', 'throw');
    // The actor's own requests die with it: the requester learns it (no silent loss).
    await assert.rejects(running, { name: 'ActorDownError' });
    assert.equal((await restarted).name, 'inference:tiny');
    const again = await generate(sup, { to: 'inference:tiny', job: job('after-kill') });
    assert.equal(again.result.status, 'completed');
    assert.equal(sup.actors().find((a) => a.name === 'inference:tiny')!.crashes, crashesBefore + 1);
  });

  it('fails every job its worker held when the worker dies, then restarts and serves again', async () => {
    const crashesBefore = sup.actors().find((a) => a.name === 'inference:tiny')!.crashes;
    const restarted = once<{ name: string }>(sup, 'restarted');
    const [killed, bystander] = await Promise.all([
      generate(sup, { to: 'inference:tiny', job: job('crash-1', { max_tokens: 2000 }), killWorkerAfterTokens: 5 }),
      generate(sup, { to: 'inference:tiny', job: job('crash-2', { max_tokens: 2000 }) }),
    ]);
    for (const r of [killed, bystander]) {
      assert.equal(r.result.status, 'failed');
      assert.match(r.result.reason ?? '', /inference worker crashed: worker exited with code: 1/);
    }
    assert.equal((await restarted).name, 'inference:tiny');
    const again = await generate(sup, { to: 'inference:tiny', job: job('after-crash') });
    assert.equal(again.result.status, 'completed');
    const info = sup.actors().find((a) => a.name === 'inference:tiny')!;
    assert.equal(info.crashes, crashesBefore + 1);
    assert.equal(info.status, 'running');
  });
});

describe('inference actor in a thread', () => {
  it('loads and generates the same way when the actor itself is threaded', async () => {
    const sup = supervise(testConfig({ executor: { job_timeout_secs: 1 } }), [
      inference('inference:tiny', { path: await tinyTestModelPath(), name: 'tiny', threads: 1, contextSize: 2048, sequences: 2 }, 'thread'),
      { name: 'client', module: clientModule, restart: 'permanent', shutdownMs: 2000, placement: 'inline' },
    ]);
    await sup.start();
    try {
      const out = await generate(sup, { to: 'inference:tiny', job: job('t-1') });
      assert.equal(out.result.status, 'completed');
      assertStreamMatches(out);
      // executor.job_timeout_secs applies when the job sets no shorter timeout of its own
      // (this seed runs the full 2000 tokens, ~4 s on the tiny model).
      const long = await generate(sup, { to: 'inference:tiny', job: job('t-2', { max_tokens: 2000, temperature: 0.8, seed: 1 }) });
      assert.equal(long.result.status, 'timeout');
      assert.match(long.result.reason ?? '', /job timeout after 1000 ms/);
      assertStreamMatches(long);
    } finally {
      await sup.stop();
    }
  });
});

describe('inference actor start', () => {
  it('fails to start on a missing model file, with the Model load error', async () => {
    const sup = supervise(testConfig(), [inference('inference:missing', { path: '/nonexistent/model.gguf', name: 'missing', threads: 1 })]);
    await assert.rejects(sup.start(), { name: 'ActorStartError', message: /Model load error: cannot read model file .*no such file/ });
  });

  it('fails to start on a file that is not GGUF, before the native loader sees it', async () => {
    const bad = join(tmpDir(), 'bad.gguf');
    writeFileSync(bad, 'this is not a model at all, just some text');
    const sup = supervise(testConfig(), [inference('inference:bad', { path: bad, name: 'bad', threads: 1 })]);
    await assert.rejects(sup.start(), { name: 'ActorStartError', message: /Model load error: Invalid model format: bad magic/ });
  });
});
