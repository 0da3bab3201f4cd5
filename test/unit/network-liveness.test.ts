// Peer liveness in the network actor, over real libp2p (memory transport): a connected peer that
// answers pings stays alive without sending a message; once it stops answering, its connection
// still open, it is suspected and then expired — an open connection alone is no sign of life —
// and any message from it while suspect makes it alive again.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { PING_PROTOCOL } from '@libp2p/ping';
import type { PrivateKey } from '@libp2p/interface';
import { buildLibp2p, type NetworkNode } from '../../src/actors/network/libp2p.ts';
import { TOPICS } from '../../src/protocol/topics.ts';
import type { PeerSummary } from '../../src/actors/network/messages.ts';
import { sealEnvelope, encodeEnvelope } from '../../src/protocol/index.ts';
import { createNode, type MvpNode } from '../../src/node/create-node.ts';
import { testConfig } from '../helpers/config.ts';
import { until } from '../helpers/runtime.ts';

const T_S = 6;
const T = T_S * 1000;

describe('peer liveness (memory transport)', () => {
  let node: MvpNode;
  let bare: NetworkNode;
  let key: PrivateKey;
  let bareId = '';
  let seq = 0;
  const peer = async () => (await node.supervisor.request<PeerSummary[]>('network', { type: 'network.peers' }, 2000)).find((p) => p.peer_id === bareId);
  const heartbeat = async () => {
    const env = await sealEnvelope(key, bareId, 'heartbeat', { seq: ++seq }, { now: Date.now() });
    await bare.services.pubsub.publish(TOPICS.announce, encodeEnvelope(env));
  };
  /** Samples the node's view of the peer every 100 ms for `ms`. */
  const watch = async (ms: number) => {
    const seen: Array<PeerSummary | undefined> = [];
    for (const end = Date.now() + ms; Date.now() < end;) {
      seen.push(await peer());
      await new Promise((r) => setTimeout(r, 100));
    }
    return seen;
  };

  before(async () => {
    node = await createNode(testConfig({ node: { node_id: 'watcher' }, distributed_orchestration: { heartbeat_timeout_secs: T_S } }), { transport: 'memory' });
    await node.start();
    // The watched peer: a bare libp2p node that sends one heartbeat, then only what we make it send.
    key = await generateKeyPair('Ed25519');
    bareId = peerIdFromPrivateKey(key).toString();
    bare = await buildLibp2p({ privateKey: key, transport: 'memory', listen: [`/memory/liveness-${Date.now()}`], maxPeers: 4, mdns: false });
    bare.services.pubsub.subscribe(TOPICS.announce);
    await bare.dial(multiaddr((await node.network()).listen[0]!));
    await until(async () => bare.services.pubsub.getSubscribers(TOPICS.announce).some((p) => p.toString() === node.peerId), 15_000, 'the node to subscribe');
    await heartbeat();
    await until(async () => (await peer()) !== undefined, 10_000, 'the node to hear the peer');
  });
  after(async () => { await bare?.stop(); await node?.stop(); });

  it('a connected peer that answers pings stays alive without sending anything', async () => {
    const seen = await watch(1.5 * T);
    assert.ok(seen.every((p) => p !== undefined), 'never expired');
    assert.deepEqual(new Set(seen.map((p) => p!.state)), new Set(['alive']), 'never suspected: each pong counts as hearing it');
  });

  it('a peer that stops answering is suspected, alive again on a message, then expired with its connection open', async () => {
    await bare.unhandle(PING_PROTOCOL);
    await until(async () => (await peer())?.state === 'suspect', T, 'the silent peer to be suspected');
    await heartbeat();
    await until(async () => (await peer())?.state === 'alive', T / 2, 'the suspect peer to be alive again after its heartbeat');

    let last: PeerSummary | undefined;
    const suspectAt: number[] = [];
    const goneAt = await new Promise<number>((resolve, reject) => {
      const end = Date.now() + 3 * T;
      const poll = async () => {
        const p = await peer();
        if (!p) return resolve(Date.now());
        if (p.state === 'suspect' && suspectAt.length === 0) suspectAt.push(Date.now());
        last = p;
        if (Date.now() > end) return reject(new Error(`still listed after ${3 * T} ms: ${JSON.stringify(p)}`));
        setTimeout(() => { void poll(); }, 100);
      };
      void poll();
    });
    assert.ok(last, 'listed before it expired');
    assert.equal(suspectAt.length, 1, 'suspected before it expired');
    assert.ok(suspectAt[0]! - last.last_seen > T / 2, `suspected after ${suspectAt[0]! - last.last_seen} ms of silence, past half the timeout`);
    assert.ok(goneAt - last.last_seen > T, `expired after ${goneAt - last.last_seen} ms of silence, past the timeout`);
    assert.ok(bare.getConnections().some((c) => c.remotePeer.toString() === node.peerId), 'the connection was open all along');
  });
});
