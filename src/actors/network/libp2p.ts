// Builds the network actor's libp2p node: TCP (or the in-process memory transport), noise,
// yamux, identify, ping, gossipsub, optional mDNS, and (for nodes, not light clients) the
// swarm's own Kademlia DHT (dht.ts). Bootstrap dialling is ours (bootstrap.ts),
// because @libp2p/bootstrap silently ignores the seed's bare multiaddrs.
import { createLibp2p, type Libp2p } from 'libp2p';
import { tcp } from '@libp2p/tcp';
import { memory } from '@libp2p/memory';
import { noise } from '@chainsafe/libp2p-noise';
import { plaintext } from '@libp2p/plaintext';
import { yamux } from '@libp2p/yamux';
import { identify, type Identify } from '@libp2p/identify';
import { ping, type Ping } from '@libp2p/ping';
import { gossipsub, type GossipSub } from '@libp2p/gossipsub';
import { mdns } from '@libp2p/mdns';
import { kadDHT, type KadDHT } from '@libp2p/kad-dht';
import type { PeerId, PrivateKey } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { memoryGate } from './memory-gate.ts';
import { swarmKeyProtector } from './swarm-key.ts';
import { dhtInit } from './dht.ts';

export type Transport = 'tcp' | 'memory';
export type NetworkNode = Libp2p<{ identify: Identify; ping: Ping; pubsub: GossipSub; dht?: KadDHT }>;

export interface Libp2pInit {
  privateKey: PrivateKey;
  transport: Transport;
  listen: string[];
  maxPeers: number;
  mdns: boolean;
  /** Peer ids allowed to connect in; undefined means everyone (auto_accept_peers). */
  acceptOnly?: () => ReadonlySet<string>;
  /** The operator's block list (gate.ts): no connection with these peers, either way. */
  blocked?: (peer: string) => boolean;
  /**
   * A node's own judgement of its peers (src/market/reputation.ts), added to gossipsub's peer score. When
   * given, the node also validates every gossip message itself before gossipsub forwards it
   * (asyncValidation: it must report each one, see Gossip.onGossip in gossip.ts).
   */
  appScore?: (peerId: string) => number;
  /** A private swarm's pre-shared key file content (swarm-key.ts): connections only with holders of the same key. */
  swarmKey?: Uint8Array;
  /** A handshake failed right after the swarm key exchange: the other end has another key, or none. */
  onSwarmKeyMismatch?: (remoteAddr: string) => void;
  /**
   * Run the swarm's DHT (a node; light clients leave it out): k = receipt replicas (and bucket
   * size), and the receipt records' validator (dht.ts).
   */
  dht?: { k: number; validate: (key: Uint8Array, value: Uint8Array) => Promise<void> };
}

export async function buildLibp2p(init: Libp2pInit): Promise<NetworkNode> {
  const acceptOnly = init.acceptOnly;
  const simulated = init.transport === 'memory';
  const self = peerIdFromPrivateKey(init.privateKey).toString();
  // In-process nodes: the simulator's partitions (memory-gate.ts) refuse connections across sides.
  const gated = (peer: PeerId) => init.blocked?.(peer.toString()) === true || (simulated && memoryGate.denied(self, peer.toString()));
  const node = await createLibp2p({
    privateKey: init.privateKey,
    addresses: { listen: init.listen },
    transports: [init.transport === 'memory' ? memory() : tcp()],
    // In-process simulation has no wire to protect: noise there only burns the one CPU that
    // hundreds of nodes share. Real transports always encrypt.
    connectionEncrypters: [init.transport === 'memory' ? plaintext() : noise()],
    ...(init.swarmKey ? { connectionProtector: swarmKeyProtector(init.swarmKey, init.onSwarmKeyMismatch ?? (() => {})) } : {}),
    streamMuxers: [yamux()],
    // libp2p accepts 5 new connections per second per host by default; clients behind one
    // address (a NAT, a gateway, a burst of `submit`s) need more. max_peers still bounds them.
    connectionManager: { maxConnections: init.maxPeers, inboundConnectionThreshold: 50 },
    // In-process simulation: no wire whose health needs pinging, and hundreds of nodes share one
    // core, so the per-node background work is trimmed (see BENCHMARKS.md).
    connectionMonitor: { enabled: !simulated },
    connectionGater: {
      // In-process and loopback test networks dial private addresses; libp2p's default refuses them.
      denyDialMultiaddr: () => false,
      denyInboundEncryptedConnection: (peer: PeerId) => gated(peer) || (acceptOnly !== undefined && !acceptOnly().has(peer.toString())),
      denyOutboundEncryptedConnection: gated,
      denyDialPeer: gated,
    },
    peerDiscovery: init.mdns ? [mdns({ interval: 2000 })] : [],
    services: {
      identify: identify(),
      ping: ping(),
      pubsub: gossipsub({
        allowPublishToZeroTopicPeers: true,
        emitSelf: false,
        // Our envelopes carry their own ed25519 signature; gossipsub signing them again would
        // double the crypto per message for no added guarantee.
        globalSignaturePolicy: 'StrictNoSign',
        heartbeatInterval: simulated ? 5000 : 1000,
        // Many nodes on one host share 127.0.0.1; don't graylist them for it.
        scoreParams: {
          IPColocationFactorWhitelist: new Set(['127.0.0.1', '::1']),
          ...(init.appScore ? { appSpecificScore: init.appScore, appSpecificWeight: 1 } : {}),
        },
        asyncValidation: init.appScore !== undefined,
      }),
      ...(init.dht ? { dht: kadDHT(dhtInit(init.dht.k, init.dht.validate)) } : {}),
    },
  }) as NetworkNode;
  if (simulated) {
    memoryGate.register(self, node);
    node.addEventListener('stop', () => memoryGate.unregister(self));
  }
  return node;
}
