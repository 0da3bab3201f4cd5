// The api actor as a specification: a real node serves its health, actors, peers, jobs (with
// their receipts), manifest and Prometheus metrics on loopback, guards them with a bearer token
// when one is configured, answers errors as JSON { code, message }, and tells local tools where
// it listens (log line, <data_dir>/<node-id>/api.json). Steering (kill, restart) and bad
// requests: api-control.test.ts.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { createNode, type MvpNode } from '../../src/node/create-node.ts';
import { healthOf } from '../../src/actors/api/health.ts';
import type { HealthBody, JobBody, OrchestrationBody } from '../../src/actors/api/messages.ts';
import type { PeerSummary } from '../../src/actors/network/messages.ts';
import { CONSENSUS_ROLES } from '../../src/actors/consensus/messages.ts';
import type { JobRecord } from '../../src/actors/scheduler/messages.ts';
import type { StoredReceipt, StoreStatus } from '../../src/store/store.ts';
import { submitJob } from '../../src/client/submit.ts';
import { verifyReceipt, type Manifest } from '../../src/protocol/index.ts';
import type { ActorInfo, MachineInfo } from '../../src/runtime/supervisor.ts';
import { apiUrl, get, histogram, parseMetrics, sample } from '../helpers/api.ts';
import { testConfig } from '../helpers/config.ts';
import { once, until } from '../helpers/runtime.ts';

const loopback = { listen_host: '127.0.0.1', listen_port: 0 };

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
    const { network, consensus, ...others } = h.actors;
    assert.equal(network, 'joining', 'no peer connected');
    assert.ok((CONSENSUS_ROLES as readonly string[]).includes(consensus!), `consensus in one of its roles: ${consensus}`);
    assert.deepEqual(others, {
      store: 'open', scheduler: 'accepting', 'inference:mvp-test-tiny': 'ready', orchestrator: 'idle', api: 'serving',
    });
    assert.deepEqual(h.models, { 'mvp-test-tiny': 'loaded' });
    assert.deepEqual(h.queue, { depth: 0, capacity: 100 });
  });

  it('lists the supervised actors with placement, status, state, restarts and crashes', async () => {
    const { status, body } = await get(`${url}/actors`);
    assert.equal(status, 200);
    const actors = body as ActorInfo[];
    assert.deepEqual(actors.map((a) => a.name), ['store', 'scheduler', 'inference:mvp-test-tiny', 'network', 'consensus', 'orchestrator', 'api']);
    // Each actor shows the state of its own machine: alone, this node's network is joining, and
    // its consensus actor is in one of its roles.
    const consensus = actors.find((a) => a.name === 'consensus')!;
    assert.ok((CONSENSUS_ROLES as readonly string[]).includes(consensus.state), `consensus in one of its roles: ${consensus.state}`);
    const idle: Record<string, string> = {
      store: 'open', scheduler: 'accepting', 'inference:mvp-test-tiny': 'ready', network: 'joining', consensus: consensus.state, orchestrator: 'idle', api: 'serving',
    };
    for (const a of actors) {
      assert.deepEqual({ placement: a.placement, status: a.status, state: a.state, restarts: a.restarts, crashes: a.crashes },
        { placement: a.name === 'store' ? 'inline' : 'thread', status: 'running', state: idle[a.name], restarts: 0, crashes: 0 }, a.name);
    }
  });

  it('describes an actor\'s machine as xstate JSON for a visualizer, with its state now', async () => {
    type StateJson = { type: string; on: Record<string, Array<{ target?: string[] }>>; always?: Array<{ guard?: string; target?: string[] }>; invoke: Array<{ src: string }> };
    const { status, body } = await get(`${url}/actors/inference:mvp-test-tiny/machine`);
    assert.equal(status, 200);
    const m = body as MachineInfo;
    assert.deepEqual([m.name, m.status, m.state], ['inference:mvp-test-tiny', 'running', 'ready']);
    const def = m.definition as { id: string; initial: { target: string[] }; states: Record<string, StateJson> };
    assert.equal(def.id, 'inference:mvp-test-tiny');
    assert.deepEqual(def.initial.target, ['#inference:mvp-test-tiny.loading']);
    assert.deepEqual(Object.keys(def.states).sort(), ['failed', 'generating', 'loading', 'ready', 'unloading']);
    assert.equal(def.states.failed!.type, 'final');
    // ready ⇄ generating by guard, both → unloading on a clean stop, → failed when the worker dies.
    assert.deepEqual(def.states.ready!.always?.map((t) => [t.guard, t.target]), [['holdsJobs', ['#inference:mvp-test-tiny.generating']]]);
    assert.deepEqual(def.states.generating!.always?.map((t) => [t.guard, t.target]), [['holdsNone', ['#inference:mvp-test-tiny.ready']]]);
    for (const s of ['ready', 'generating']) {
      assert.deepEqual(def.states[s]!.on['sys.stopping']?.[0]?.target, ['#inference:mvp-test-tiny.unloading'], s);
      assert.deepEqual(def.states[s]!.on['inference.worker_died']?.[0]?.target, ['#inference:mvp-test-tiny.failed'], s);
    }
    assert.deepEqual(def.states.loading!.invoke.map((i) => i.src), ['start']);

    const scheduler = (await get(`${url}/actors/scheduler/machine`)).body as MachineInfo;
    assert.equal(scheduler.state, 'accepting');
    assert.deepEqual(Object.keys((scheduler.definition as { states: object }).states).sort(), ['accepting', 'draining', 'failed', 'full', 'starting']);
  });

  it('answers 404 unknown_actor for the machine of an actor that is not there', async () => {
    const { status, body } = await get(`${url}/actors/nobody/machine`);
    assert.equal(status, 404);
    assert.equal((body as { code: string }).code, 'unknown_actor');
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
    assert.deepEqual(await get(`${url}/nope?x=1`), { status: 404, type: 'application/json; charset=utf-8', body: { code: 'not_found', message: 'no route GET /nope', retryable: false } });
    const res = await fetch(`${url}/health`, { method: 'POST' });
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { code: string }).code, 'not_found');
  });
});

describe('api actor: peers, jobs, manifest and metrics of a working node', () => {
  let node: MvpNode;
  let peer: MvpNode;
  let url: string;
  let ran: Awaited<ReturnType<typeof submitJob>>;
  const prompt = 'Tell me about swarms';
  before(async () => {
    // The test machine is busy by design; let the load manager claim anyway.
    node = await createNode(testConfig({ node: loopback, executor: { max_load_per_core: 1000 } }), { persistIdentity: false });
    await node.start();
    url = await apiUrl(node);
    const boot = (await node.network()).listen[0]!;
    peer = await createNode(testConfig({ node: { ...loopback, node_id: 'the-peer' }, network: { bootstrap_peers: [boot] }, api: { enabled: false } }), { persistIdentity: false, serveModels: false });
    await peer.start();
    await until(async () => (await node.network()).known === 1, 30_000, 'the node to know its peer');
    ran = await submitJob({ bootstrap: [boot], prompt, model: 'mvp-test-tiny', maxTokens: 12, temperature: 0, priority: 'normal', timeoutMs: 60_000 });
  });
  after(async () => { await peer?.stop(); await node?.stop(); });

  it('GET /peers lists the peers it knows, connected or not, with their models', async () => {
    const { status, body } = await get<PeerSummary[]>(`${url}/peers`);
    assert.equal(status, 200);
    const p = body.find((x) => x.peer_id === peer.peerId)!;
    assert.deepEqual([p.node_id, p.connected, p.models], ['the-peer', true, []]);
    assert.ok(p.addrs.length > 0 && p.last_seen > 0, 'addresses and last seen');
    assert.equal(p.state, 'alive', 'heard within half the heartbeat timeout');
    assert.ok(p.silent_ms >= 0 && p.silent_ms <= Date.now() - p.last_seen, `silent for ${p.silent_ms} ms, as last_seen says`);
    // The light client that submitted the job was heard too; it has no manifest.
    assert.ok(body.every((x) => x === p || x.node_id === undefined), JSON.stringify(body));
  });

  it('GET /manifest is the node\'s own manifest: identity, addresses, models, capacity', async () => {
    const { status, body: m } = await get<Manifest>(`${url}/manifest`);
    assert.equal(status, 200);
    assert.deepEqual([m.node_id, m.peer_id], [node.nodeId, node.peerId]);
    assert.deepEqual(m.addrs, (await node.network()).listen);
    assert.deepEqual(m.models.map((x) => [x.name, x.test_model]), [['mvp-test-tiny', true]]);
    assert.match(m.models[0]!.sha256, /^[0-9a-f]{64}$/);
    assert.deepEqual(m.capacity, { max_queue: 100, slots: 4 });
  });

  it('GET /orchestration and /health show the distributed orchestration: mode, coordinator, epoch, groups', async () => {
    await until(async () => (await get<OrchestrationBody>(`${url}/orchestration`)).body.epoch > 0, 30_000, 'a coordinator to be elected');
    const { status, body } = await get<OrchestrationBody>(`${url}/orchestration`);
    assert.equal(status, 200);
    assert.equal(body.mode, 'emergent');
    assert.ok([node.nodeId, 'the-peer'].includes(body.coordinator!.node_id), `coordinator ${JSON.stringify(body.coordinator)}`);
    assert.ok(Array.isArray(body.groups) && Array.isArray(body.recent), 'groups and recent decisions');
    const health = (await get<HealthBody>(`${url}/health`)).body;
    assert.deepEqual([health.orchestration?.mode, health.orchestration?.coordinator, health.orchestration?.epoch], ['emergent', body.coordinator!.node_id, body.epoch]);
  });

  it('GET /jobs lists the jobs it ran, newest first, filtered by status and limited', async () => {
    const { status, body } = await get<JobRecord[]>(`${url}/jobs`);
    assert.equal(status, 200);
    assert.equal(body.length, 1);
    const j = body[0]!;
    const r = ran.receipt.body;
    assert.deepEqual([j.id, j.client, j.model, j.status, j.max_tokens, j.tokens_in, j.tokens_out], [r.job_id, r.client, 'mvp-test-tiny', 'completed', 12, r.tokens_in, r.tokens_out]);
    assert.ok(j.finished_at! >= j.started_at! && j.started_at! >= j.queued_at, 'queued, then started, then finished');
    assert.deepEqual((await get<JobRecord[]>(`${url}/jobs?status=completed&limit=1`)).body.map((x) => x.id), [r.job_id]);
    assert.deepEqual((await get<JobRecord[]>(`${url}/jobs?status=failed`)).body, []);
  });

  it('GET /jobs/:id gives the job\'s record and the signed receipt it accepted, which verifies', async () => {
    const id = ran.receipt.body.job_id;
    const { status, body } = await get<JobBody>(`${url}/jobs/${id}`);
    assert.equal(status, 200);
    assert.equal(body.job!.id, id);
    assert.equal(body.job!.status, 'completed');
    assert.deepEqual(body.receipt, ran.receipt);
    const v = await verifyReceipt(body.receipt, { text: ran.text, prompt });
    assert.ok(v.ok, JSON.stringify(v));
    assert.deepEqual(await get(`${url}/jobs/${'0'.repeat(64)}`), {
      status: 404, type: 'application/json; charset=utf-8', body: { code: 'unknown_job', message: `this node has no record and no receipt of job ${'0'.repeat(64)}`, retryable: false },
    });
  });

  it('GET /receipts reads the ledger: the receipt this node sealed, marked executor, with the store\'s counts in GET /store', async () => {
    const { status, body } = await get<StoredReceipt[]>(`${url}/receipts`);
    assert.equal(status, 200);
    assert.equal(body.length, 1);
    assert.deepEqual(body[0]!.receipt, ran.receipt);
    assert.deepEqual(body[0]!.roles, ['executor']);
    assert.deepEqual((await get<StoredReceipt[]>(`${url}/receipts?before=${body[0]!.seq}`)).body, []);
    assert.deepEqual((await get<StoredReceipt[]>(`${url}/receipts?after=0&limit=1`)).body.map((r) => r.seq), [body[0]!.seq]);
    const bad = await get<{ code: string }>(`${url}/receipts?before=x`);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.code, 'invalid_request');
    const store = (await get<StoreStatus>(`${url}/store`)).body;
    assert.equal(store.receipts, 1);
    assert.equal(store.writable, true);
    assert.ok(store.jobs >= 1);
  });

  it('GET /metrics is Prometheus text a parser accepts: jobs, queue, inference timings, tokens, gossip, peers, actors', async () => {
    const res = await fetch(`${url}/metrics`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    const m = await parseMetrics(await res.text());
    const model = { model: 'mvp-test-tiny' };
    const r = ran.receipt.body;
    assert.equal(m.mvp_jobs_total?.type, 'counter');
    assert.equal(sample(m, 'mvp_jobs_total', { ...model, status: 'completed' }), 1);
    assert.equal(sample(m, 'mvp_jobs_total', { ...model, status: 'failed' }), 0);
    assert.equal(sample(m, 'mvp_jobs_refused_total', { reason: 'queue_full' }), 0);
    assert.equal(sample(m, 'mvp_tokens_generated_total', model), r.tokens_out);
    assert.equal(sample(m, 'mvp_prompt_tokens_total', model), r.tokens_in);
    assert.deepEqual([sample(m, 'mvp_queue_depth'), sample(m, 'mvp_queue_capacity'), sample(m, 'mvp_slots_busy'), sample(m, 'mvp_slots')], [0, 100, 0, 4]);
    for (const name of ['mvp_inference_time_to_first_token_seconds', 'mvp_inference_duration_seconds']) {
      assert.equal(m[name]?.type, 'histogram', name);
      const h = histogram(m, name, model)!;
      assert.equal(h.count, 1, name);
      assert.equal(h.buckets['+Inf'], 1, name);
      const bounds = Object.keys(h.buckets).filter((b) => b !== '+Inf').map(Number).sort((a, b) => a - b);
      assert.ok(bounds.length >= 10, `${name}: ${bounds.length} buckets`);
      const counts = bounds.map((b) => h.buckets[String(b)]!);
      assert.deepEqual(counts, [...counts].sort((a, b) => a - b), `${name}: cumulative counts never fall`);
    }
    const duration = histogram(m, 'mvp_inference_duration_seconds', model)!;
    const record = (await get<JobRecord[]>(`${url}/jobs`)).body[0]!;
    assert.ok(Math.abs(duration.sum! - record.generation_ms! / 1000) < 1e-6, `duration sum ${duration.sum} for ${record.generation_ms} ms`);
    const net = await node.network();
    assert.equal(sample(m, 'mvp_peers_connected'), net.peers);
    assert.equal(sample(m, 'mvp_peers_known'), net.known);
    assert.ok(net.peers >= 1 && net.known >= 2, 'the peer node, and the light client that submitted the job');
    const received = sample(m, 'mvp_gossip_messages_received_total')!;
    assert.ok(received > 0 && sample(m, 'mvp_gossip_messages_published_total')! > 0, 'gossip both ways');
    const dropped = (m.mvp_gossip_messages_dropped_total!.data as Array<{ value: number }>).reduce((n, d) => n + d.value, 0);
    assert.equal(received, sample(m, 'mvp_gossip_messages_accepted_total')! + sample(m, 'mvp_gossip_messages_duplicate_total')! + dropped);
    assert.equal(sample(m, 'mvp_gossip_messages_dropped_total', { reason: 'bad_signature' }), 0);
    assert.equal(sample(m, 'mvp_gossip_messages_dropped_total', { reason: 'rate_limited' }), 0, 'honest traffic is within every rate');
    assert.equal(sample(m, 'mvp_peers_claims_refused'), 0);
    assert.equal(sample(m, 'mvp_peer_offences_total', { offence: 'undelivered' }), 0);
    assert.equal(sample(m, 'mvp_actor_restarts_total', { actor: 'scheduler' }), 0);
    assert.equal(sample(m, 'mvp_actor_up', { actor: 'network' }), 1);
    assert.equal(sample(m, 'mvp_model_loaded', model), 1);
    assert.equal(sample(m, 'mvp_node_info', { node_id: node.nodeId, peer_id: node.peerId }), 1);
    for (const source of ['scheduler', 'network', 'supervisor', 'store']) assert.equal(sample(m, 'mvp_metrics_source_up', { source }), 1);
    assert.equal(sample(m, 'mvp_store_receipts'), 1);
    assert.equal(sample(m, 'mvp_store_writable'), 1);
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
    assert.equal((body as HealthBody).actors.api, 'serving');
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
    // A log destination given to createNode captures the lines of inline actors; threaded ones
    // write to stdout, so the api actor runs inline here.
    const config = testConfig({ node: { ...loopback, node_id: 'with-api-file' }, monitoring: { log_level: 'info' }, runtime: { placement: { api: 'inline' } } });
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
  const network = { peer_id: 'p', node_id: 'n', listen: [], peers: 2, known: 3, heartbeat_ms: 5000, received: 0, accepted: 0, duplicates: 0, published: 0, deliveries: {}, offer_topics: [], heartbeat_topics: { hears: [], speaks: [] }, protocol_version: '2.0', dropped: {}, sync_dropped: {}, draining: false, swarm: { private: false, suspected_key_mismatches: 0 },
    model_transfer: { files: 0, files_ready: 0, chunks_served: 0, bytes_served: 0, refused: 0 },
    dht: { records_refused: {}, receipts_put: 0, receipts_put_failed: 0, receipt_lookups: 0, receipt_lookups_found: 0, provider_lookups: 0, providers_found: 0 },
    reputation: { claims_refused_below: -12, claims_refused: 0, suspects: [], offences: { garbage: 0, forged: 0, replay: 0, flood: 0, bad_receipt: 0, undelivered: 0, bad_chunk: 0, false_announce: 0, false_provide: 0 } } };
  const queue = { depth: 1, capacity: 10, busy_slots: 0, slots: 0 };

  it('is ok when the network and scheduler answer and every actor runs', () => {
    const h = healthOf(node, { network, queue, actors: [actor('network', 'running'), actor('scheduler', 'running'), actor('inference:m', 'running', 'ready')] }, 61_000, 100);
    assert.deepEqual(h, {
      status: 'ok', node_id: 'n', peer_id: 'p', peers: 2, known_peers: 3, uptime_s: 61,
      actors: { network: 'running', scheduler: 'running', 'inference:m': 'ready' }, models: { m: 'loaded' }, queue: { depth: 1, capacity: 10 },
    });
  });

  it('is degraded, naming the model down, while an inference actor restarts', () => {
    const h = healthOf(node, { network, queue, actors: [actor('inference:m', 'restarting'), actor('inference:k', 'starting')] }, 0, 100);
    assert.deepEqual([h.status, h.models], ['starting', { m: 'down', k: 'loading' }]);
  });

  it('is degraded when an actor is restarting or the network does not answer', () => {
    const restarting = healthOf(node, { network, queue, actors: [actor('network', 'restarting')] }, 0, 100);
    assert.equal(restarting.status, 'degraded');
    assert.deepEqual(restarting.actors, { network: 'restarting' });
    const silent = healthOf(node, { queue, actors: [actor('network', 'running')] }, 0, 100);
    assert.deepEqual([silent.status, silent.peers, silent.known_peers], ['degraded', 0, 0]);
  });

  it('is draining once the network says so, whatever the actors are doing', () => {
    const h = healthOf(node, { network: { ...network, draining: true }, queue, actors: [actor('network', 'running'), actor('scheduler', 'running')] }, 0, 100);
    assert.equal(h.status, 'draining');
  });

  it('is starting while an actor has not started yet, and falls back to the configured capacity', () => {
    const h = healthOf(node, { actors: [actor('network', 'starting')] }, 0, 100);
    assert.equal(h.status, 'starting');
    assert.deepEqual(h.queue, { depth: 0, capacity: 100 });
  });
});
