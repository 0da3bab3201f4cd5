// Chaos scenario: a hostile peer. Two honest `mvp-node` processes, and a peer of our
// own making (a real libp2p node speaking the protocol) that announces the honest nodes' model,
// claims every job it hears of at once and never runs one, then sends garbage, forged
// signatures and replays by gossip, forged and altered receipt records into the DHT, and a
// flood. The honest nodes keep serving every job
// (lost = 0, no crash), stop passing on its claims after three undelivered jobs (a peer that
// listens behind honest-a hears them before, and none after), a long-lived client stops picking
// it after the first, the flood is rate-limited, and all of it shows in /metrics.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { multiaddr } from '@multiformats/multiaddr';
import { buildLibp2p, type NetworkNode } from '../../src/actors/network/libp2p.ts';
import { receiptKey } from '../../src/actors/network/dht.ts';
import { TOPICS, heartbeatTopic, offerTopic } from '../../src/protocol/topics.ts';
import { SYNC_PROTOCOL, parseRequest, readJson, writeJson } from '../../src/actors/network/sync.ts';
import { CLAIMS_REFUSED_BELOW, SIGNER_RATE } from '../../src/market/reputation.ts';
import { JOB_PROTOCOL } from '../../src/jobs/stream.ts';
import { LightClient, submitJob, type SubmitResult } from '../../src/client/submit.ts';
import {
  SUPPORTED_VERSIONS, createEnvelopeInspector, encodeEnvelope, sealEnvelope, sealReceipt,
  type Envelope, type Manifest, type ModelManifest, type ReceiptEnvelope,
} from '../../src/protocol/index.ts';
import { listenPort, spawnNode, type NodeProcess } from '../helpers/proc.ts';
import { tmpDir } from '../helpers/config.ts';
import { parseMetrics, sample } from '../helpers/api.ts';
import { record, secs } from './report.ts';

const FLOOD = 3000;
const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

/**
 * The hostile peer: known by manifest sync like any node, it claims every offer for `model` the
 * moment it hears it (free slot, starts now: the best claim a client can get) and drops the job
 * stream unread. It keeps the honest heartbeats it hears, to replay and forge, and runs the
 * swarm's DHT with a validator that takes anything, to put forged receipt records.
 */
async function startHostile(model: ModelManifest, bootstrap: string[]) {
  const key = await generateKeyPair('Ed25519');
  const node: NetworkNode = await buildLibp2p({
    privateKey: key, transport: 'tcp', listen: ['/ip4/127.0.0.1/tcp/0'], maxPeers: 16, mdns: false,
    dht: { k: 20, validate: async () => undefined },
  });
  const me = node.peerId.toString();
  const manifest: Manifest = {
    node_id: 'hostile', peer_id: me, versions: [...SUPPORTED_VERSIONS], addrs: node.getMultiaddrs().map(String), models: [model],
    capacity: { max_queue: 100, slots: 4 }, load: { queue_depth: 0, busy_slots: 0, cpu: 0, mem_free_mb: 4096 },
    policies: { auto_accept_peers: true, max_peers: 16 }, started_at: Date.now(),
  };
  const announce = async () => encodeEnvelope(await sealEnvelope(key, me, 'announce', manifest, { now: Date.now() }));
  const inspector = createEnvelopeInspector();
  const claimed = new Set<string>();
  /** Jobs assigned to it (a receipt it forges for one of those is a late receipt, not a forgery). */
  const given = new Set<string>();
  const heard: Array<Envelope<'heartbeat'>> = [];
  const stats = { claims: 0, streams: 0 };
  await node.handle(SYNC_PROTOCOL, async (stream) => {
    parseRequest(await readJson(stream, 64 * 1024));
    await writeJson(stream, { seq: 1, announces: [new TextDecoder().decode(await announce())] });
  });
  await node.handle(JOB_PROTOCOL, (stream) => { stats.streams++; stream.abort(new Error('not running it')); });
  const pubsub = node.services.pubsub;
  // The model's offer shard (scoped offers: two honest holders and this one make one shard).
  const work = offerTopic(model.sha256, 0);
  pubsub.addEventListener('message', (e) => {
    void inspector.open(e.detail.data, { now: Date.now() }).then(async (r) => {
      if (!r.ok) return;
      if (r.envelope.type === 'heartbeat' && r.envelope.from !== me) heard.push(r.envelope as Envelope<'heartbeat'>);
      if (r.envelope.type === 'job_assign' && (r.envelope as Envelope<'job_assign'>).body.executor === me) given.add((r.envelope as Envelope<'job_assign'>).body.job_id);
      if (r.envelope.type !== 'work_offer') return;
      const o = (r.envelope as Envelope<'work_offer'>).body;
      if (o.model !== model.name || claimed.has(o.job_id)) return;
      claimed.add(o.job_id);
      stats.claims++;
      const claim = await sealEnvelope(key, me, 'job_claim', { job_id: o.job_id, executor: me, model_sha256: model.sha256, queue_depth: 0, est_start_ms: 0, capacity: 4 }, { now: Date.now() });
      await pubsub.publish(work, encodeEnvelope(claim)).catch(() => undefined);
    });
  });
  // The swarm's council topic: honest heartbeats travel there (every member hears it).
  for (const t of [TOPICS.announce, TOPICS.orch, heartbeatTopic('swarm', 'council'), work]) pubsub.subscribe(t);
  for (const b of bootstrap) await node.dial(multiaddr(b));
  const timer = setInterval(() => void announce().then((a) => pubsub.publish(TOPICS.announce, a)).catch(() => undefined), 2000);
  const send = (topic: string, bytes: Uint8Array) => pubsub.publish(topic, bytes).then(() => 1, () => 0);
  /** Puts a record into the DHT under a job's receipt key (the honest peers validate it). */
  const put = async (jobId: string, bytes: Uint8Array) => {
    try { for await (const _e of node.services.dht!.put(receiptKey(jobId), bytes)) { /* drained */ } } catch { /* refused by every peer */ }
    return 1;
  };
  return {
    peerId: me, addr: `${node.getMultiaddrs()[0]!.toString()}`, stats,
    /** Sends `n` of each offence, forging from `honest` receipts; returns how many of each went out. */
    async offend(n: number, honest: ReceiptEnvelope[]) {
      const sent = { garbage: 0, forged_signature: 0, replayed: 0, altered_receipt: 0, forged_receipt: 0 };
      const others = honest.filter((r) => r.from !== me && !given.has(r.body.job_id));
      assert.ok(others.length > 0, 'honest receipts to forge from');
      const beats = heard.slice(-n);
      assert.ok(beats.length > 0, 'the hostile peer heard honest heartbeats to replay');
      for (let i = 0; i < n; i++) {
        const r = others[i % others.length]!;
        const hb = beats[i % beats.length]!;
        sent.garbage += await send(work, randomBytes(200));
        // An honest heartbeat with its body changed: its signer's signature no longer holds.
        sent.forged_signature += await send(TOPICS.announce, enc({ ...hb, body: { ...hb.body, seq: (hb.body as { seq: number }).seq + 1000 + i } }));
        // An honest heartbeat again, in other bytes (gossipsub would drop the same bytes as a duplicate).
        sent.replayed += await send(TOPICS.announce, new TextEncoder().encode(JSON.stringify(hb, null, 1 + i)));
        // An honest receipt record with its numbers changed.
        sent.altered_receipt += await put(r.body.job_id, enc({ ...r, body: { ...r.body, tokens_out: r.body.tokens_out + 1 + i } }));
        // A receipt of its own for a job it never ran, under that job's key.
        const now = Date.now();
        const own = await sealReceipt(key, { ...r.body, executor: me, started_at: now - 10, finished_at: now }, now);
        sent.forged_receipt += await put(r.body.job_id, encodeEnvelope(own));
      }
      return sent;
    },
    /** Signs `n` heartbeats, then gossips them all at once; returns how many went out. */
    async flood(n: number) {
      const beats = await Promise.all(Array.from({ length: n }, (_, i) => sealEnvelope(key, me, 'heartbeat', { seq: i + 1 }, { now: Date.now() })));
      const t = performance.now();
      const sent = (await Promise.all(beats.map((b) => send(TOPICS.announce, encodeEnvelope(b))))).reduce((a, b) => a + b, 0);
      return { sent, ms: performance.now() - t };
    },
    async stop() { clearInterval(timer); await node.stop(); },
  };
}

type Hostile = Awaited<ReturnType<typeof startHostile>>;

const apiUrl = (dir: string, id: string) => (JSON.parse(readFileSync(join(dir, id, 'api.json'), 'utf8')) as { url: string }).url;
const getJson = async <T>(url: string) => (await (await fetch(url)).json()) as T;

describe('chaos: hostile peer', () => {
  const nodes: NodeProcess[] = [];
  const urls: string[] = [];
  const boot: string[] = [];
  let hostile: Hostile;
  let observer: NetworkNode;
  /** Claims of the hostile peer that honest-a passed on to the observer. */
  let relayedClaims = 0;
  before(async () => {
    const dir = tmpDir();
    const cfg = join(dir, 'node.toml');
    writeFileSync(cfg, '[executor]\nmax_load_per_core = 1000\n');
    for (const id of ['honest-a', 'honest-b']) {
      const n = spawnNode(['-c', cfg, '--node-id', id, '--port', '0', '--data-dir', dir, ...boot.flatMap((b) => ['--bootstrap', b])]);
      nodes.push(n);
      boot.push(`/ip4/127.0.0.1/tcp/${await listenPort(n)}`);
      await n.waitFor((l) => l.msg.startsWith('Node started'), 60_000, `${id} to start`);
      urls.push(apiUrl(dir, id));
    }
    const model = (await getJson<Manifest>(`${urls[0]}/manifest`)).models[0]!;
    hostile = await startHostile(model, boot);
    // A peer connected to honest-a alone, listening to the model's offer topic: what honest-a passes on.
    observer = await buildLibp2p({ privateKey: await generateKeyPair('Ed25519'), transport: 'tcp', listen: ['/ip4/127.0.0.1/tcp/0'], maxPeers: 4, mdns: false });
    const inspector = createEnvelopeInspector();
    observer.services.pubsub.addEventListener('message', (e) => {
      void inspector.open(e.detail.data, { now: Date.now() }).then((r) => {
        if (r.ok && r.envelope.type === 'job_claim' && r.envelope.from === hostile.peerId) relayedClaims++;
      });
    });
    observer.services.pubsub.subscribe(offerTopic(model.sha256, 0));
    await observer.dial(multiaddr(boot[0]!));
    // Both in honest-a's mesh (it grafts at its heartbeat, every second).
    await new Promise((r) => setTimeout(r, 3000));
  });
  after(async () => {
    await observer?.stop();
    await hostile?.stop();
    await Promise.all(nodes.map((n) => n.stop('SIGKILL')));
  });

  it('keeps serving every job while the peer floods, forges and takes jobs it never runs; its claims stop being passed on', async () => {
    const t0 = performance.now();
    const results: SubmitResult[] = [];
    let submitted = 0;
    /** One job with a client of its own; the executor of its first attempt. */
    const freshJob = async (i: number, bootstrap = [boot[0]!]) => {
      submitted++;
      let first = '';
      const r = await submitJob({
        bootstrap, prompt: `job ${i}: what is a swarm?`, maxTokens: 8, temperature: 0, priority: 'normal', timeoutMs: 120_000,
        onAssign: (a) => { if (a.attempt === 1) first = a.executor; },
      });
      results.push(r);
      return first;
    };
    const scoreAt = async (url: string) => sample(await parseMetrics(await (await fetch(`${url}/metrics`)).text()), 'mvp_peer_reputation_score', { peer_id: hostile.peerId }) ?? 0;

    // 1. Jobs from clients that hear the hostile peer directly (one client per job: none remembers
    // it). Its claim comes first and promises a free slot, so it is given the jobs; each time it
    // drops one, the client moves it on, and every node that sees the new assignment holds it
    // against the hostile peer. Until then honest-a passes its claims on.
    const firsts: string[] = [];
    while (await scoreAt(urls[0]!) >= CLAIMS_REFUSED_BELOW) {
      assert.ok(firsts.length < 12, `honest-a still accepts its claims after ${firsts.length} jobs: ${firsts.join(', ')}`);
      firsts.push(await freshJob(firsts.length, [boot[0]!, hostile.addr]));
    }
    const takenByHostile = firsts.filter((f) => f === hostile.peerId).length;
    const claimsStoppedS = secs(t0, performance.now());
    const peersA = await getJson<Array<{ peer_id: string; score: number }>>(`${urls[0]}/peers`);
    const listed = peersA.find((p) => p.peer_id === hostile.peerId);
    assert.ok(listed && listed.score < CLAIMS_REFUSED_BELOW, `GET /peers shows its score: ${JSON.stringify(listed)}`);
    await new Promise((r) => setTimeout(r, 1000));
    const relayedBefore = relayedClaims;
    const claimsBefore = hostile.stats.claims;
    const lowRepBefore = (await dropsAt(urls[0]!)).low_reputation ?? 0;
    assert.ok(relayedBefore >= 1, "honest-a passed on the hostile peer's claims while its score was above the threshold");

    // 2. A long-lived client (the OpenAI gateway's kind) that hears the hostile peer directly:
    // it gives it one job, and after that passes it over. The hostile peer claims every one of
    // its jobs; honest-a drops those claims: the observer behind it hears none.
    const client = await LightClient.join({ bootstrap: [boot[0]!, hostile.addr], timeoutMs: 30_000 });
    const longFirsts: string[] = [];
    const letDownAt = () => longFirsts.indexOf(hostile.peerId);
    try {
      // Until the hostile peer's claim wins once (it usually comes first), then three more jobs.
      for (let i = 0; letDownAt() < 0 || i <= letDownAt() + 3; i++) {
        assert.ok(i < 8, `the hostile peer's claim never won a long-lived client's job: ${longFirsts.join(', ')}`);
        submitted++;
        const r = await client.submit({
          prompt: `long-lived ${i}`, maxTokens: 8, temperature: 0, priority: 'normal', timeoutMs: 120_000,
          onAssign: (a) => { if (a.attempt === 1) longFirsts.push(a.executor); },
        });
        results.push(r);
      }
    } finally {
      await client.close();
    }
    assert.deepEqual(longFirsts.slice(letDownAt() + 1).filter((e) => e === hostile.peerId), [], `a client that was let down does not pick the peer (${hostile.peerId}) again: ${longFirsts.join(', ')}`);
    await new Promise((r) => setTimeout(r, 1000));
    const claimsAfter = hostile.stats.claims - claimsBefore;
    const droppedClaims = ((await dropsAt(urls[0]!)).low_reputation ?? 0) - lowRepBefore;
    assert.ok(claimsAfter >= 4, `the hostile peer kept claiming (${claimsAfter})`);
    assert.equal(relayedClaims, relayedBefore, 'honest-a passed on none of its claims once its score fell below the threshold');
    assert.ok(droppedClaims >= claimsAfter, `honest-a dropped its claims as low_reputation (${droppedClaims} of ${claimsAfter})`);

    // 3. Garbage, forged signatures, replays, forged and altered receipt records, then a flood,
    // while jobs go on.
    const before = await Promise.all(urls.map(dropsAt));
    const jobs = (async () => { for (let i = 0; i < 3; i++) await freshJob(100 + i); })();
    const sent = await hostile.offend(2, results.map((r) => r.receipt));
    const floodFrom = performance.now();
    const flooded = await hostile.flood(FLOOD);
    const floodSentS = flooded.ms / 1000;
    await jobs;
    // Everything sent has been received once honest-a's drop counts stop moving.
    let after = await Promise.all(urls.map(dropsAt));
    for (let still = 0; still < 3;) {
      await new Promise((r) => setTimeout(r, 500));
      const next = await Promise.all(urls.map(dropsAt));
      still = JSON.stringify(next) === JSON.stringify(after) ? still + 1 : 0;
      after = next;
    }
    const delta = (reason: string) => after.reduce((n, a, i) => n + (a[reason] ?? 0) - (before[i]![reason] ?? 0), 0);
    assert.ok(delta('malformed') >= 1, 'garbage dropped as malformed');
    assert.ok(delta('bad_signature') >= 1, 'forged signatures dropped');
    assert.ok(delta('replay') >= 1, 'replayed heartbeats dropped');
    assert.ok(delta('dht_signature') >= 1, 'altered receipt records refused by the DHT validator');
    assert.ok(delta('dht_executor') + delta('dht_unassigned') >= 1, 'forged receipt records refused by the DHT validator');
    assert.ok(delta('rate_limited') >= 1, 'the flood was rate-limited');
    // What got through is bounded by the signer's rate (plus the honest traffic of these seconds).
    const floodS = (performance.now() - floodFrom) / 1000;
    const bound = urls.length * (SIGNER_RATE.burst + SIGNER_RATE.perSec * floodS) + 300;
    assert.ok(delta('accepted') <= bound, `${delta('accepted')} messages accepted while flooded, at most ${Math.round(bound)}`);

    // Nothing lost, nothing crashed, and the peer is in every honest node's metrics.
    assert.equal(results.length, submitted, 'every job completed');
    assert.ok(results.every((r) => r.receipt.body.status === 'completed' && r.executor !== hostile.peerId));
    for (const [i, u] of urls.entries()) {
      assert.equal(nodes[i]!.proc.exitCode, null, 'node still running');
      const actors = await getJson<Array<{ name: string; crashes: number }>>(`${u}/actors`);
      assert.deepEqual(actors.filter((a) => a.crashes > 0), [], 'no actor crashed');
      const m = await parseMetrics(await (await fetch(`${u}/metrics`)).text());
      assert.ok((sample(m, 'mvp_peers_claims_refused') ?? 0) >= 1);
      assert.ok((sample(m, 'mvp_peer_reputation_score', { peer_id: hostile.peerId }) ?? 0) < CLAIMS_REFUSED_BELOW);
    }
    const hostileScore = await scoreAt(urls[0]!);

    record('hostile peer', {
      jobs: submitted, completed: results.length, lost: submitted - results.length,
      taken_by_hostile: takenByHostile + 1, long_lived_jobs: longFirsts.length, long_lived_let_down_at: letDownAt() + 1,
      claims_refused_after_jobs: firsts.length, claims_refused_after_s: claimsStoppedS,
      claims_relayed_before: relayedBefore, claims_after: claimsAfter, claims_relayed_after: relayedClaims - relayedBefore,
      hostile_claims: hostile.stats.claims, garbage_sent: sent.garbage, forged_sig_sent: sent.forged_signature,
      replays_sent: sent.replayed, altered_receipts_sent: sent.altered_receipt, forged_receipts_sent: sent.forged_receipt, flood_sent: flooded.sent, flood_sent_in_s: Math.round(floodSentS * 10) / 10,
      malformed: delta('malformed'), bad_signature: delta('bad_signature'), replay: delta('replay'),
      receipt_records_refused: delta('dht_signature') + delta('dht_executor') + delta('dht_unassigned'),
      received: delta('received'), accepted: delta('accepted'), rate_limited: delta('rate_limited'), low_reputation: delta('low_reputation'),
      hostile_score_a: hostileScore, runtime_s: secs(t0, performance.now()),
    });
  });
});

/**
 * A node's gossip drops by reason, the messages it received and accepted, and its DHT's refused
 * receipt records by reason (as `dht_<reason>`), from its /metrics.
 */
async function dropsAt(url: string): Promise<Record<string, number>> {
  const m = await parseMetrics(await (await fetch(`${url}/metrics`)).text());
  const out: Record<string, number> = {
    received: sample(m, 'mvp_gossip_messages_received_total') ?? 0, accepted: sample(m, 'mvp_gossip_messages_accepted_total') ?? 0,
  };
  for (const d of (m.mvp_gossip_messages_dropped_total?.data ?? []) as Array<{ labels: Record<string, string>; value: number }>) out[d.labels.reason!] = d.value;
  for (const d of (m.mvp_dht_receipt_records_refused_total?.data ?? []) as Array<{ labels: Record<string, string>; value: number }>) out[`dht_${d.labels.reason!}`] = d.value;
  return out;
}
