// The OpenAI-compatible gateway as a client application sees it: the official `openai` npm
// client against real in-process nodes over TCP serving the generated test model. A request to
// a node that serves nothing runs on its peer (the same routing as `mvp-node submit`); the
// answer carries the executor's signed receipt.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { loadavg } from 'node:os';
import { PassThrough } from 'node:stream';
import OpenAI from 'openai';
import { createNode, type MvpNode } from '../../src/node/create-node.ts';
import { chatPrompt, TEST_MODEL_OWNER, type ListedModel, type MvpResult } from '../../src/actors/api/openai.ts';
import { sha256Hex, verifyReceipt } from '../../src/protocol/index.ts';
import type { HealthBody } from '../../src/actors/api/messages.ts';
import type { DistributedDecision, RouterStats } from '../../src/actors/consensus/router.ts';
import { testConfig } from '../helpers/config.ts';
import { once, until } from '../helpers/runtime.ts';
import { testModelPath } from '../helpers/test-model.ts';
import { startForgingExecutor, type ForgingExecutor } from '../helpers/forging-executor.ts';

const MODEL = 'mvp-test-tiny';
const loopback = { listen_host: '127.0.0.1', listen_port: 0 };
// The test machine is busy by design; let the load manager claim anyway.
const busyMachine = { max_load_per_core: 1000 };

type Overrides = Parameters<typeof testConfig>[0];
const apiUrl = (node: MvpNode) => node.supervisor.request<string>('api', { type: 'api.url' }, 2000);
const listenAddr = async (node: MvpNode) => (await node.network()).listen.find((a) => a.startsWith('/ip4/127.0.0.1/'))!;
const openai = (url: string, apiKey = 'unused') => new OpenAI({ baseURL: `${url}/v1`, apiKey, maxRetries: 0, timeout: 120_000 });

async function startNode(overrides: Overrides, serveModels: boolean): Promise<{ node: MvpNode; url: string }> {
  const node = await createNode(testConfig(overrides), { persistIdentity: false, serveModels });
  await node.start();
  return { node, url: await apiUrl(node) };
}

/** Until the node's /v1/models lists `model` (its peers' manifests have arrived). */
async function knows(client: OpenAI, model: string): Promise<void> {
  await until(async () => (await client.models.list()).data.some((m) => m.id === model), 30_000, `the node to learn of ${model}`);
}

const mvpOf = (x: unknown) => (x as { mvp: MvpResult }).mvp;

describe('OpenAI gateway, with the official openai client', () => {
  // exec serves the test model; gw serves nothing and reaches exec through the network.
  let exec: { node: MvpNode; url: string };
  let gw: { node: MvpNode; url: string };
  let client: OpenAI;
  before(async () => {
    exec = await startNode({ node: loopback, executor: busyMachine }, true);
    gw = await startNode({ node: loopback, network: { bootstrap_peers: [await listenAddr(exec.node)] } }, false);
    client = openai(gw.url);
    await knows(client, MODEL);
  });
  after(async () => { await gw?.node.stop(); await exec?.node.stop(); });

  it('lists the models served anywhere on the network, the generated one marked as a test model', async () => {
    const page = await client.models.list();
    const m = page.data.find((x) => x.id === MODEL) as unknown as ListedModel;
    assert.ok(m, 'the peer\'s model is listed by a node that serves nothing');
    assert.equal(m.object, 'model');
    assert.equal(m.test_model, true);
    assert.equal(m.owned_by, TEST_MODEL_OWNER);
    assert.deepEqual(m.served_by.map((s) => s.peer_id), [exec.node.peerId]);
    assert.equal((await client.models.retrieve(MODEL)).id, MODEL);
    const own = (await openai(exec.url).models.list()).data.find((x) => x.id === MODEL) as unknown as ListedModel;
    assert.equal(own.test_model, true, 'the executor lists its own model too');
  });

  it('answers a chat completion run on a peer, with usage and the verified receipt (x-mvp-receipt-id)', async () => {
    const messages = [{ role: 'system' as const, content: 'Be brief.' }, { role: 'user' as const, content: 'Hello' }];
    const { data, response } = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 12, temperature: 0, seed: 3 }).withResponse();
    assert.equal(response.status, 200);
    assert.equal(data.object, 'chat.completion');
    assert.equal(data.model, MODEL);
    const choice = data.choices[0]!;
    assert.equal(choice.message.role, 'assistant');
    assert.equal(typeof choice.message.content, 'string');
    assert.ok(choice.finish_reason === 'stop' || choice.finish_reason === 'length');
    const mvp = mvpOf(data);
    assert.equal(response.headers.get('x-mvp-receipt-id'), mvp.receipt_id);
    assert.equal(response.headers.get('x-mvp-job-id'), mvp.job_id);
    assert.equal(mvp.receipt.id, mvp.receipt_id);
    assert.equal(mvp.executor, exec.node.peerId, 'run by the peer: the gateway node serves no model');
    const body = mvp.receipt.body;
    assert.deepEqual(data.usage, { prompt_tokens: body.tokens_in, completion_tokens: body.tokens_out, total_tokens: body.tokens_in + body.tokens_out });
    assert.ok(body.tokens_out >= 1 && body.tokens_out <= 12);
    const check = await verifyReceipt(mvp.receipt, { text: choice.message.content!, prompt: chatPrompt(messages) });
    assert.ok(check.ok, 'the receipt verifies against the answer and the templated prompt');
    // The pick among the claimants was the gateway node's router's job_routing decision.
    const orch = await (await fetch(`${gw.url}/orchestration`)).json() as { recent: DistributedDecision[]; router: RouterStats };
    const routed = orch.recent.find((d) => d.decision_type === 'job_routing' && d.decision.choice === exec.node.peerId);
    assert.ok(routed, `a job_routing decision naming the executor is listed: ${JSON.stringify(orch.recent.map((d) => d.decision_type))}`);
    assert.equal(routed.strategy_used, 'heuristic', 'a job of default value is routed by the heuristic');
    assert.equal(routed.path, 'local');
    assert.ok(orch.router.by_strategy.heuristic.count >= 1);
  });

  it('streams a chat completion: a role chunk, content chunks, finish_reason with the receipt, usage, then [DONE]', async () => {
    const { data: stream, response } = await client.chat.completions.create({
      model: MODEL, messages: [{ role: 'user', content: 'Tell me about swarms' }], max_tokens: 10, temperature: 0, seed: 5,
      stream: true, stream_options: { include_usage: true },
    }).withResponse();
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type')!, /^text\/event-stream/);
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const c of stream) chunks.push(c);
    // The loop ends only on `data: [DONE]` or the end of the response; both ends are checked below.
    assert.ok(chunks.length >= 3, `chunks: ${chunks.length}`);
    assert.equal(chunks[0]!.choices[0]!.delta.role, 'assistant');
    const finishing = chunks.filter((c) => c.choices[0]?.finish_reason);
    assert.equal(finishing.length, 1, 'one chunk finishes the choice');
    const mvp = mvpOf(finishing[0]);
    assert.equal(response.headers.get('x-mvp-job-id'), mvp.job_id, 'the job id comes up front, the receipt at the end');
    assert.equal(new Set(chunks.map((c) => c.id)).size, 1, 'every chunk carries the completion id');
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    assert.equal(sha256Hex(text), mvp.receipt.body.output_sha256, 'the streamed text is the text the receipt signs');
    const last = chunks.at(-1)!;
    assert.deepEqual(last.choices, []);
    assert.deepEqual(last.usage, { prompt_tokens: mvp.receipt.body.tokens_in, completion_tokens: mvp.receipt.body.tokens_out, total_tokens: mvp.receipt.body.tokens_in + mvp.receipt.body.tokens_out });
  });

  it('runs concurrent requests as separate jobs, each with its own receipt', async () => {
    const asks = ['one', 'two', 'three'].map((content) => client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content }], max_tokens: 6 }));
    const receipts = (await Promise.all(asks)).map((r) => mvpOf(r).receipt);
    assert.equal(new Set(receipts.map((r) => r.body.job_id)).size, 3);
    assert.ok(receipts.every((r) => r.body.status === 'completed'));
  });

  it('ends the raw event stream with data: [DONE]', async () => {
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 4, stream: true }),
    });
    assert.equal(res.status, 200);
    const events = (await res.text()).split('\n\n').filter(Boolean);
    assert.ok(events.every((e) => e.startsWith('data: ')), 'only data: events');
    assert.equal(events.at(-1), 'data: [DONE]');
    assert.equal(events.filter((e) => e === 'data: [DONE]').length, 1);
  });

  it('answers text completions, streamed and not, run locally on a node that serves the model', async () => {
    const local = openai(exec.url);
    const { data, response } = await local.completions.create({ model: MODEL, prompt: 'Once upon a time', max_tokens: 8, temperature: 0 }).withResponse();
    assert.equal(data.object, 'text_completion');
    const mvp = mvpOf(data);
    assert.equal(mvp.executor, exec.node.peerId);
    assert.equal(response.headers.get('x-mvp-receipt-id'), mvp.receipt_id);
    assert.equal(sha256Hex(data.choices[0]!.text), mvp.receipt.body.output_sha256);
    assert.equal(data.usage!.completion_tokens, mvp.receipt.body.tokens_out);
    assert.equal(data.usage!.prompt_tokens, mvp.receipt.body.tokens_in);

    const stream = await local.completions.create({ model: MODEL, prompt: 'Once upon a time', max_tokens: 8, temperature: 0, stream: true });
    let text = '';
    let receiptText: string | undefined;
    for await (const c of stream) {
      text += c.choices[0]?.text ?? '';
      if (c.choices[0]?.finish_reason) receiptText = mvpOf(c).receipt.body.output_sha256;
    }
    assert.equal(sha256Hex(text), receiptText);
  });

  it('refuses bad requests with 4xx in OpenAI\'s error shape, and the node stays healthy', async () => {
    const post = async (path: string, body: string, type = 'application/json') => {
      const res = await fetch(`${gw.url}/v1${path}`, { method: 'POST', headers: { 'content-type': type }, body });
      return { status: res.status, body: await res.json() as { error: { message: string; type: string; param: string | null; code: string } } };
    };
    const badJson = await post('/chat/completions', '{"model": ');
    assert.equal(badJson.status, 400);
    assert.equal(badJson.body.error.type, 'invalid_request_error');
    assert.equal(badJson.body.error.code, 'invalid_json');
    const wrongType = await post('/completions', JSON.stringify({ model: MODEL, prompt: 'x', max_tokens: '12' }));
    assert.deepEqual([wrongType.status, wrongType.body.error.param, wrongType.body.error.code], [400, 'max_tokens', 'invalid_value'], 'no type coercion');
    const notJson = await post('/completions', 'model=x', 'application/x-www-form-urlencoded');
    assert.equal(notJson.status, 415);
    assert.equal(notJson.body.error.type, 'invalid_request_error');
    const huge = await post('/completions', JSON.stringify({ model: MODEL, prompt: 'x'.repeat(2 * 1024 * 1024) }));
    assert.deepEqual([huge.status, huge.body.error.type, huge.body.error.code], [413, 'invalid_request_error', 'body_too_large']);
    const unknownUrl = await fetch(`${gw.url}/v1/engines`);
    assert.equal(unknownUrl.status, 404);
    assert.equal(((await unknownUrl.json()) as { error: { code: string } }).error.code, 'unknown_url');

    // The same through the official client: it raises its typed errors from our bodies.
    const refused = async (p: Promise<unknown>, status: number, param: string | null, code: string) => {
      await assert.rejects(p, (err: unknown) => {
        assert.ok(err instanceof OpenAI.APIError, String(err));
        assert.deepEqual([err.status, err.param, err.code, err.type], [status, param, code, 'invalid_request_error'], err.message);
        return true;
      });
    };
    await refused(client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }], temperature: 'hot' as unknown as number }), 400, 'temperature', 'invalid_value');
    await refused(client.chat.completions.create({ model: MODEL, messages: 'Hello' as never }), 400, 'messages', 'invalid_value');
    await refused(client.chat.completions.create({ model: MODEL } as never), 400, 'messages', 'missing_required_parameter');
    await refused(client.chat.completions.create({ model: MODEL, messages: [] }), 400, 'messages', 'invalid_value');
    await refused(client.chat.completions.create({ model: MODEL, messages: [{ role: 'wizard', content: 'x' }] as never }), 400, 'messages', 'invalid_value');
    await refused(client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }], n: 2 }), 400, 'n', 'invalid_value');
    await refused(client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }], max_tokens: 30_000 }), 400, 'max_tokens', 'context_length_exceeded');
    await refused(client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'http://x/y.png' } }] }] }), 400, 'messages', 'invalid_value');
    await assert.rejects(client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.NotFoundError);
      assert.equal(err.code, 'model_not_found');
      assert.match(err.message, /The model 'no-such-model' does not exist on this network \(served: mvp-test-tiny\)/);
      return true;
    });
    await assert.rejects(client.models.retrieve('no-such-model'), OpenAI.NotFoundError);

    const health = await fetch(`${gw.url}/health`);
    assert.equal(health.status, 200);
    assert.equal(((await health.json()) as HealthBody).peers, 1, 'the gateway\'s own client is not counted as a peer');
  });

  it('answers 502 when an executor\'s receipt does not verify', async () => {
    let forger: ForgingExecutor | undefined;
    try {
      forger = await startForgingExecutor(await listenAddr(gw.node));
      await knows(client, forger.model);
      await assert.rejects(client.chat.completions.create({ model: forger.model, messages: [{ role: 'user', content: 'x' }], max_tokens: 4 }), (err: unknown) => {
        assert.ok(err instanceof OpenAI.APIError);
        assert.equal(err.status, 502, err.message);
        assert.equal(err.code, 'bad_receipt');
        assert.match(err.message, /failed verification: output_hash/);
        assert.match(err.headers?.get('x-mvp-job-id') ?? '', /^[0-9a-f]{64}$/);
        return true;
      });
    } finally {
      await forger?.stop();
    }
  });

  it('joins the network again after this node\'s network actor restarts (on the same port)', async () => {
    const before = await listenAddr(gw.node);
    const restarted = once<{ name: string }>(gw.node.supervisor, 'restarted');
    await gw.node.supervisor.kill('network', 'throw');
    assert.equal((await restarted).name, 'network');
    assert.equal(await listenAddr(gw.node), before, 'a restarted network actor takes back its port');
    await knows(client, MODEL);
    const r = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Hello again' }], max_tokens: 4 });
    assert.equal(mvpOf(r).executor, exec.node.peerId);
  });
});

describe('OpenAI gateway: a client that hangs up', () => {
  let n: { node: MvpNode; url: string };
  let log = '';
  before(async () => {
    // The small model, so the hang-up lands while the job still generates.
    const out = new PassThrough();
    out.on('data', (d) => { log += d; });
    // The executor's log line is read from createNode's log destination, which captures inline
    // actors: the network actor (the executor's side of the job path) runs inline here.
    const config = testConfig({
      node: loopback, executor: busyMachine, model: { path: await testModelPath('small'), name: 'small' }, monitoring: { log_level: 'info' },
      runtime: { placement: { network: 'inline' } },
    });
    const node = await createNode(config, { persistIdentity: false, logDestination: out });
    await node.start();
    n = { node, url: await apiUrl(node) };
  });
  after(() => n?.node.stop());

  it('gives its job up: the executor stops generating', async () => {
    const hangUp = new AbortController();
    const res = await fetch(`${n.url}/v1/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, signal: hangUp.signal,
      body: JSON.stringify({ model: 'small', prompt: 'Tell me a long story', max_tokens: 1500, temperature: 0, stream: true }),
    });
    assert.equal(res.status, 200);
    const jobId = res.headers.get('x-mvp-job-id')!;
    await res.body!.getReader().read();
    hangUp.abort();
    const abandoned = () => log.split('\n').some((l) => l.includes('"Job abandoned: its client is gone"') && l.includes(jobId));
    await until(async () => abandoned(), 30_000, 'the executor to abandon the job');
    const health = await fetch(`${n.url}/health`);
    assert.equal(health.status, 200);
  });
});

describe('OpenAI gateway: no node takes the job', () => {
  let n: { node: MvpNode; url: string };
  before(async () => {
    // Its only executor refuses every claim: any load at all is above its limit.
    n = await startNode({ node: loopback, executor: { max_load_per_core: 1e-9 }, api: { gateway_timeout_secs: 2 } }, true);
  });
  after(() => n?.node.stop());

  it('answers 503 once api.gateway_timeout_secs have passed without a claim', { skip: loadavg()[0] === 0 && 'the load average reads 0 here' }, async () => {
    await assert.rejects(openai(n.url).chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }], max_tokens: 4 }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.InternalServerError);
      assert.equal(err.status, 503);
      assert.equal(err.code, 'no_executor');
      assert.match(err.message, /no node took the job within 2 s \(model mvp-test-tiny, no claims\)/);
      assert.match(err.headers?.get('x-mvp-job-id') ?? '', /^[0-9a-f]{64}$/, 'the id the job was offered under');
      return true;
    });
  });
});

describe('OpenAI gateway: a node that lets in only configured peers', () => {
  let n: { node: MvpNode; url: string };
  before(async () => {
    n = await startNode({ node: loopback, executor: busyMachine, network: { auto_accept_peers: false } }, true);
  });
  after(() => n?.node.stop());

  it('still lets in its own gateway, and does not count it as a peer', async () => {
    const r = await openai(n.url).chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Hello' }], max_tokens: 4 });
    assert.equal(mvpOf(r).executor, n.node.peerId);
    const status = await n.node.network();
    assert.deepEqual([status.peers, status.known], [0, 0]);
  });
});

describe('OpenAI gateway: bearer token', () => {
  let exec: { node: MvpNode; url: string };
  let guarded: { node: MvpNode; url: string };
  before(async () => {
    exec = await startNode({ node: loopback, executor: busyMachine }, true);
    // The api actor on its own thread: its light client runs in the worker.
    const cfg: Overrides = {
      node: loopback, api: { token: 's3cret' }, runtime: { placement: { api: 'thread' } },
      network: { bootstrap_peers: [await listenAddr(exec.node)] },
    };
    guarded = await startNode(cfg, false);
  });
  after(async () => { await guarded?.node.stop(); await exec?.node.stop(); });

  it('refuses a client without the token, serves one whose apiKey is the token (sent as Bearer)', async () => {
    await assert.rejects(openai(guarded.url, 'wrong').models.list(), OpenAI.AuthenticationError);
    const client = openai(guarded.url, 's3cret');
    await knows(client, MODEL);
    const r = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Hello' }], max_tokens: 4, temperature: 0 });
    assert.equal(mvpOf(r).executor, exec.node.peerId);
    assert.ok(r.usage!.completion_tokens >= 1);
  });
});
