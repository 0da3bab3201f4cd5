// The api actor as a specification: a real node serves GET /health and GET /actors on loopback,
// guards them with a bearer token when one is configured, answers errors as JSON { code, message },
// and tells local tools where it listens (log line, <data_dir>/<node-id>/api.json).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { createNode, type MvpNode } from '../../src/node/create-node.ts';
import { healthOf } from '../../src/actors/api/health.ts';
import type { HealthBody } from '../../src/actors/api/messages.ts';
import type { ActorInfo } from '../../src/runtime/supervisor.ts';
import { testConfig } from '../helpers/config.ts';
import { once } from '../helpers/runtime.ts';

const loopback = { listen_host: '127.0.0.1', listen_port: 0 };
const apiUrl = (node: MvpNode) => node.supervisor.request<string>('api', { type: 'api.url' }, 2000);
const get = async (url: string, headers: Record<string, string> = {}) => {
  const res = await fetch(url, { headers });
  return { status: res.status, type: res.headers.get('content-type'), body: await res.json() as unknown };
};

describe('api actor: GET /health and GET /actors', () => {
  let node: MvpNode;
  let url: string;
  before(async () => {
    node = await createNode(testConfig({ node: loopback }), { persistIdentity: false });
    await node.start();
    url = await apiUrl(node);
  });
  after(() => node.stop());

  it('listens on loopback on an auto-assigned port', () => {
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(new URL(url).port, '0');
  });

  it('reports a healthy node with 200: identity, peers, uptime, every actor running, the queue', async () => {
    const { status, type, body } = await get(`${url}/health`);
    assert.equal(status, 200);
    assert.match(type!, /^application\/json/);
    const h = body as HealthBody;
    assert.equal(h.status, 'ok');
    assert.equal(h.node_id, node.nodeId);
    assert.equal(h.peer_id, node.peerId);
    assert.equal(h.peers, 0);
    assert.equal(h.known_peers, 0);
    assert.equal(typeof h.uptime_s, 'number');
    assert.deepEqual(h.actors, {
      scheduler: 'running', 'inference:mvp-test-tiny': 'ready', network: 'running', consensus: 'running', orchestrator: 'running', api: 'running',
    });
    assert.deepEqual(h.queue, { depth: 0, capacity: 100 });
  });

  it('lists the supervised actors with placement, status, state, restarts and crashes', async () => {
    const { status, body } = await get(`${url}/actors`);
    assert.equal(status, 200);
    const actors = body as ActorInfo[];
    assert.deepEqual(actors.map((a) => a.name), ['scheduler', 'inference:mvp-test-tiny', 'network', 'consensus', 'orchestrator', 'api']);
    for (const a of actors) {
      assert.deepEqual({ placement: a.placement, status: a.status, state: a.state, restarts: a.restarts, crashes: a.crashes },
        { placement: 'inline', status: 'running', state: a.name.startsWith('inference:') ? 'ready' : 'running', restarts: 0, crashes: 0 }, a.name);
    }
  });

  it('shows a killed actor\'s restart in /actors', async () => {
    const restarted = once<{ name: string }>(node.supervisor, 'restarted');
    await node.supervisor.kill('scheduler', 'throw');
    assert.equal((await restarted).name, 'scheduler');
    const scheduler = ((await get(`${url}/actors`)).body as ActorInfo[]).find((a) => a.name === 'scheduler')!;
    assert.deepEqual([scheduler.status, scheduler.restarts, scheduler.crashes], ['running', 1, 1]);
    assert.equal((await get(`${url}/health`)).status, 200);
  });

  it('answers an unknown route or method with 404 JSON', async () => {
    assert.deepEqual(await get(`${url}/nope?x=1`), { status: 404, type: 'application/json; charset=utf-8', body: { code: 'not_found', message: 'no route GET /nope' } });
    const res = await fetch(`${url}/health`, { method: 'POST' });
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { code: string }).code, 'not_found');
  });
});

describe('api actor: bearer token', () => {
  let node: MvpNode;
  let url: string;
  before(async () => {
    // Also runs the api actor on its own thread: the same code serves from a worker.
    node = await createNode(testConfig({ node: loopback, api: { token: 's3cret' }, runtime: { placement: { api: 'thread' } } }), { persistIdentity: false, serveModels: false });
    await node.start();
    url = await apiUrl(node);
  });
  after(() => node.stop());

  it('refuses a request without the token, or with a wrong one, with 401 JSON', async () => {
    for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: 's3cret' }] as Record<string, string>[]) {
      const { status, body } = await get(`${url}/health`, headers);
      assert.equal(status, 401, JSON.stringify(headers));
      assert.equal((body as { code: string }).code, 'unauthorized');
      assert.match((body as { message: string }).message, /Authorization: Bearer/);
    }
    assert.equal((await get(`${url}/nope`)).status, 401, 'unknown routes reveal nothing either');
  });

  it('serves a request that carries Authorization: Bearer <token>', async () => {
    const { status, body } = await get(`${url}/health`, { authorization: 'Bearer s3cret' });
    assert.equal(status, 200);
    assert.equal((body as HealthBody).actors.api, 'running');
    assert.equal(node.supervisor.actors().find((a) => a.name === 'api')!.placement, 'thread');
  });

  it('is a configuration error to listen off loopback without a token', () => {
    assert.throws(() => testConfig({ api: { listen: '0.0.0.0' } }),
      (err: Error & { exitCode?: number }) => err.name === 'ConfigError' && err.exitCode === 2
        && /api\.listen = "0\.0\.0\.0".*requires api\.token/.test(err.message));
  });
});

describe('api actor: where it listens', () => {
  it('logs the URL, writes <data_dir>/<node-id>/api.json while running and removes it on stop', async () => {
    const config = testConfig({ node: { ...loopback, node_id: 'with-api-file' }, monitoring: { log_level: 'info' } });
    const out = new PassThrough();
    let text = '';
    out.on('data', (d) => { text += d; });
    const node = await createNode(config, { persistIdentity: true, logDestination: out, serveModels: false });
    const file = join(config.node.data_dir, 'with-api-file', 'api.json');
    await node.start();
    try {
      const url = await apiUrl(node);
      assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), { url, pid: process.pid });
      const line = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { msg: string; url?: string; actor?: string })
        .find((l) => l.msg.startsWith('API listening on'));
      assert.ok(line, 'an "API listening on" log line');
      assert.equal(line.msg, `API listening on ${url}`);
      assert.equal(line.url, url);
    } finally {
      await node.stop();
    }
    assert.equal(existsSync(file), false);
  });

  it('fails to start, naming the address, when the configured port is taken', async () => {
    const first = await createNode(testConfig({ node: loopback }), { persistIdentity: false, serveModels: false });
    await first.start();
    try {
      const port = Number(new URL(await apiUrl(first)).port);
      const second = await createNode(testConfig({ node: loopback, api: { port } }), { persistIdentity: false, serveModels: false });
      await assert.rejects(second.start(), (err: Error) => err.message.includes(`Failed to start the HTTP API on 127.0.0.1:${port}: address already in use`));
    } finally {
      await first.stop();
    }
  });

  it('is not started for in-memory (simulated) nodes', async () => {
    const node = await createNode(testConfig(), { transport: 'memory' });
    assert.equal(node.supervisor.actors().some((a) => a.name === 'api'), false);
  });
});

describe('health verdict', () => {
  const node = { dataDir: '', nodeId: 'n', peerId: 'p', startedAt: 0 };
  const actor = (name: string, status: ActorInfo['status'], state = status === 'running' ? 'running' : 'stopped'): ActorInfo =>
    ({ name, placement: 'inline', restart: 'permanent', status, state, restarts: 0, crashes: 0 });
  const network = { peer_id: 'p', node_id: 'n', listen: [], peers: 2, known: 3, received: 0, accepted: 0, duplicates: 0, published: 0, dropped: {}, sync_dropped: {} };
  const queue = { depth: 1, capacity: 10, busy_slots: 0, slots: 0 };

  it('is ok when the network and scheduler answer and every actor runs', () => {
    const h = healthOf(node, { network, queue, actors: [actor('network', 'running'), actor('scheduler', 'running')] }, 61_000, 100);
    assert.deepEqual(h, {
      status: 'ok', node_id: 'n', peer_id: 'p', peers: 2, known_peers: 3, uptime_s: 61,
      actors: { network: 'running', scheduler: 'running' }, queue: { depth: 1, capacity: 10 },
    });
  });

  it('is degraded when an actor is restarting or the network does not answer', () => {
    const restarting = healthOf(node, { network, queue, actors: [actor('network', 'restarting')] }, 0, 100);
    assert.equal(restarting.status, 'degraded');
    assert.deepEqual(restarting.actors, { network: 'restarting' });
    const silent = healthOf(node, { queue, actors: [actor('network', 'running')] }, 0, 100);
    assert.deepEqual([silent.status, silent.peers, silent.known_peers], ['degraded', 0, 0]);
  });

  it('is starting while an actor has not started yet, and falls back to the configured capacity', () => {
    const h = healthOf(node, { actors: [actor('network', 'starting')] }, 0, 100);
    assert.equal(h.status, 'starting');
    assert.deepEqual(h.queue, { depth: 0, capacity: 100 });
  });
});
