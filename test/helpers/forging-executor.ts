// A hostile executor for tests: a real libp2p peer that announces a model of its own, claims
// every offer for it, and answers the job with a receipt signed by its key but for another
// text than the one it sends. What a client must refuse.
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { buildLibp2p, type NetworkNode } from '../../src/actors/network/libp2p.ts';
import { TOPICS, offerTopic } from '../../src/protocol/topics.ts';
import { SYNC_PROTOCOL, parseRequest, readJson, writeJson } from '../../src/actors/network/sync.ts';
import { JOB_PROTOCOL, parseJobRequest, readLines, writeLine } from '../../src/jobs/stream.ts';
import {
  SUPPORTED_VERSIONS, createEnvelopeInspector, encodeEnvelope, sealEnvelope, sealReceipt, sha256Hex,
  type Envelope, type Manifest,
} from '../../src/protocol/index.ts';

export interface ForgingExecutor { peerId: string; model: string; stop(): Promise<void> }

export async function startForgingExecutor(bootstrap: string, model = 'forged-model'): Promise<ForgingExecutor> {
  const key = await generateKeyPair('Ed25519');
  const me = peerIdFromPrivateKey(key).toString();
  const node: NetworkNode = await buildLibp2p({ privateKey: key, transport: 'tcp', listen: ['/ip4/127.0.0.1/tcp/0'], maxPeers: 16, mdns: false });
  const manifest: Manifest = {
    node_id: 'forger', peer_id: me, versions: [...SUPPORTED_VERSIONS], addrs: node.getMultiaddrs().map(String),
    models: [{ name: model, sha256: 'ab'.repeat(32), params: 1000, quantization: 'q4_0', context_length: 2048, test_model: false, offer_shard: '0/1' }],
    capacity: { max_queue: 10, slots: 1 }, load: { queue_depth: 0, busy_slots: 0, cpu: 0, mem_free_mb: 1024 },
    policies: { auto_accept_peers: true, max_peers: 16 }, started_at: Date.now(),
  };
  const announce = async () => sealEnvelope(key, me, 'announce', manifest, { now: Date.now() });
  const offers = new Map<string, { client: string }>();
  const inspector = createEnvelopeInspector();

  // Known through manifest sync, like any node: the peer it connects to asks on identify.
  await node.handle(SYNC_PROTOCOL, async (stream) => {
    parseRequest(await readJson(stream, 64 * 1024));
    await writeJson(stream, { seq: 1, announces: [new TextDecoder().decode(encodeEnvelope(await announce()))] });
  });
  await node.handle(JOB_PROTOCOL, async (stream) => {
    const lines = readLines(stream);
    const req = parseJobRequest((await lines.next()).value);
    const offer = offers.get(req.job_id);
    if (!offer) return stream.abort(new Error('not offered'));
    const now = Date.now();
    const receipt = await sealReceipt(key, {
      job_id: req.job_id, executor: me, client: offer.client, model, model_sha256: 'ab'.repeat(32),
      input_sha256: sha256Hex(req.prompt), output_sha256: sha256Hex('what the receipt says'), tokens_in: 3, tokens_out: 3,
      timings: { queue_ms: 0, load_ms: 0, first_token_ms: 1, generation_ms: 2, tokens_per_s: 1500 },
      status: 'completed', started_at: now - 5, finished_at: now,
    }, now);
    await writeLine(stream, { t: 'done', text: 'something else entirely', receipt });
    await stream.close();
  });
  const pubsub = node.services.pubsub;
  // The model's one offer shard (scoped offers): where its offers come and its claims go.
  const topic = offerTopic('ab'.repeat(32), 0);
  pubsub.addEventListener('message', (e) => {
    if (e.detail.topic !== topic) return;
    void inspector.open(e.detail.data, { now: Date.now() }).then(async (r) => {
      if (!r.ok || r.envelope.type !== 'work_offer') return;
      const o = (r.envelope as Envelope<'work_offer'>).body;
      if (o.model !== model || offers.has(o.job_id)) return;
      offers.set(o.job_id, { client: o.client });
      const claim = await sealEnvelope(key, me, 'job_claim', { job_id: o.job_id, executor: me, model_sha256: 'ab'.repeat(32), queue_depth: 0, est_start_ms: 0, capacity: 1 }, { now: Date.now() });
      await pubsub.publish(topic, encodeEnvelope(claim));
    });
  });
  for (const t of [TOPICS.announce, TOPICS.receipt, topic]) pubsub.subscribe(t);
  await node.dial(multiaddr(bootstrap));
  const timer = setInterval(() => void announce().then((env) => pubsub.publish(TOPICS.announce, encodeEnvelope(env))).catch(() => undefined), 2000);
  return {
    peerId: me,
    model,
    async stop() { clearInterval(timer); await node.stop(); },
  };
}
