// Models loaded and unloaded while a real node runs (two in-process TCP nodes, real libp2p, the
// real node-llama-cpp on generated test models): POST /models starts an inference actor under the
// running supervisor, the manifest changes and the peer learns it, jobs run on the new model over
// the network; DELETE /models/:name lets a running job finish, then stops the actor, and the peer
// forgets the model. Files that fail the start-up checks are refused with the reason.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createNode, type MvpNode } from '../../src/node/create-node.ts';
import type { ApiErrorBody } from '../../src/actors/api/messages.ts';
import type { ModelsBody, ServedModelInfo } from '../../src/actors/api/models.ts';
import type { Manifest } from '../../src/protocol/index.ts';
import type { ActorInfo } from '../../src/runtime/supervisor.ts';
import type { JobResult } from '../../src/actors/scheduler/messages.ts';
import { submitJob } from '../../src/client/submit.ts';
import { writeTestModel, sha256File } from '../../src/models/index.ts';
import { apiUrl, call, get, post } from '../helpers/api.ts';
import { testConfig, tmpDir } from '../helpers/config.ts';
import { until } from '../helpers/runtime.ts';

const loopback = { listen_host: '127.0.0.1', listen_port: 0 };
const del = <T>(url: string) => call<T>(url, { method: 'DELETE' });

describe('api: models loaded and unloaded at runtime', () => {
  let node: MvpNode;
  let peer: MvpNode;
  let url: string;
  let peerUrl: string;
  let second = '';
  let boot = '';
  const dir = tmpDir();
  before(async () => {
    second = (await writeTestModel({ preset: 'tiny', out: join(dir, 'second.gguf'), seed: 2 })).path;
    // The test machine is busy by design; let the load manager claim anyway.
    node = await createNode(testConfig({ node: loopback, executor: { max_load_per_core: 1000 } }), { persistIdentity: false });
    await node.start();
    url = await apiUrl(node);
    boot = (await node.network()).listen[0]!;
    peer = await createNode(testConfig({ node: { ...loopback, node_id: 'the-peer' }, network: { bootstrap_peers: [boot] } }), { persistIdentity: false, serveModels: false });
    await peer.start();
    peerUrl = await apiUrl(peer);
    await until(async () => (await node.network()).known === 1, 30_000, 'the node to know its peer');
  });
  after(async () => { await peer?.stop(); await node?.stop(); });

  it('POST /models loads a model without a restart: a new inference actor, a new manifest, the peer learns it', async () => {
    const before = (await get<ActorInfo[]>(`${url}/actors`)).body;
    const { status, body } = await post<ServedModelInfo>(`${url}/models`, { path: second, name: 'second' });
    assert.equal(status, 201, JSON.stringify(body));
    assert.deepEqual([body.model, body.sha256, body.path], ['second', await sha256File(second), second]);
    const actors = (await get<ActorInfo[]>(`${url}/actors`)).body;
    const added = actors.find((a) => a.name === 'inference:second');
    assert.deepEqual([added?.status, added?.state], ['running', 'ready']);
    for (const a of before) assert.equal(actors.find((x) => x.name === a.name)?.restarts, a.restarts, `${a.name} was not restarted`);
    const manifest = (await get<Manifest>(`${url}/manifest`)).body;
    assert.deepEqual(manifest.models.map((m) => m.name), ['mvp-test-tiny', 'second']);
    assert.deepEqual((await get<ModelsBody>(`${url}/models`)).body.loaded.map((m) => m.model), ['mvp-test-tiny', 'second']);
    await until(async () => (await get<ModelsBody>(`${peerUrl}/models`)).body.swarm.some((m) => m.name === 'second' && m.peers.includes(node.peerId)),
      30_000, 'the peer to learn the new model from the announce');
  });

  it('runs a job on the loaded model over the network, and the node\'s groups follow it', async () => {
    const r = await submitJob({ bootstrap: [boot], prompt: 'hello', model: 'second', maxTokens: 8, temperature: 0, priority: 'normal', timeoutMs: 60_000 });
    assert.equal(r.receipt.body.status, 'completed');
    assert.equal(r.receipt.body.model_sha256, await sha256File(second));
    await until(async () => (await get<{ groups: Array<{ group: string; member: boolean }> }>(`${url}/orchestration`)).body.groups.some((g) => g.group === 'model:second' && g.member),
      20_000, 'consensus to join the new model\'s group');
  });

  it('refuses what the start-up checks refuse, and a model already served, with the reason', async () => {
    const junk = join(dir, 'junk.gguf');
    writeFileSync(junk, 'not a model at all');
    const bad = await post<ApiErrorBody>(`${url}/models`, { path: junk });
    assert.deepEqual([bad.status, bad.body.code], [422, 'invalid_model']);
    assert.match(bad.body.message, /junk\.gguf/);
    const missing = await post<ApiErrorBody>(`${url}/models`, { path: join(dir, 'nope.gguf') });
    assert.deepEqual([missing.status, missing.body.code], [422, 'invalid_model']);
    const twice = await post<ApiErrorBody>(`${url}/models`, { path: second, name: 'second' });
    assert.deepEqual([twice.status, twice.body.code], [409, 'model_loaded']);
    const sameFile = await post<ApiErrorBody>(`${url}/models`, { path: second, name: 'other-name' });
    assert.deepEqual([sameFile.status, sameFile.body.code], [409, 'model_loaded']);
    assert.match(sameFile.body.message, /already served here as second/);
    const noPath = await post<ApiErrorBody>(`${url}/models`, { name: 'x' });
    assert.deepEqual([noPath.status, noPath.body.code], [400, 'invalid_request']);
    const badName = await post<ApiErrorBody>(`${url}/models`, { path: second, name: '../x' });
    assert.deepEqual([badName.status, badName.body.code], [400, 'invalid_request']);
    const unknown = await del<ApiErrorBody>(`${url}/models/no-such-model`);
    assert.deepEqual([unknown.status, unknown.body.code], [404, 'unknown_model']);
    assert.equal((await get<ActorInfo[]>(`${url}/actors`)).body.filter((a) => a.name.startsWith('inference:')).length, 2, 'nothing half-loaded');
  });

  it('DELETE /models/:name lets a running job finish, then stops the actor; the peer forgets the model', async () => {
    const job = node.supervisor.request<JobResult>('scheduler', {
      type: 'scheduler.submit',
      job: { id: 'runs-through-unload', client: 'test', priority: 'normal', model: 'second', prompt: 'a long answer', max_tokens: 300, temperature: 0 },
    }, 120_000);
    await until(async () => ((await get<ModelsBody>(`${url}/models`)).body.loaded.find((m) => m.model === 'second')?.busy ?? 0) > 0,
      20_000, 'the job to run');
    const { status, body } = await del<{ model: string; unloaded: boolean }>(`${url}/models/second`);
    assert.equal(status, 200, JSON.stringify(body));
    assert.deepEqual(body, { model: 'second', unloaded: true });
    const result = await job;
    assert.equal(result.status, 'completed', 'the running job finished before the actor stopped');
    assert.equal((await get<ActorInfo[]>(`${url}/actors`)).body.some((a) => a.name === 'inference:second'), false);
    assert.deepEqual((await get<Manifest>(`${url}/manifest`)).body.models.map((m) => m.name), ['mvp-test-tiny']);
    await assert.rejects(node.supervisor.request('scheduler', {
      type: 'scheduler.submit', job: { id: 'after-unload', client: 'test', priority: 'normal', model: 'second', prompt: 'x', max_tokens: 4, temperature: 0 },
    }, 5000), { name: 'UnknownModelError' });
    await until(async () => !(await get<ModelsBody>(`${peerUrl}/models`)).body.swarm.some((m) => m.name === 'second'), 30_000, 'the peer to forget the model');
  });

  it('keeps a loaded model across a restart of the scheduler and the network', async () => {
    assert.equal((await post(`${url}/models`, { path: second, name: 'second' })).status, 201);
    for (const name of ['scheduler', 'network']) assert.equal((await post(`${url}/actors/${name}/restart`)).status, 200);
    assert.deepEqual((await get<Manifest>(`${url}/manifest`)).body.models.map((m) => m.name), ['mvp-test-tiny', 'second']);
    const r = await node.supervisor.request<JobResult>('scheduler', {
      type: 'scheduler.submit', job: { id: 'after-restart', client: 'test', priority: 'normal', model: 'second', prompt: 'x', max_tokens: 4, temperature: 0 },
    }, 60_000);
    assert.equal(r.status, 'completed');
  });
});
