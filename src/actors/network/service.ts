// The network actor's side effects, as parts with one lifecycle (lifecycle.ts), started in this
// order and stopped in reverse:
//   transport.ts       libp2p: listening, the stream protocols, connection logs (stopped last)
//   dht.ts             the swarm's Kademlia DHT: receipt records, model provider records
//   blocklist.ts       the operator's block list, restored from the store before libp2p starts
//   ../../market/      the job marketplace: executor, receipts, reputation
//   gossip.ts          gossip in (inspected, rate-limited, counted) and out
//   manifest-sync.ts   manifest sync with peers, anti-entropy
//   heartbeat-topics.ts which heartbeat topics this node hears and speaks on (council-scoped)
//   announcer.ts       this node's announces and heartbeats
//   liveness.ts        peer liveness sweeps and pings (the shared rule of src/liveness/)
//   bootstrap.ts       bootstrap, mDNS and known-peer dialling, trusted peer ids
// This class wires them, serves model files (model-transfer.ts), and projects their state into
// the actor's answers (status, peers, models). The machine (machine.ts) owns when these run.
import { multiaddr } from '@multiformats/multiaddr';
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id';
import type { PrivateKey } from '@libp2p/interface';
import type { Clock } from '../../runtime/clock.ts';
import type { Logger } from '../../runtime/log.ts';
import type { Config } from '../../config/types.ts';
import {
  TOPICS, versionOfScope, type Envelope, type HeartbeatBody, type HeartbeatScope, type Manifest, type MessageBody, type ModelManifest, type OrchMessageType, type OrchSummary,
} from '../../protocol/index.ts';
import type { Transport } from './libp2p.ts';
import { PeerTable } from './peer-table.ts';
import { JobMarket } from '../../market/market.ts';
import { CLAIMS_REFUSED_BELOW } from '../../market/reputation.ts';
import type { CanClaimReply, JobResult, SchedulerJob } from '../scheduler/messages.ts';
import { MAX_MODEL_STREAMS, MODEL_PROTOCOL, ModelPuller, ModelServer, type ModelSource, type SharedFile } from './model-transfer.ts';
import { RECEIPT_LOOKUP_MS, type NetworkStatus, type PeerSummary, type ServedModel } from './messages.ts';
import type { QueueStatus } from '../scheduler/messages.ts';
import { startAll, stopAll, type Startable } from './lifecycle.ts';
import { NetworkTransport } from './transport.ts';
import { BlockList } from './blocklist.ts';
import { Gossip, gossipScore } from './gossip.ts';
import { ManifestSync } from './manifest-sync.ts';
import { Announcer } from './announcer.ts';
import { LivenessWatch } from './liveness.ts';
import { BootstrapDialer } from './bootstrap.ts';
import { OfferTopics } from './offer-topics.ts';
import { HeartbeatTopics } from './heartbeat-topics.ts';
import type { NetworkStoreLink } from './store-link.ts';
import { ReceiptDht, checkReceiptRecord, ReceiptRecordError, type DhtCounters } from './dht.ts';
import type { ReceiptEnvelope } from '../../market/receipts.ts';

/** How long a pull waits for the DHT's providers of a model no manifest lists. */
const PROVIDER_LOOKUP_MS = 15_000;

export { BindError } from './transport.ts';
export type { NetworkStoreLink, KnownPeer } from './store-link.ts';

export interface NetworkServiceInit {
  config: Readonly<Config>;
  nodeId: string;
  /** See NetworkArgs.portCell. */
  portCell?: Int32Array;
  privateKey: PrivateKey;
  transport: Transport;
  models: ModelManifest[];
  /** The files of those models, served to peers by sha256 over /mvp/model/1.0.0. */
  files: SharedFile[];
  /** A private swarm's key file content (read and checked at start, see create-node.ts). */
  swarmKey?: Uint8Array;
  clock: Clock;
  log: Logger;
  /** Latest queue figures for the manifest; the machine fetches them from the scheduler. */
  queue(): Promise<QueueStatus | undefined>;
  /** The scheduler's load manager: should this node claim such an offer? */
  canClaim(model: string, maxTokens: number): Promise<CanClaimReply>;
  /** Run a job on this node (tokens come back as inference.token events, see onToken). */
  submit(job: SchedulerJob): Promise<JobResult>;
  /** Stop a job whose client has gone (its stream cannot be written any more). */
  cancel(jobId: string): void;
  /** The node's store (the store actor): receipts, the block list, scores, known peers. */
  store: NetworkStoreLink;
  /** Orchestration: a peer's heartbeat, and an orchestration message, for the consensus actor. */
  onHeartbeat?(from: string, body: HeartbeatBody): void;
  onOrch?(from: string, type: OrchMessageType, body: unknown): void;
}

export class NetworkService {
  readonly peerTable: PeerTable;
  readonly transport: NetworkTransport;
  readonly dht: ReceiptDht;
  readonly blocklist: BlockList;
  readonly market: JobMarket;
  readonly gossip: Gossip;
  readonly sync: ManifestSync;
  readonly announcer: Announcer;
  readonly liveness: LivenessWatch;
  readonly bootstrap: BootstrapDialer;
  readonly offerTopics: OfferTopics;
  readonly heartbeatTopics: HeartbeatTopics;
  readonly modelServer: ModelServer;
  readonly puller: ModelPuller;
  /** In start order; stopped in reverse. */
  private readonly parts: Startable[];
  /** This node's own light clients (the OpenAI gateway's): trusted, and not counted as peers. */
  private readonly localClients = new Set<string>();
  private running = false;

  constructor(private readonly init: NetworkServiceInit) {
    const { clock, log, config } = init;
    const peerId = peerIdFromPrivateKey(init.privateKey).toString();
    const isLocalClient = (p: string) => this.localClients.has(p);
    const version = versionOfScope(config.network.offer_scope);
    // A peer off this node's councils is heard only by its announces: timed by three of their intervals.
    this.peerTable = new PeerTable(config.distributed_orchestration.heartbeat_timeout_secs * 1000, 3 * config.network.announce_interval_secs * 1000);
    this.transport = new NetworkTransport({
      config, nodeId: init.nodeId, privateKey: init.privateKey, transport: init.transport, clock, log,
      ...(init.portCell ? { portCell: init.portCell } : {}),
      ...(init.swarmKey ? { swarmKey: init.swarmKey } : {}),
      acceptOnly: () => this.bootstrap.trusted,
      blocked: (peer) => this.blocklist.has(peer),
      appScore: (peer) => gossipScore(this.market.reputation.score(peer, clock.now())),
      validateRecord: (key, value) => this.validateRecord(key, value),
    }, () => [
      this.sync.handler,
      { protocol: MODEL_PROTOCOL, maxInboundStreams: MAX_MODEL_STREAMS, handle: (stream, connection) => this.modelServer.handle(stream, connection.remotePeer.toString()) },
      this.market.handler,
    ]);
    this.dht = new ReceiptDht({
      clock, log, dht: () => this.transport.dht, selfId: () => this.transport.peerId,
      onConnect: (cb) => this.transport.libp2p.addEventListener('peer:connect', cb),
    });
    this.blocklist = new BlockList({ privateKey: init.privateKey, store: init.store, clock, log, transport: this.transport });
    this.market = new JobMarket({
      peerId, privateKey: init.privateKey, models: init.models, clock, log,
      jobTimeoutMs: config.executor.job_timeout_secs * 1000, protocolVersion: version,
      publish: (topic, type, body) => this.gossip.publish(topic, type, body),
      publishSealed: (topic, env) => this.gossip.publishSealed(topic, env),
      shareReceipt: (receipt) => this.dht.putReceipt(receipt),
      findReceipt: (jobId) => this.dht.getReceipt(jobId, RECEIPT_LOOKUP_MS),
      queue: init.queue, canClaim: init.canClaim, submit: init.submit, cancel: init.cancel,
      store: init.store,
    }, () => this.peerTable.nextChange());
    this.gossip = new Gossip({
      privateKey: init.privateKey, transport: init.transport, clock, log, net: this.transport, peerTable: this.peerTable,
      reputation: this.market.reputation, market: this.market,
      blocked: (peer) => this.blocklist.has(peer), isLocalClient, version,
      ...(init.onHeartbeat ? { onHeartbeat: init.onHeartbeat } : {}),
      ...(init.onOrch ? { onOrch: init.onOrch } : {}),
    });
    this.announcer = new Announcer({
      config, nodeId: init.nodeId, privateKey: init.privateKey, models: init.models, clock, log,
      transport: this.transport, peerTable: this.peerTable, gossip: this.gossip, queue: init.queue,
      decorate: (models) => this.offerTopics.decorate(models),
      heartbeatTopics: () => this.heartbeatTopics.targets(),
    });
    this.heartbeatTopics = new HeartbeatTopics({ scope: config.network.offer_scope, clock, log, transport: this.transport, peerTable: this.peerTable });
    this.offerTopics = new OfferTopics({
      scope: config.network.offer_scope, shardSize: config.network.offer_shard_size, models: init.models, clock, log,
      transport: this.transport, peerTable: this.peerTable,
      onChange: () => { void this.announcer.announce().catch((err: Error) => log.debug({ err: err.message }, 'Announce of new offer shards failed')); },
    });
    this.sync = new ManifestSync({
      clock, log, transport: this.transport, peerTable: this.peerTable,
      ownAnnounce: () => this.announcer.ownAnnounce(),
      receiptsSince: (since) => this.market.receipts.since(since),
      receiptCount: () => this.market.receipts.size,
      accept: (data, via) => this.gossip.accept(data, via),
    });
    this.liveness = new LivenessWatch({ clock, log, transport: this.transport, peerTable: this.peerTable, onExpired: (peer) => this.sync.forget(peer) });
    this.bootstrap = new BootstrapDialer({
      config, clock, log, transport: this.transport, peerTable: this.peerTable, store: init.store,
      blocked: (peer) => this.blocklist.has(peer), isLocalClient,
    });
    const share = config.models;
    this.modelServer = new ModelServer({
      share: share.share, maxBytesPerSec: share.share_max_mib_per_sec * 2 ** 20, chunksPerPeerPerSec: share.share_chunks_per_peer_per_sec,
    }, clock, log);
    this.modelServer.setFiles(init.files);
    this.puller = new ModelPuller({
      clock, log,
      dial: (peer, signal) => this.dialModel(peer, signal),
      sources: (sha256) => this.modelSources(sha256),
      findSources: (sha256, signal) => this.providerSources(sha256, signal),
      blame: (peer, offence) => this.market.reputation.penalise(peer, offence, clock.now()),
      capBytes: share.max_pulled_mib * 2 ** 20,
    });
    this.parts = [this.transport, this.dht, this.blocklist, this.market, this.gossip, this.offerTopics, this.heartbeatTopics, this.sync, this.announcer, this.liveness, this.bootstrap];
  }

  get peerId(): string { return this.transport.peerId; }
  get executor() { return this.market.executor; }
  get receipts() { return this.market.receipts; }
  get reputation() { return this.market.reputation; }
  get gate() { return this.blocklist.gate; }

  async start(): Promise<void> {
    // What libp2p's gater and gossipsub's score ask from its first connection.
    await this.blocklist.restore();
    await this.market.restore();
    await startAll(this.parts);
    this.running = true;
    this.transport.logListening();
    this.announcer.announceFirst();
    if (this.init.config.models.share) for (const f of this.init.files) this.dht.provide(f.sha256);
  }

  async stop(): Promise<void> {
    this.running = false;
    this.puller.cancelAll();
    await stopAll(this.parts);
  }

  status(): NetworkStatus {
    const node = this.transport.libp2p;
    const { gossip, reputation } = this;
    const suspects = reputation.suspects(this.init.clock.now());
    return {
      peer_id: this.peerId,
      node_id: this.init.nodeId,
      listen: node.getMultiaddrs().map(String),
      peers: new Set(node.getConnections().map((c) => c.remotePeer.toString()).filter((p) => !this.localClients.has(p))).size,
      known: this.peerTable.size,
      heartbeat_ms: this.announcer.heartbeatMs(),
      received: gossip.received,
      accepted: gossip.accepted,
      duplicates: gossip.duplicates,
      published: gossip.published,
      deliveries: { ...gossip.deliveries },
      offer_topics: this.offerTopics.topics(),
      heartbeat_topics: this.heartbeatTopics.topics(),
      protocol_version: gossip.version,
      dropped: { ...gossip.dropped },
      sync_dropped: { ...gossip.syncDropped },
      model_transfer: { ...this.modelServer.counters, files: this.modelServer.shared.files, files_ready: this.modelServer.shared.ready },
      ...(this.init.transport === 'memory' ? { sim_lost: gossip.simLost } : {}),
      draining: this.executor.isDraining,
      swarm: { private: this.init.swarmKey !== undefined, suspected_key_mismatches: this.transport.suspectedKeyMismatches },
      dht: this.dhtStatus(),
      reputation: {
        claims_refused_below: CLAIMS_REFUSED_BELOW,
        claims_refused: suspects.filter((p) => p.score < CLAIMS_REFUSED_BELOW).length,
        suspects: suspects.slice(0, 100),
        offences: { ...reputation.offences },
      },
      ...this.rtt(),
    };
  }

  models(): ServedModel[] {
    const own = this.init.models.map((model) => ({ model, peer_id: this.peerId, node_id: this.init.nodeId, self: true }));
    const known = this.peerTable.entries().flatMap((e) => (e.manifest?.models ?? [])
      .map((model) => ({ model, peer_id: e.peerId, node_id: e.manifest!.node_id, self: false })));
    return [...own, ...known];
  }

  addLocalClient(peerId: string): void {
    this.localClients.add(peerId);
    this.bootstrap.trusted.add(peerId);
  }

  /** Median round trip of the connections that measured one (libp2p's connection monitor). */
  private rtt(): { rtt_ms?: number } {
    const rtts = this.transport.libp2p.getConnections().filter((c) => !this.localClients.has(c.remotePeer.toString())).map((c) => c.rtt).filter((r): r is number => typeof r === 'number' && Number.isFinite(r)).sort((a, b) => a - b);
    return rtts.length > 0 ? { rtt_ms: rtts[Math.floor(rtts.length / 2)]! } : {};
  }

  // --- orchestration plumbing: the consensus actor's messages in and out ---------

  /**
   * What our heartbeats say about orchestration, and where they go (a summary and a scope older
   * than the heartbeat timeout are dropped).
   */
  setOrchSummary(summary: OrchSummary, scope?: HeartbeatScope): void {
    this.announcer.setOrchSummary(summary);
    if (scope) this.heartbeatTopics.setScope(scope);
  }

  /** Gossip one orchestration message on TOPICS.orch. */
  publishOrch(type: OrchMessageType, body: unknown): Promise<Envelope> {
    return this.gossip.publish(TOPICS.orch, type, body as MessageBody<OrchMessageType>);
  }

  /** The store actor's word on whether writes work (a full disk: no claims until they do). */
  setStoreWritable(writable: boolean): void { this.market.setStoreWritable(writable); }

  block(peer: string) { return this.blocklist.block(peer); }
  unblock(peer: string) { return this.blocklist.unblock(peer); }

  peers(): PeerSummary[] {
    const now = this.init.clock.now();
    const connected = this.transport.connectedPeers();
    return this.peerTable.entries().map((e) => ({
      peer_id: e.peerId,
      node_id: e.manifest?.node_id,
      connected: connected.has(e.peerId),
      addrs: e.manifest?.addrs ?? [],
      version: e.version,
      last_seen: e.lastSeen,
      state: this.peerTable.state(e, now),
      silent_ms: Math.max(0, now - e.lastSeen),
      models: e.manifest?.models.map((m) => m.name) ?? [],
      score: Math.round(this.reputation.score(e.peerId, now) * 100) / 100,
    }));
  }

  adjustGossip(factor: number) { return this.announcer.adjustGossip(factor); }

  /**
   * The models this node serves changed (loaded or unloaded at runtime): claims follow the new
   * list at once, and the new manifest is announced now rather than at the next interval.
   */
  async setModels(models: readonly ModelManifest[], files: readonly SharedFile[]): Promise<void> {
    // In place: the job executor and the announcer hold the same array.
    this.init.models.splice(0, this.init.models.length, ...models);
    this.modelServer.setFiles(files);
    if (this.init.config.models.share) for (const f of files) this.dht.provide(f.sha256);
    // Offer topics follow the models: the new model's shard heard, an unloaded model's left.
    this.offerTopics.refresh();
    this.init.log.info({ models: models.map((m) => m.name) }, 'Served models changed; announcing');
    // Kept for manifest sync even when the publish fails (no peer yet): peers still learn it.
    await this.announcer.announce().catch((err: Error) => this.init.log.warn({ err: err.message }, 'Announce of the new models failed'));
  }

  /** A chunk stream to a peer; one known only by its manifest (no connection yet) is dialled at the addresses it announced. */
  private async dialModel(peer: string, signal: AbortSignal) {
    const node = this.transport.libp2p;
    const id = peerIdFromString(peer);
    if (node.getConnections(id).length === 0) {
      const addrs = (this.peerTable.get(peer)?.manifest?.addrs ?? []).map((a) => multiaddr(a.includes('/p2p/') ? a : `${a}/p2p/${peer}`));
      if (addrs.length > 0) await node.dial(addrs, { signal });
    }
    return node.dialProtocol(id, MODEL_PROTOCOL, { signal });
  }

  /** Peers whose manifest lists a model file with this sha256, a Merkle root and a size (blocked peers excluded). */
  modelSources(sha256: string): ModelSource[] {
    return this.peerTable.entries().filter((e) => e.peerId !== this.peerId && !this.blocklist.has(e.peerId)).flatMap((e) => (e.manifest?.models ?? [])
      .filter((m) => m.sha256 === sha256 && m.merkle_root !== undefined && m.size !== undefined)
      .map((m) => ({ peer: e.peerId, root: m.merkle_root!, size: m.size!, name: m.name })));
  }

  /** This node's manifest as its next announce will carry it (queue figures asked afresh). */
  manifest(): Promise<Manifest> { return this.announcer.manifest(); }

  /** Peers connected now, this node's light clients aside. */
  connectedPeerCount(): number {
    let n = 0;
    for (const p of this.transport.connectedPeers()) if (!this.localClients.has(p)) n++;
    return n;
  }

  /** Calls `cb` whenever a peer connects or disconnects (once started). */
  onConnectivity(cb: () => void): void {
    const node = this.transport.libp2p;
    node.addEventListener('peer:connect', cb);
    node.addEventListener('peer:disconnect', cb);
  }

  /**
   * The DHT's validator for receipt records: a receipt signed by its executor for the job its key
   * names, by the executor this node saw the job assigned to (if it saw the assignment). A
   * refusal is counted by reason and thrown (kad-dht then drops the record); a record that
   * passes is booked (this node is one of its replicas, or looked it up).
   */
  private async validateRecord(key: Uint8Array, value: Uint8Array): Promise<void> {
    let receipt: ReceiptEnvelope;
    try {
      receipt = await checkReceiptRecord(key, value, (jobId) => this.market.receipts.assignedExecutor(jobId));
    } catch (err) {
      if (err instanceof ReceiptRecordError) {
        this.dht.refused(err.reason);
        this.init.log.debug({ reason: err.reason, err: err.message }, 'Receipt record refused');
      }
      throw err;
    }
    this.market.onRecord(receipt);
  }

  /**
   * A job's receipt by id: the receipt book (this node signed it, holds a replica, or looked it
   * up before), else a DHT lookup. Null when none is found.
   */
  async receipt(jobId: string): Promise<ReceiptEnvelope | null> {
    return this.receipts.get(jobId) ?? await this.dht.getReceipt(jobId, RECEIPT_LOOKUP_MS) ?? null;
  }

  private dhtStatus(): NetworkStatus['dht'] {
    const c: DhtCounters = this.dht.counters;
    const routing = (this.transport.libp2p.services.dht as unknown as { routingTable?: { size?: number } } | undefined)?.routingTable?.size;
    return { ...c, records_refused: { ...c.records_refused }, ...(typeof routing === 'number' ? { routing_table: routing } : {}) };
  }

  /**
   * Sources of a model no manifest in the peer table lists: the DHT's providers of its sha256,
   * each asked for its manifest (a sync with it). A provider reached whose manifest lists no
   * such file, or that does not answer the sync, is blamed `false_provide` (provider records
   * carry no signature); one that cannot be reached is skipped (it may just be offline).
   */
  private async providerSources(sha256: string, signal: AbortSignal): Promise<ModelSource[]> {
    const providers = await this.dht.findProviders(sha256, PROVIDER_LOOKUP_MS);
    const out: ModelSource[] = [];
    await Promise.all(providers.filter((p) => !this.blocklist.has(p.id.toString())).map(async (p) => {
      const peer = p.id.toString();
      try {
        if (this.transport.libp2p.getConnections(p.id).length === 0) {
          const addrs = p.multiaddrs.map((a) => multiaddr(a.includes('/p2p/') ? a : `${a}/p2p/${peer}`));
          await this.transport.libp2p.dial(addrs.length > 0 ? addrs : p.id, { signal: AbortSignal.any([signal, AbortSignal.timeout(10_000)]) });
        }
      } catch (err) {
        this.init.log.debug({ peer, sha256, err: (err as Error).message }, 'A provider of the model could not be reached');
        return;
      }
      // Reached: it must now say, by sync, what it serves (a failed sync counts as serving nothing).
      await this.sync.syncWith(peer);
      const found = this.modelSources(sha256).filter((s) => s.peer === peer);
      if (found.length === 0) {
        this.init.log.warn({ peer, sha256 }, 'A DHT provider of the model does not serve it: blamed');
        this.reputation.penalise(peer, 'false_provide', this.init.clock.now());
      }
      out.push(...found);
    }));
    return out;
  }

  /** Whether every part is started (the node is up). */
  get isRunning(): boolean { return this.running; }
}
