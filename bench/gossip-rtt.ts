// One-hop gossip round trip between two libp2p nodes on TCP loopback (buildLibp2p: A publishes,
// B answers on another topic), plain or with signed envelopes opened and sealed at each end:
// the yardstick the job path's dispatch overhead is measured against (bench/jobs.ts, bench/speed.ts).
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { buildLibp2p, type NetworkNode } from '../src/actors/network/libp2p.ts';
import { createEnvelopeInspector, encodeEnvelope, sealEnvelope } from '../src/protocol/index.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const PING = 'bench/ping';
const PONG = 'bench/pong';

export async function gossipPair() {
  const keyA = await generateKeyPair('Ed25519');
  const keyB = await generateKeyPair('Ed25519');
  const idA = peerIdFromPrivateKey(keyA).toString();
  const idB = peerIdFromPrivateKey(keyB).toString();
  const mk = (privateKey: typeof keyA) => buildLibp2p({ privateKey, transport: 'tcp', listen: ['/ip4/127.0.0.1/tcp/0'], maxPeers: 16, mdns: false });
  const a: NetworkNode = await mk(keyA);
  const b: NetworkNode = await mk(keyB);
  a.services.pubsub.subscribe(PONG);
  b.services.pubsub.subscribe(PING);
  const inspectorA = createEnvelopeInspector();
  const inspectorB = createEnvelopeInspector();
  // B answers each ping on the other topic: plain bytes, or (signed) an envelope it has opened
  // (signature checked) and a fresh one it seals — the per-message work of the job protocol.
  b.services.pubsub.addEventListener('message', (e) => {
    if (e.detail.topic !== PING) return;
    const data = e.detail.data;
    void (async () => {
      if (data[0] === 0x7b) { // '{': an envelope
        const r = await inspectorB.open(data, { now: Date.now() });
        if (!r.ok) throw new Error(`B dropped a ping: ${r.reason}`);
        const env = await sealEnvelope(keyB, idB, 'heartbeat', { seq: (r.envelope.body as { seq: number }).seq }, { now: Date.now() });
        await b.services.pubsub.publish(PONG, encodeEnvelope(env));
      } else {
        const out = new Uint8Array(data);
        out[0] = 0x02;
        await b.services.pubsub.publish(PONG, out);
      }
    })().catch((err: Error) => console.error(`gossip pong failed: ${err.message}`));
  });
  const waiting = new Map<number, () => void>();
  a.services.pubsub.addEventListener('message', (e) => {
    if (e.detail.topic !== PONG) return;
    const data = e.detail.data;
    void (async () => {
      let seq: number;
      if (data[0] === 0x7b) {
        const r = await inspectorA.open(data, { now: Date.now() });
        if (!r.ok) throw new Error(`A dropped a pong: ${r.reason}`);
        seq = (r.envelope.body as { seq: number }).seq;
      } else {
        seq = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(1);
      }
      waiting.get(seq)?.();
    })().catch((err: Error) => console.error(`gossip ping failed: ${err.message}`));
  });
  await a.dial(b.getMultiaddrs()[0]!);
  await until(() => a.services.pubsub.getSubscribers(PING).some((p) => p.toString() === idB)
    && b.services.pubsub.getSubscribers(PONG).some((p) => p.toString() === idA), 10_000, 'gossip subscriptions');
  await sleep(1500); // a gossipsub heartbeat or two
  let seq = 0;
  /** Plain: a 400-byte payload (about an offer's size). Signed: a sealed heartbeat envelope. */
  const roundTrip = async (signed: boolean): Promise<number> => {
    const n = ++seq;
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`gossip round trip ${n} timed out`)), 5000);
      waiting.set(n, () => { clearTimeout(timer); waiting.delete(n); resolve(); });
    });
    const t0 = performance.now();
    if (signed) {
      const env = await sealEnvelope(keyA, idA, 'heartbeat', { seq: n }, { now: Date.now() });
      await a.services.pubsub.publish(PING, encodeEnvelope(env));
    } else {
      const data = new Uint8Array(400);
      data[0] = 0x01;
      new DataView(data.buffer).setUint32(1, n);
      await a.services.pubsub.publish(PING, data);
    }
    await done;
    return performance.now() - t0;
  };
  return { roundTrip, stop: async () => { await a.stop(); await b.stop(); } };
}

