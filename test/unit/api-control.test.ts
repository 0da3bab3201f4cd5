// Steering a real node through its HTTP API: killing and restarting actors (seen in GET /actors,
// GET /health and the restart metric), the api actor killing itself and coming back on the same
// port, bad requests answered 4xx with a reason while the node keeps working, and metrics off.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createNode, type MvpNode } from '../../src/node/create-node.ts';
import type { ApiErrorBody, HealthBody, SelfActionBody } from '../../src/actors/api/messages.ts';
import type { ActorInfo, KillReply } from '../../src/runtime/supervisor.ts';
import { apiUrl, get, parseMetrics, post, sample } from '../helpers/api.ts';
import { testConfig } from '../helpers/config.ts';
import { until } from '../helpers/runtime.ts';
import { CONSENSUS_ROLES } from '../../src/actors/consensus/messages.ts';

const loopback = { listen_host: '127.0.0.1', listen_port: 0 };
const actor = async (url: string, name: string) => (await get<ActorInfo[]>(`${url}/actors`)).body.find((a) => a.name === name)!;
const metrics = async (url: string) => parseMetrics((await get<string>(`${url}/metrics`)).body);

describe('api: killing and restarting actors', () => {
  let node: MvpNode;
  let url: string;
  before(async () => {
    // These tests kill actors in quick succession: more than the default 3 restarts in 5 s
    // would make the supervisor give up, which is supervisor.test.ts's subject, not this file's.
    node = await createNode(testConfig({ node: loopback, runtime: { restart_intensity: 100 } }), { persistIdentity: false });
    await node.start();
    url = await apiUrl(node);
  });
  after(() => node.stop());

  it('POST /actors/:name/kill kills an actor; its restart shows in /actors, /health and the restart metric', async () => {
    const { status, body } = await post<KillReply>(`${url}/actors/consensus/kill`);
    assert.equal(status, 200);
    // A TCP node places consensus on a thread by default, and terminate is the default way to die.
    assert.deepEqual(body, { name: 'consensus', placement: 'thread', mode: 'terminate' });
    await until(async () => (await actor(url, 'consensus')).status === 'running', 20_000, 'consensus to be restarted');
    const a = await actor(url, 'consensus');
    assert.deepEqual([a.restarts, a.crashes], [1, 1]);
    assert.ok((CONSENSUS_ROLES as readonly string[]).includes(a.state ?? ''), `consensus back in one of its roles: ${a.state}`);
    assert.equal((await get(`${url}/health`)).status, 200);
    const m = await metrics(url);
    assert.equal(sample(m, 'mvp_actor_restarts_total', { actor: 'consensus' }), 1);
    assert.equal(sample(m, 'mvp_actor_crashes_total', { actor: 'consensus' }), 1);
    assert.equal(sample(m, 'mvp_actor_restarts_total', { actor: 'network' }), 0);
  });

  it('takes the way to die as ?mode= or as the body {"how"}, and refuses the two disagreeing', async () => {
    assert.equal((await post<KillReply>(`${url}/actors/orchestrator/kill?mode=throw`)).body.mode, 'throw');
    await until(async () => (await actor(url, 'orchestrator')).status === 'running', 20_000, 'orchestrator to be restarted');
    assert.equal((await post<KillReply>(`${url}/actors/orchestrator/kill`, { how: 'throw' })).body.mode, 'throw');
    await until(async () => (await actor(url, 'orchestrator')).restarts === 2 && (await actor(url, 'orchestrator')).status === 'running', 20_000, 'orchestrator to be restarted again');
    const both = await post<ApiErrorBody>(`${url}/actors/orchestrator/kill?mode=terminate`, { how: 'throw' });
    assert.deepEqual([both.status, both.body.code], [400, 'invalid_request']);
    assert.match(both.body.message, /disagree/);
    assert.equal((await actor(url, 'orchestrator')).crashes, 2);
  });

  it('POST /actors/:name/restart stops and starts an actor and answers once it runs again', async () => {
    const { status, body } = await post<ActorInfo>(`${url}/actors/inference:mvp-test-tiny/restart`);
    assert.equal(status, 200);
    assert.deepEqual([body.name, body.status, body.state, body.restarts, body.crashes], ['inference:mvp-test-tiny', 'running', 'ready', 1, 0]);
    const h = (await get<HealthBody>(`${url}/health`)).body;
    assert.deepEqual([h.status, h.models], ['ok', { 'mvp-test-tiny': 'loaded' }]);
    const m = await metrics(url);
    assert.equal(sample(m, 'mvp_actor_restarts_total', { actor: 'inference:mvp-test-tiny' }), 1);
    assert.equal(sample(m, 'mvp_actor_crashes_total', { actor: 'inference:mvp-test-tiny' }), 0);
  });

  it('GET /health answers 503, naming the model, while a model reloads', async () => {
    const restart = post(`${url}/actors/inference:mvp-test-tiny/restart`);
    let restarted = false;
    void restart.then(() => { restarted = true; });
    const seen: HealthBody[] = [];
    // The reload (worker, llama.cpp, model, context) is long next to a local HTTP request.
    while (!restarted) {
      const h = await get<HealthBody>(`${url}/health`);
      if (h.status === 503) seen.push(h.body);
    }
    assert.equal((await restart).status, 200);
    assert.ok(seen.length > 0, 'at least one /health answered while the model was down');
    assert.ok(seen.every((h) => h.status !== 'ok' && h.models['mvp-test-tiny'] !== 'loaded'), JSON.stringify(seen[0]));
    assert.equal((await get(`${url}/health`)).status, 200);
  });

  it('answers 409 actor_not_running to killing an actor that is restarting', async () => {
    const name = 'inference:mvp-test-tiny';
    assert.equal((await post(`${url}/actors/${name}/kill`, { how: 'throw' })).status, 200);
    // The supervisor is reloading the model now: that takes far longer than a local request.
    const again = await post<ApiErrorBody>(`${url}/actors/${name}/kill`);
    assert.deepEqual([again.status, again.body.code], [409, 'actor_not_running']);
    assert.match(again.body.message, /^actor inference:mvp-test-tiny is down: not running \((restarting|stopped)\)$/);
    await until(async () => (await get(`${url}/health`)).status === 200, 60_000, 'the model to be back');
  });

  it('answers 404 unknown_actor for a name it does not supervise', async () => {
    for (const path of ['/actors/nope/kill', '/actors/nope/restart']) {
      const { status, body } = await post<ApiErrorBody>(`${url}${path}`);
      assert.deepEqual([status, body], [404, { code: 'unknown_actor', message: 'no actor named nope', retryable: false }], path);
    }
  });
});

describe('api: bad requests are refused with a reason and do not disturb the node', () => {
  let node: MvpNode;
  let url: string;
  before(async () => {
    node = await createNode(testConfig({ node: loopback }), { persistIdentity: false, serveModels: false });
    await node.start();
    url = await apiUrl(node);
  });
  after(() => node.stop());

  const refusals: Array<[string, () => Promise<{ status: number; body: unknown }>, number, string, RegExp]> = [
    ['malformed JSON', () => post(`${url}/actors/consensus/kill`, '{"how": '), 400, 'invalid_json', /not valid JSON/],
    ['an empty JSON body', () => post(`${url}/actors/consensus/kill`, ''), 400, 'invalid_json', /cannot be empty/],
    ['a value of the wrong type', () => post(`${url}/actors/consensus/kill`, { how: 1 }), 400, 'invalid_request', /body\/how must be equal to one of the allowed values/],
    ['an unknown field', () => post(`${url}/actors/consensus/restart`, { now: true }), 400, 'invalid_request', /body must NOT have additional properties/],
    ['a body that is not an object', () => post(`${url}/actors/consensus/kill`, '[1]'), 400, 'invalid_request', /body must be object/],
    ['an unknown kill mode', () => post(`${url}/actors/consensus/kill?mode=gently`), 400, 'invalid_request', /querystring\/mode/],
    ['a non-numeric limit', () => get(`${url}/jobs?limit=many`), 400, 'invalid_request', /querystring\/limit must be integer/],
    ['a limit out of range', () => get(`${url}/jobs?limit=0`), 400, 'invalid_request', /querystring\/limit must be >= 1/],
    ['an unknown job status', () => get(`${url}/jobs?status=lost`), 400, 'invalid_request', /querystring\/status/],
    ['a body over the limit', () => post(`${url}/actors/consensus/kill`, { how: 'x'.repeat(2 * 1024 * 1024) }), 413, 'body_too_large', /larger than 1048576 bytes/],
    ['a body that is not JSON', () => get(`${url}/actors`).then(() => fetch(`${url}/actors/consensus/kill`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'die' }))
      .then(async (r) => ({ status: r.status, body: await r.json() })), 415, 'unsupported_media_type', /application\/json/],
  ];

  for (const [what, send, status, code, message] of refusals) {
    it(`refuses ${what}: ${status} ${code}`, async () => {
      const r = await send();
      assert.equal(r.status, status, JSON.stringify(r.body));
      const body = r.body as ApiErrorBody;
      assert.equal(body.code, code);
      assert.match(body.message, message);
    });
  }

  it('is still healthy, with no actor killed, after all of them', async () => {
    assert.equal((await get(`${url}/health`)).status, 200);
    const actors = (await get<ActorInfo[]>(`${url}/actors`)).body;
    assert.ok(actors.every((a) => a.status === 'running' && a.restarts === 0 && a.crashes === 0), JSON.stringify(actors));
  });
});

describe('api on its own thread: killing it through itself', () => {
  let node: MvpNode;
  let url: string;
  let config: ReturnType<typeof testConfig>;
  before(async () => {
    config = testConfig({ node: { ...loopback, node_id: 'self-kill' }, api: { token: 't0ken' }, runtime: { restart_intensity: 100, placement: { api: 'thread', consensus: 'thread' } } });
    node = await createNode(config, { serveModels: false });
    await node.start();
    url = await apiUrl(node);
  });
  after(() => node.stop());
  const auth = { authorization: 'Bearer t0ken' };

  it('terminates a threaded actor\'s worker when asked to', async () => {
    assert.equal((await post(`${url}/actors/consensus/kill`, undefined)).status, 401, 'the token rule holds for POST too');
    const { status, body } = await post<KillReply>(`${url}/actors/consensus/kill`, { how: 'terminate' }, auth);
    assert.deepEqual([status, body], [200, { name: 'consensus', placement: 'thread', mode: 'terminate' }]);
    await until(async () => (await get<ActorInfo[]>(`${url}/actors`, auth)).body.find((a) => a.name === 'consensus')!.status === 'running', 20_000, 'consensus back');
  });

  it('answers 202 to killing the api actor, which comes back on the same port and rewrites api.json', async () => {
    const { status, body } = await post<SelfActionBody>(`${url}/actors/api/kill`, { how: 'terminate' }, auth);
    assert.equal(status, 202);
    assert.deepEqual([body.name, body.accepted], ['api', true]);
    await until(async () => node.supervisor.actors().find((a) => a.name === 'api')!.crashes === 1, 20_000, 'the api actor to die');
    await until(async () => (await get(`${url}/health`, auth)).status === 200, 20_000, 'the API back at the same URL');
    const api = (await get<ActorInfo[]>(`${url}/actors`, auth)).body.find((a) => a.name === 'api')!;
    assert.deepEqual([api.placement, api.status, api.restarts, api.crashes], ['thread', 'running', 1, 1]);
    assert.equal(JSON.parse(readFileSync(join(config.node.data_dir, 'self-kill', 'api.json'), 'utf8')).url, url);
  });

  it('answers 202 to restarting the api actor, and serves again at the same URL', async () => {
    const { status } = await post(`${url}/actors/api/restart`, undefined, auth);
    assert.equal(status, 202);
    await until(async () => node.supervisor.actors().find((a) => a.name === 'api')!.restarts === 2, 20_000, 'the api actor to restart');
    await until(async () => (await get(`${url}/health`, auth)).status === 200, 20_000, 'the API back at the same URL');
    const m = await parseMetrics((await get<string>(`${url}/metrics`, auth)).body);
    assert.equal(sample(m, 'mvp_actor_restarts_total', { actor: 'api' }), 2);
    assert.equal(sample(m, 'mvp_actor_crashes_total', { actor: 'api' }), 1);
  });
});

describe('api: metrics turned off', () => {
  it('answers GET /metrics with 404 metrics_disabled when monitoring.metrics_enabled = false', async () => {
    const node = await createNode(testConfig({ node: loopback, monitoring: { metrics_enabled: false } }), { persistIdentity: false, serveModels: false });
    await node.start();
    try {
      const url = await apiUrl(node);
      assert.deepEqual(await get(`${url}/metrics`), {
        status: 404, type: 'application/json; charset=utf-8',
        body: { code: 'metrics_disabled', message: 'metrics are off on this node (monitoring.metrics_enabled = false)', retryable: false },
      });
      assert.equal((await get(`${url}/health`)).status, 200);
    } finally {
      await node.stop();
    }
  });
});
