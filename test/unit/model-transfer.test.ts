// Models fetched by content over /mvp/model/1.0.0 between real in-process TCP nodes (real
// libp2p, real GGUF files written by the project's writer, the real validator and loader):
// several honest sources in parallel, a peer serving corrupted bytes and one announcing a model
// it does not have (both detected, blamed and dropped while the honest ones finish the file), a
// pull cancelled and resumed from its verified chunks by a restarted node, and a file that is
// not a model refused after its hash matched (never loaded, nothing left as a model).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, openSync, readdirSync, rmSync, writeSync, closeSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createNode, type MvpNode } from '../../src/node/create-node.ts';
import type { ApiErrorBody } from '../../src/actors/api/messages.ts';
import type { ModelsBody, ServedModelInfo } from '../../src/actors/api/models.ts';
import type { NetworkStatus, PeerSummary } from '../../src/actors/network/messages.ts';
import type { PullProgress } from '../../src/actors/network/model-transfer.ts';
import type { ModelManifest } from '../../src/protocol/index.ts';
import { writeTestModel } from '../../src/models/index.ts';
import { hashModelFile } from '../../src/models/merkle.ts';
import { apiUrl, call, get, parseMetrics, post, sample } from '../helpers/api.ts';
import { testConfig, tmpDir } from '../helpers/config.ts';
import { until } from '../helpers/runtime.ts';
import { describeNeeding, mountTmpfs } from '../helpers/needs.ts';

const loopback = { listen_host: '127.0.0.1', listen_port: 0 };
/** About 4.6 MB: five 1 MiB chunks. */
const WIDE = { vocabSize: 49152 };

async function manifestOf(path: string, name: string, extra: Partial<ModelManifest> = {}): Promise<ModelManifest> {
  const h = await hashModelFile(path);
  return { name, sha256: h.sha256, params: 1, quantization: 'Q4_0', context_length: 2048, test_model: true, merkle_root: h.tree.root, size: h.size, ...extra };
}

/** Tell a real node's network actor to announce `models` and serve `files` (how a hostile peer is made of a real one). */
const announce = (n: MvpNode, models: ModelManifest[], files: Array<{ sha256: string; path: string }>) =>
  n.supervisor.request('network', { type: 'network.set_models', models, files }, 5000);

const score = async (url: string, peer: string) => (await get<PeerSummary[]>(`${url}/peers`)).body.find((p) => p.peer_id === peer)?.score ?? 0;

describe('model transfer by content between peers', () => {
  const dir = tmpDir();
  const nodes: MvpNode[] = [];
  let model = '';
  let sha = '';
  let boot = '';
  const pullDirs = new Map<MvpNode, string>();
  const start = async (over: NonNullable<Parameters<typeof testConfig>[0]>, serve: boolean) => {
    const cfg = testConfig({ network: { bootstrap_peers: boot ? [boot] : [] }, api: { enabled: false }, ...over, node: { ...loopback, ...over.node } });
    const n = await createNode(cfg, { persistIdentity: false, serveModels: serve });
    await n.start();
    nodes.push(n);
    pullDirs.set(n, join(cfg.node.data_dir, n.nodeId, 'pulled'));
    return n;
  };

  before(async () => {
    model = (await writeTestModel({ preset: 'tiny', out: join(dir, 'wide.gguf'), seed: 11, shape: WIDE })).path;
    sha = (await hashModelFile(model)).sha256;
    const first = await start({ model: { path: model, name: 'wide' } }, true);
    boot = (await first.network()).listen[0]!;
    await start({ model: { path: model, name: 'wide' } }, true);
  });
  after(async () => { for (const n of nodes.reverse()) await n.stop(); });

  it('pulls from the honest sources in parallel, drops and blames a corrupting peer and a false announcer, then loads the file', async () => {
    const liar = await start({}, false);
    // The liar hashes a good copy, then its bytes change on disk: it serves chunks that fail their proofs.
    const corrupt = join(dir, 'corrupt.gguf');
    copyFileSync(model, corrupt);
    await announce(liar, [await manifestOf(model, 'wide')], [{ sha256: sha, path: corrupt }]);
    await until(async () => (await liar.network()).model_transfer.files_ready === 1, 10_000, 'the liar to hash its copy');
    const fd = openSync(corrupt, 'r+');
    for (let i = 0; i < 5; i++) writeSync(fd, Buffer.from('tampered'), 0, 8, i * 1024 * 1024 + 100);
    closeSync(fd);
    const empty = await start({}, false);
    await announce(empty, [await manifestOf(model, 'wide')], []);

    const puller = await start({ api: { enabled: true } }, false);
    const url = await apiUrl(puller);
    await until(async () => (await get<ModelsBody>(`${url}/models`)).body.swarm.find((m) => m.sha256 === sha)?.peers.length === 4, 30_000, 'the four announcers to be known');

    const { status, body } = await post<ServedModelInfo>(`${url}/models`, { sha256: sha });
    assert.equal(status, 201, JSON.stringify(body));
    assert.deepEqual([body.model, body.sha256], ['wide', sha]);
    assert.equal(body.path, join(pullDirs.get(puller)!, `${sha}.gguf`), 'served from the pulled file');
    assert.deepEqual(readdirSync(pullDirs.get(puller)!), [`${sha}.gguf`], 'no temporary file or sidecar left');

    const pull = (await get<ModelsBody>(`${url}/models`)).body.pulls.find((p) => p.sha256 === sha)!;
    assert.equal(pull.state, 'done');
    assert.deepEqual([pull.chunks, pull.verified_chunks, pull.bytes_done], [5, 5, pull.size]);
    const by = new Map(pull.sources.map((s) => [s.peer, s]));
    for (const honest of nodes.slice(0, 2)) assert.ok((by.get(honest.peerId)?.chunks ?? 0) > 0, `each honest source sent chunks: ${JSON.stringify(pull.sources)}`);
    assert.match(by.get(liar.peerId)?.dropped ?? '', /failed its Merkle proof/);
    assert.match(by.get(empty.peerId)?.dropped ?? '', /^not_found/);
    assert.equal(by.get(liar.peerId)?.chunks, 0);

    const served = await Promise.all(nodes.slice(0, 2).map(async (n) => (await n.network()).model_transfer.chunks_served));
    assert.equal(served[0]! + served[1]!, 5, 'the honest sources served the five chunks between them');
    const m = await parseMetrics((await get<string>(`${url}/metrics`)).body);
    assert.equal(sample(m, 'mvp_model_pull_bytes_done', { sha256: sha, state: 'done' }), pull.size);
    assert.equal(sample(m, 'mvp_peer_offences_total', { offence: 'bad_chunk' }), 1);
    const net = await puller.network();
    assert.ok(net.reputation.offences.bad_chunk >= 1, 'bad_chunk counted');
    assert.ok(net.reputation.offences.false_announce >= 1, 'false_announce counted');
    assert.ok(await score(url, liar.peerId) < 0, 'the corrupting peer is blamed');
    assert.ok(await score(url, empty.peerId) < 0, 'the false announcer is blamed');
    for (const honest of nodes.slice(0, 2)) assert.equal(await score(url, honest.peerId), 0, 'honest sources are not blamed');
    await until(async () => (await get<{ models: ModelManifest[] }>(`${url}/manifest`)).body.models.some((m) => m.sha256 === sha && m.merkle_root !== undefined),
      5000, 'the puller to announce the model in turn');
  });

  it('resumes a cancelled pull from its verified chunks after the node restarts', async () => {
    // A slow source: one chunk a second, so the pull can be cut in the middle.
    const slow = await start({ models: { share_max_mib_per_sec: 1 } }, false);
    await announce(slow, [await manifestOf(model, 'wide')], [{ sha256: sha, path: model }]);
    const cfg = testConfig({ node: { ...loopback, node_id: 'resumer' }, network: { bootstrap_peers: [(await slow.network()).listen[0]!] } });
    const only = async (n: MvpNode) => {
      // Only the slow peer is a source: the others are blocked here.
      for (const other of nodes) if (other !== slow) await n.supervisor.request('network', { type: 'network.block', peer_id: other.peerId }, 5000).catch(() => undefined);
    };
    let node = await createNode(cfg, { persistIdentity: false, serveModels: false });
    await node.start();
    await only(node);
    let url = await apiUrl(node);
    await until(async () => (await get<ModelsBody>(`${url}/models`)).body.swarm.some((m) => m.sha256 === sha && m.peers.includes(slow.peerId)), 30_000, 'the slow source to be known');
    const started = await post<PullProgress>(`${url}/models/pulls`, { sha256: sha });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    await until(async () => ((await get<ModelsBody>(`${url}/models`)).body.pulls.find((p) => p.sha256 === sha)?.verified_chunks ?? 0) >= 2, 30_000, 'two chunks');
    const cancelled = await call<{ cancelled: boolean }>(`${url}/models/pulls/${sha}`, { method: 'DELETE' });
    assert.deepEqual(cancelled.body, { sha256: sha, cancelled: true });
    await until(async () => (await get<ModelsBody>(`${url}/models`)).body.pulls.find((p) => p.sha256 === sha)?.state === 'cancelled', 10_000, 'the pull to stop');
    const kept = (await get<ModelsBody>(`${url}/models`)).body.pulls.find((p) => p.sha256 === sha)!;
    assert.ok(kept.verified_chunks >= 2 && kept.verified_chunks < 5, `cut in the middle (${kept.verified_chunks} chunks)`);
    await node.stop();

    node = await createNode(cfg, { persistIdentity: false, serveModels: false });
    await node.start();
    await only(node);
    url = await apiUrl(node);
    await until(async () => (await get<ModelsBody>(`${url}/models`)).body.swarm.some((m) => m.sha256 === sha), 30_000, 'the slow source to be known again');
    const { status, body } = await post<ServedModelInfo>(`${url}/models`, { sha256: sha, name: 'resumed' });
    assert.equal(status, 201, JSON.stringify(body));
    const pull = (await get<ModelsBody>(`${url}/models`)).body.pulls.find((p) => p.sha256 === sha)!;
    assert.ok(pull.resumed_chunks >= kept.verified_chunks, `resumed from ${pull.resumed_chunks} verified chunks`);
    assert.equal(pull.state, 'done');
    await node.stop();
  });

  it('blames every announcer of a root whose file has another sha256, and skips a peer that does not share', async () => {
    // Consistent chunks of another model, announced under the sha256 of `model`: every chunk
    // proves against the announced root, the whole file does not match.
    const other = (await writeTestModel({ preset: 'tiny', out: join(dir, 'other.gguf'), seed: 13, shape: WIDE })).path;
    const lie = await manifestOf(other, 'wide', { sha256: sha });
    const liars = [await start({}, false), await start({}, false)];
    for (const l of liars) await announce(l, [lie], [{ sha256: sha, path: other }]);
    const closed = await start({ models: { share: false } }, false);
    await announce(closed, [lie], [{ sha256: sha, path: other }]);
    const puller = await start({ node: { node_id: 'mismatch-puller' }, api: { enabled: true } }, false);
    const url = await apiUrl(puller);
    await until(async () => (await get<ModelsBody>(`${url}/models`)).body.swarm.find((m) => m.sha256 === sha)?.peers.filter((p) => [...liars, closed].some((n) => n.peerId === p)).length === 3,
      30_000, 'the three announcers to be known');
    // Only the liars and the closed node are sources: the honest ones are blocked here.
    for (const n of nodes) if (![...liars, closed, puller].includes(n)) await puller.supervisor.request('network', { type: 'network.block', peer_id: n.peerId }, 5000);
    const r = await post<ApiErrorBody>(`${url}/models`, { sha256: sha });
    assert.deepEqual([r.status, r.body.code], [502, 'pull_failed'], JSON.stringify(r.body));
    assert.match(r.body.message, new RegExp(`^hash_mismatch: the file built from root ${lie.merkle_root} has sha256 [0-9a-f]{64}, not ${sha}`));
    for (const l of liars) assert.ok(await score(url, l.peerId) < 0, 'each announcer of the root is blamed');
    const pull = (await get<ModelsBody>(`${url}/models`)).body.pulls.find((p) => p.sha256 === sha)!;
    assert.equal(pull.state, 'failed');
    assert.match(pull.sources.find((s) => s.peer === closed.peerId)?.dropped ?? '', /^not_shared/);
    // (A partial file of the real root, whose one remaining announcer is a stopped node, may stay for a resume.)
    assert.ok(!readdirSync(pullDirs.get(puller)!).some((f) => f.endsWith('.gguf')), 'the mismatched file is not left as a model');
  });

  it('refuses a pulled file that is not a valid GGUF: never loaded, nothing left as a model, its announcer blamed', async () => {
    const junk = join(dir, 'junk.bin');
    writeFileSync(junk, Buffer.alloc(3 * 1024 * 1024 + 5, 7));
    const m = await manifestOf(junk, 'junk');
    const bad = await start({}, false);
    await announce(bad, [m], [{ sha256: m.sha256, path: junk }]);
    const puller = await start({ node: { node_id: 'junk-puller' }, api: { enabled: true } }, false);
    const url = await apiUrl(puller);
    await until(async () => (await get<ModelsBody>(`${url}/models`)).body.swarm.some((x) => x.sha256 === m.sha256), 30_000, 'the junk to be announced');
    const r = await post<ApiErrorBody>(`${url}/models`, { sha256: m.sha256 });
    assert.deepEqual([r.status, r.body.code], [502, 'pull_failed']);
    assert.match(r.body.message, /^invalid_model: /);
    assert.deepEqual(existsSync(pullDirs.get(puller)!) ? readdirSync(pullDirs.get(puller)!) : [], [], 'nothing left, as a model or half-written');
    const status = (await puller.network()) as NetworkStatus;
    assert.equal(status.reputation.offences.false_announce, 1);
    assert.ok(await score(url, bad.peerId) < 0);
    const models = (await get<ModelsBody>(`${url}/models`)).body;
    assert.deepEqual(models.loaded, []);
    const none = await post<ApiErrorBody>(`${url}/models`, { sha256: 'ab'.repeat(32) });
    assert.deepEqual([none.status, none.body.code], [502, 'pull_failed']);
    assert.match(none.body.message, /^no_source: no peer announces/);
  });
});

describe('model pulls on a full disk', () => {
  const dir = tmpDir();
  const disk = join(dir, 'disk');
  mkdirSync(disk);
  // Probed at load time so the suite is skipped (outside CI) or fails (in CI) with the reason.
  const mounted = mountTmpfs(disk, 8 * 1024 * 1024);
  after(() => { if (typeof mounted !== 'string') mounted.unmount(); });
  describeNeeding('a tmpfs to fill', typeof mounted === 'string' ? mounted : undefined, () => {
    const nodes: MvpNode[] = [];
    let sha = '';
    let url = '';
    let pullDir = '';
    before(async () => {
      const model = (await writeTestModel({ preset: 'tiny', out: join(dir, 'wide.gguf'), seed: 12, shape: WIDE })).path;
      sha = (await hashModelFile(model)).sha256;
      const source = await createNode(testConfig({ node: loopback, api: { enabled: false }, model: { path: model, name: 'wide' }, models: { share_max_mib_per_sec: 1 } }), { persistIdentity: false });
      await source.start();
      nodes.push(source);
      const cfg = testConfig({ node: { ...loopback, data_dir: disk, node_id: 'full' }, network: { bootstrap_peers: [(await source.network()).listen[0]!] } });
      const puller = await createNode(cfg, { persistIdentity: false, serveModels: false });
      await puller.start();
      nodes.push(puller);
      url = await apiUrl(puller);
      pullDir = join(disk, 'full', 'pulled');
      await until(async () => (await get<ModelsBody>(`${url}/models`)).body.swarm.some((m) => m.sha256 === sha), 30_000, 'the model to be announced');
    });
    after(async () => { for (const n of nodes.reverse()) await n.stop(); });

    it('refuses to start a pull the disk cannot hold, naming the space needed', async () => {
      const filler = join(disk, 'filler');
      writeFileSync(filler, Buffer.alloc(5 * 1024 * 1024));
      const r = await post<ApiErrorBody>(`${url}/models`, { sha256: sha });
      assert.deepEqual([r.status, r.body.code, r.body.retryable], [507, 'pull_disk_full', false]);
      assert.match(r.body.message, /^disk_full: not enough disk space in .* for model [0-9a-f]{64}: 5 MiB needed, \d MiB free$/);
      assert.ok(!existsSync(join(pullDir, `${sha}.gguf`)));
      rmSync(filler);
    });

    it('stops cleanly when the disk fills during the pull: nothing half-written is left as a model', async () => {
      const started = await post<PullProgress>(`${url}/models/pulls`, { sha256: sha });
      assert.equal(started.status, 202, JSON.stringify(started.body));
      await until(async () => ((await get<ModelsBody>(`${url}/models`)).body.pulls.find((p) => p.sha256 === sha && p.state === 'running')?.verified_chunks ?? 0) >= 1,
        30_000, 'a first chunk');
      // Something else takes the space the pull was counting on.
      writeFileSync(join(disk, 'filler'), Buffer.alloc(6 * 1024 * 1024));
      await until(async () => (await get<ModelsBody>(`${url}/models`)).body.pulls.find((p) => p.sha256 === sha)?.state === 'failed', 30_000, 'the pull to fail');
      const p = (await get<ModelsBody>(`${url}/models`)).body.pulls.find((x) => x.sha256 === sha)!;
      assert.equal(p.error?.code, 'disk_full', JSON.stringify(p.error));
      assert.match(p.error!.message, /ENOSPC/);
      assert.ok(!readdirSync(pullDir).some((f) => f.endsWith('.gguf')), 'no model file');
      assert.deepEqual((await get<ModelsBody>(`${url}/models`)).body.loaded, []);
    });
  });
});

