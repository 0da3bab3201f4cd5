// The network actor's side effects: the libp2p node, bootstrap dialling with backoff, mDNS
// dialling, signed announces and heartbeats, the peer table and drop counters. The machine
// (machine.ts) owns when these run; this class owns how.
import os from 'node:os';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id';
import type { PrivateKey } from '@libp2p/interface';
import { TopicValidatorResult } from '@libp2p/gossipsub';
import type { Clock, Timer } from '../../runtime/clock.ts';
import type { Logger } from '../../runtime/log.ts';
import type { Config } from '../../config/types.ts';
import {
  createEnvelopeInspector, negotiateVersion, sealEnvelope, encodeEnvelope, SUPPORTED_VERSIONS,
  type DropReason, type Envelope, type HeartbeatBody, type Manifest, type MessageBody, type MessageType, type ModelManifest,
  type OrchMessageType, type OrchSummary, isOrchMessageType,
} from '../../protocol/index.ts';
import { buildLibp2p, type NetworkNode, type Transport } from './libp2p.ts';
import { PeerTable, type PeerEntry } from './peer-table.ts';
import { memoryGate } from './memory-gate.ts';
import { JobExecutor } from './executor.ts';
import { ReceiptBook } from './receipts.ts';
import { PeerGate, type BlockedPeer } from './gate.ts';
import { CLAIMS_REFUSED_BELOW, CONNECTION_RATE, SIGNER_RATE, RateLimiter, Reputation, type Offence, type SavedStanding } from './reputation.ts';
import type { CanClaimReply, JobResult, SchedulerJob } from '../scheduler/messages.ts';
import { JOB_PROTOCOL, MAX_JOB_STREAMS } from '../../jobs/stream.ts';
import { MAX_MODEL_STREAMS, MODEL_PROTOCOL, ModelPuller, ModelServer, type ModelSource, type SharedFile } from './model-transfer.ts';
import { SYNC_MAX_ENTRIES, SYNC_PROTOCOL, parseRequest, parseResponse, readJson, writeJson } from './sync.ts';
import type { NetworkDropReason, NetworkStatus, PeerSummary, QueueStatus, ServedModel } from './messages.ts';
import { CodedError } from '../../errors/registry.ts';

export const TOPICS = { announce: 'mvp/1/announce', work: 'mvp/1/work', receipt: 'mvp/1/receipt', orch: 'mvp/1/orch' } as const;

/**
 * Anti-entropy pace: a node syncs with one random neighbour, halving its wait (down to
 * SYNC_MIN_MS) after a sync that brought news and doubling it (up to SYNC_MAX_MS) after one that
 * did not. A quiet network costs little, and a busy one (every join is news to every node) does
 * not make every node sync as fast as it can: the whole network's sync rate stays ≤ N / 2 s.
 */
const SYNC_MIN_MS = 2000;
/** Receipts received by sync may be this old (a partition's worth); fresher ones pass the gossip skew. */
const SYNCED_RECEIPT_MAX_AGE_MS = 24 * 3600_000;
const SYNC_MAX_MS = 30_000;

/**
 * How often peer liveness is checked: a twelfth of the heartbeat timeout, within [250 ms, 1 s],
 * so that a quiet peer is pinged (past a third of the timeout) well before it would be suspect
 * (past half), and suspicion and expiry are noticed within a tick.
 */
const livenessTickMs = (timeoutMs: number) => Math.min(1000, Math.max(250, timeoutMs / 12));

/** `from` and `ts` of an announce's text, read without checking anything (that comes later). */
function peekAnnounce(text: string): { from: string; ts: number } | undefined {
  try {
    const v = JSON.parse(text) as { type?: unknown; from?: unknown; ts?: unknown };
    return v.type === 'announce' && typeof v.from === 'string' && typeof v.ts === 'number' ? { from: v.from, ts: v.ts } : undefined;
  } catch { return undefined; }
}

/** What a peer is blamed for when the inspector drops what it sent; reasons not listed are no offence (a skewed clock, a newer version). */
const OFFENCE_OF: Partial<Record<DropReason, Offence>> = {
  oversize: 'garbage', malformed: 'garbage', schema: 'garbage', wrong_from: 'garbage', bad_signature: 'forged', replay: 'replay',
};

/**
 * What gossipsub adds to a peer's score: nothing until its claims are refused (a negative score
 * prunes a peer from the mesh, and an honest node that failed a job must keep hearing gossip),
 * then its score, kept above gossipsub's graylist threshold (-80): past IGNORED_BELOW this node
 * drops the peer's messages itself, and counts them.
 */
const GOSSIP_SCORE_FLOOR = -70;
const gossipScore = (score: number) => score < CLAIMS_REFUSED_BELOW ? Math.max(GOSSIP_SCORE_FLOOR, score) : 0;

/** What became of a message from outside. */
type Verdict = 'accepted' | 'duplicate' | 'dropped';

function envelopeId(data: Uint8Array): string | undefined {
  try { return (JSON.parse(new TextDecoder().decode(data)) as { id?: string }).id; } catch { return undefined; }
}

export class BindError extends CodedError {
  override name = 'BindError';
  constructor(readonly port: number, cause: string) {
    super('bind_failed', `Failed to bind to port ${port}: ${cause}. Use a different port or let the system auto-assign: --port 0`);
  }
}

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

/** What the network keeps in the node's store, by messages to the store actor. */
export interface NetworkStoreLink {
  /** Whether peers known now are kept for the next start (a node with a data directory). */
  keepsPeers: boolean;
  knownPeers(): Promise<KnownPeer[]>;
  saveKnownPeers(peers: KnownPeer[]): Promise<unknown>;
  /** Resolves once the receipt is fsynced. */
  putReceipt(receipt: Envelope<'receipt'>): Promise<unknown>;
  blocked(): Promise<BlockedPeer[]>;
  saveBlock(b: BlockedPeer): Promise<unknown>;
  dropBlock(peer: string): Promise<unknown>;
  standings(): Promise<SavedStanding[]>;
  saveStandings(s: SavedStanding[]): Promise<unknown>;
}

/** A peer this node was connected to, and where: dialled again at the next start. */
export interface KnownPeer { peer_id: string; addrs: string[] }

/** Scores and known peers are saved this often when they changed (they may lag a crash by as much). */
const STANDINGS_SAVE_MS = 10_000;
/** At most this many peers known from the store are dialled at start. */
const KNOWN_PEERS_DIALLED = 16;

export class NetworkService {
  readonly peerTable: PeerTable;
  private node?: NetworkNode;
  private readonly inspector = createEnvelopeInspector();
  private readonly dropped: Partial<Record<NetworkDropReason, number>> = {};
  /** Announces a sync brought that failed inspection (counted apart: sync is not gossip). */
  private readonly syncDropped: Partial<Record<NetworkDropReason, number>> = {};
  private received = 0;
  /** Gossip the simulator's shaped links lost before it reached this node (memory transport only). */
  private simLost = 0;
  private accepted = 0;
  private duplicates = 0;
  private published = 0;
  private readonly timers: Timer[] = [];
  private stopped = false;
  private readonly stopping = new AbortController();
  private readonly startedAt: number;
  private heartbeatSeq = 0;
  private heartbeatTimer?: Timer;
  /** Set by the orchestrator's adjust_gossip (1 = the configured interval). */
  private heartbeatFactor = 1;
  private ownAnnounce?: { ts: number; bytes: Uint8Array; seq: number };
  /** Per peer: its change number at our last sync with it. */
  private readonly syncedUpTo = new Map<string, number>();
  private syncDelay = SYNC_MIN_MS;
  /** The next anti-entropy sync (a timeout, not in `timers`: its delay adapts). */
  private antiEntropy?: Timer;
  /** Ids of envelopes first received by sync, so their gossip copies are not counted as drops. */
  private readonly syncedIds = new Set<string>();
  /** Peer ids learned from bootstrap addresses, allowed in when auto_accept_peers is false. */
  private readonly trusted = new Set<string>();
  /** This node's own light clients (the OpenAI gateway's): trusted, and not counted as peers. */
  private readonly localClients = new Set<string>();
  /** Peers with a liveness ping in flight (one at a time each). */
  private readonly pinging = new Set<string>();
  /** The consensus actor's latest summary for our heartbeats, and when it came. */
  private orchSummary?: { summary: OrchSummary; at: number };

  readonly executor: JobExecutor;
  readonly receipts: ReceiptBook;
  readonly gate: PeerGate;
  readonly reputation = new Reputation();
  readonly modelServer: ModelServer;
  readonly puller: ModelPuller;
  /** False while the store's writes fail (a full disk): the node then claims no job. */
  private storeWritable = true;
  private savedChanges = 0;
  private readonly connectionRate = new RateLimiter(CONNECTION_RATE);
  private readonly signerRate = new RateLimiter(SIGNER_RATE);

  constructor(private readonly init: NetworkServiceInit) {
    this.peerTable = new PeerTable(init.config.distributed_orchestration.heartbeat_timeout_secs * 1000);
    this.receipts = new ReceiptBook(undefined, () => this.peerTable.nextChange());
    this.startedAt = init.clock.now();
    const peerId = peerIdFromPrivateKey(init.privateKey).toString();
    // From the key, not libp2p: the block list is restored before libp2p starts.
    this.gate = new PeerGate(() => peerId);
    const share = init.config.models;
    this.modelServer = new ModelServer({
      share: share.share, maxBytesPerSec: share.share_max_mib_per_sec * 2 ** 20, chunksPerPeerPerSec: share.share_chunks_per_peer_per_sec,
    }, init.clock, init.log);
    this.modelServer.setFiles(init.files);
    this.puller = new ModelPuller({
      clock: init.clock, log: init.log,
      dial: (peer, signal) => this.dialModel(peer, signal),
      sources: (sha256) => this.modelSources(sha256),
      blame: (peer, offence) => this.reputation.penalise(peer, offence, this.init.clock.now()),
    });
    this.executor = new JobExecutor({
      peerId, privateKey: init.privateKey, models: init.models, clock: init.clock, log: init.log,
      publish: (topic, type, body) => this.publish(topic, type, body as MessageBody<typeof type>),
      publishSealed: (topic, env) => {
        if (env.type === 'receipt') this.receipts.accept(env as Envelope<'receipt'>);
        return this.publishSealed(topic, env);
      },
      canClaim: (model, maxTokens) => this.storeWritable ? init.canClaim(model, maxTokens)
        : Promise.resolve({ ok: false, reason: 'the store cannot be written (see the log): no receipt could be kept' }),
      submit: init.submit, queue: init.queue, cancel: init.cancel,
      storeReceipt: (receipt) => init.store.putReceipt(receipt),
    });
  }

  get peerId(): string { return this.libp2p.peerId.toString(); }

  private get libp2p(): NetworkNode {
    if (!this.node) throw new Error('network is not started');
    return this.node;
  }

  async start(): Promise<void> {
    const { config, transport } = this.init;
    const port = config.node.listen_port;
    const listenOn = (p: number) => transport === 'memory'
      ? [`/memory/${this.init.nodeId}-${Math.random().toString(36).slice(2, 10)}`]
      : [`/ip4/${config.node.listen_host}/tcp/${p}`];
    for (const a of config.network.bootstrap_peers) {
      const id = multiaddr(a).getComponents().find((c) => c.name === 'p2p')?.value;
      if (id) this.trusted.add(id);
    }
    const skipped = this.gate.restore(await this.init.store.blocked());
    if (skipped.length > 0) this.init.log.warn({ entries: skipped }, 'Block list entries in the store that are not peer ids: ignored');
    this.reputation.restore(await this.init.store.standings());
    this.savedChanges = this.reputation.changes;
    const build = (p: number) => buildLibp2p({
      privateKey: this.init.privateKey,
      transport,
      listen: listenOn(p),
      maxPeers: config.network.max_peers,
      mdns: config.network.mdns_enabled && transport === 'tcp',
      acceptOnly: config.network.auto_accept_peers ? undefined : () => this.trusted,
      blocked: (peer) => this.gate.has(peer),
      appScore: (peer) => gossipScore(this.reputation.score(peer, this.init.clock.now())),
      ...(this.init.swarmKey ? { swarmKey: this.init.swarmKey, onSwarmKeyMismatch: (addr: string) => this.swarmKeyMismatch(addr) } : {}),
    });
    // With --port 0, a restarted network actor takes back the port it had (peers and clients
    // hold that address); if someone else took it meanwhile, any free port.
    const cell = this.init.portCell;
    const previous = port === 0 && transport === 'tcp' && cell ? Atomics.load(cell, 0) : 0;
    try {
      this.node = previous ? await build(previous).catch(() => build(0)) : await build(port);
    } catch (err) {
      const msg = (err as Error).message ?? String(err);
      if (/EADDRINUSE|address already in use/i.test(msg) || (err as { code?: string }).code === 'EADDRINUSE') throw new BindError(port, 'address already in use');
      if (/EACCES|EADDRNOTAVAIL|listen/i.test(msg)) throw new BindError(port, msg);
      throw err;
    }
    const node = this.node;
    const bound = node.getMultiaddrs().map((a) => a.getComponents().find((c) => c.name === 'tcp')?.value).find(Boolean);
    if (port === 0 && bound && cell) Atomics.store(cell, 0, Number(bound));
    const pubsub = node.services.pubsub;
    pubsub.addEventListener('gossipsub:message', (e) => {
      const { msg, msgId, propagationSource } = e.detail;
      void this.onGossip(msg.topic, msg.data, propagationSource.toString(), msgId);
    });
    // Manifests spread by sync: both ends of a new connection exchange what the other lacks,
    // and each node keeps syncing with one random neighbour (anti-entropy, see SYNC_MIN_MS), so a
    // newcomer's announce reaches everyone in O(log N) rounds without a network-wide publish.
    await node.handle(SYNC_PROTOCOL, (stream) => this.answerSync(stream), { runOnLimitedConnection: false });
    await node.handle(MODEL_PROTOCOL, (stream, connection) => this.modelServer.handle(stream, connection.remotePeer.toString()),
      { runOnLimitedConnection: false, maxInboundStreams: MAX_MODEL_STREAMS });
    await node.handle(JOB_PROTOCOL, (stream, connection) => this.executor.handleStream(stream, connection), { runOnLimitedConnection: false, maxInboundStreams: MAX_JOB_STREAMS });
    node.addEventListener('peer:identify', (e) => {
      if (!e.detail.protocols.includes(SYNC_PROTOCOL)) return;
      void this.requestSync(e.detail.peerId.toString());
    });
    node.addEventListener('peer:discovery', (e) => {
      // libp2p 3 does not dial what mDNS finds; we do, within max_peers.
      if (!config.network.auto_accept_peers && !this.trusted.has(e.detail.id.toString())) return;
      if (node.getConnections(e.detail.id).length > 0 || node.getConnections().length >= config.network.max_peers) return;
      this.init.log.info({ peer: e.detail.id.toString(), addrs: e.detail.multiaddrs.map(String) }, 'Peer discovered');
      node.dial(e.detail.id).catch((err: Error) => this.init.log.debug({ peer: e.detail.id.toString(), err: err.message }, 'mDNS dial failed'));
    });
    node.addEventListener('peer:connect', (e) => this.init.log.info({ peer: e.detail.toString() }, 'Peer connected'));
    node.addEventListener('peer:disconnect', (e) => this.init.log.info({ peer: e.detail.toString() }, 'Peer disconnected'));
    for (const t of Object.values(TOPICS)) pubsub.subscribe(t);
    for (const a of node.getMultiaddrs()) this.init.log.info({ addr: a.toString() }, `Listening on ${a.toString()}`);
    for (const a of config.network.bootstrap_peers) void this.dialBootstrap(a);
    void this.dialKnownPeers();
    this.every(STANDINGS_SAVE_MS, () => { this.saveStandings(); this.saveKnownPeers(); });
    this.every(config.network.announce_interval_secs * 1000, () => this.announce());
    this.heartbeatTimer = this.every(this.heartbeatMs(), () => this.heartbeat());
    this.every(1000, () => this.maintain());
    this.every(livenessTickMs(this.peerTable.timeoutMs), () => this.liveness());
    this.every(1000, () => this.reputation.sweep(this.init.clock.now()));
    this.scheduleAntiEntropy();
    void this.announce().catch((err: Error) => this.init.log.warn({ err: err.message }, 'First announce failed'));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping.abort();
    this.puller.cancelAll();
    for (const t of this.timers.splice(0)) this.init.clock.clearInterval(t);
    if (this.antiEntropy) this.init.clock.clearTimeout(this.antiEntropy);
    await this.node?.stop();
  }

  /** Handshakes that failed right after the swarm key exchange; when the last warning was logged. */
  private keyMismatches = 0;
  private keyMismatchLoggedAt = -Infinity;

  private swarmKeyMismatch(remoteAddr: string): void {
    this.keyMismatches++;
    const now = this.init.clock.now();
    // At most one line per 10 s: a scanner without the key must not flood the log.
    if (now - this.keyMismatchLoggedAt < 10_000) return;
    this.keyMismatchLoggedAt = now;
    this.init.log.warn({ remote: remoteAddr, suspected_key_mismatches: this.keyMismatches },
      'Handshake failed right after the swarm key exchange: suspected swarm key mismatch (the other end has another network.swarm_key, or none)');
  }

  status(): NetworkStatus {
    const node = this.libp2p;
    const suspects = this.reputation.suspects(this.init.clock.now());
    return {
      peer_id: this.peerId,
      node_id: this.init.nodeId,
      listen: node.getMultiaddrs().map(String),
      peers: new Set(node.getConnections().map((c) => c.remotePeer.toString()).filter((p) => !this.localClients.has(p))).size,
      known: this.peerTable.size,
      heartbeat_ms: this.heartbeatMs(),
      received: this.received,
      accepted: this.accepted,
      duplicates: this.duplicates,
      published: this.published,
      dropped: { ...this.dropped },
      sync_dropped: { ...this.syncDropped },
      model_transfer: { ...this.modelServer.counters, files: this.modelServer.shared.files, files_ready: this.modelServer.shared.ready },
      ...(this.init.transport === 'memory' ? { sim_lost: this.simLost } : {}),
      draining: this.executor.isDraining,
      swarm: { private: this.init.swarmKey !== undefined, suspected_key_mismatches: this.keyMismatches },
      reputation: {
        claims_refused_below: CLAIMS_REFUSED_BELOW,
        claims_refused: suspects.filter((p) => p.score < CLAIMS_REFUSED_BELOW).length,
        suspects: suspects.slice(0, 100),
        offences: { ...this.reputation.offences },
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
    this.trusted.add(peerId);
  }

  /** Median round trip of the connections that measured one (libp2p's connection monitor). */
  private rtt(): { rtt_ms?: number } {
    const rtts = this.libp2p.getConnections().filter((c) => !this.localClients.has(c.remotePeer.toString())).map((c) => c.rtt).filter((r): r is number => typeof r === 'number' && Number.isFinite(r)).sort((a, b) => a - b);
    return rtts.length > 0 ? { rtt_ms: rtts[Math.floor(rtts.length / 2)]! } : {};
  }

  // --- orchestration plumbing: the consensus actor's messages in and out ---------

  /** What our heartbeats say about orchestration; a summary older than the heartbeat timeout is dropped. */
  setOrchSummary(summary: OrchSummary): void { this.orchSummary = { summary, at: this.init.clock.now() }; }

  /** Gossip one orchestration message on TOPICS.orch. */
  publishOrch(type: OrchMessageType, body: unknown): Promise<Envelope> {
    return this.publish(TOPICS.orch, type, body as MessageBody<OrchMessageType>);
  }

  /**
   * A restarted node knows peers from its store (those it was connected to, with the addresses
   * it reached them at): it dials them, so it rejoins without a bootstrap node. Auto-accept
   * rules and blocks apply as to any dial.
   */
  private async dialKnownPeers(): Promise<void> {
    if (!this.init.store.keepsPeers) return;
    const node = this.libp2p;
    const known = (await this.init.store.knownPeers().catch((err: Error) => {
      this.init.log.warn({ err: err.message }, 'Known peers not read from the store');
      return [];
    })).filter((p) => p.peer_id !== this.peerId && !this.gate.has(p.peer_id) && p.addrs.length > 0).slice(0, KNOWN_PEERS_DIALLED);
    if (known.length === 0) return;
    this.init.log.info({ peers: known.length }, 'Dialling peers known from the store');
    for (const p of known) {
      if (this.stopped) return;
      let addrs: Multiaddr[];
      try { addrs = p.addrs.map((a) => multiaddr(a.includes('/p2p/') ? a : `${a}/p2p/${p.peer_id}`)); } catch { continue; }
      if (node.getConnections(peerIdFromString(p.peer_id)).length > 0) continue;
      node.dial(addrs, { signal: AbortSignal.timeout(10_000) })
        .catch((err: Error) => this.init.log.debug({ peer: p.peer_id, err: err.message }, 'Known peer not reachable'));
    }
  }

  /** The peers connected now (light clients aside), where we reached them, for the next start. */
  private lastKnown = '';
  private saveKnownPeers(): void {
    if (!this.init.store.keepsPeers) return;
    const byPeer = new Map<string, Set<string>>();
    for (const c of this.libp2p.getConnections()) {
      const id = c.remotePeer.toString();
      if (this.localClients.has(id)) continue;
      // An inbound connection's address is the peer's ephemeral port: only its manifest says where it listens.
      const addrs = byPeer.get(id) ?? new Set<string>();
      for (const a of this.libp2p.getConnections(c.remotePeer).filter((x) => x.direction === 'outbound')) addrs.add(a.remoteAddr.toString());
      for (const a of this.peerTable.get(id)?.manifest?.addrs ?? []) addrs.add(a);
      byPeer.set(id, addrs);
    }
    const peers = [...byPeer].filter(([, a]) => a.size > 0).slice(0, 64).map(([peer_id, a]) => ({ peer_id, addrs: [...a].slice(0, 8) }));
    const text = JSON.stringify(peers);
    if (peers.length === 0 || text === this.lastKnown) return;
    this.init.store.saveKnownPeers(peers).then(
      () => { this.lastKnown = text; },
      (err: Error) => this.init.log.debug({ err: err.message }, 'Known peers not saved'));
  }

  private saveStandings(): void {
    const changes = this.reputation.changes;
    if (changes === this.savedChanges) return;
    this.init.store.saveStandings(this.reputation.standings()).then(
      () => { this.savedChanges = changes; },
      (err: Error) => this.init.log.debug({ err: err.message }, 'Reputation scores not saved'));
  }

  /** The store actor's word on whether writes work (a full disk: no claims until they do). */
  setStoreWritable(writable: boolean): void { this.storeWritable = writable; }

  /** Blocks a peer (gate.ts), keeps the block in the store, and closes its open connections; throws InvalidPeerError. */
  async block(peer: string): Promise<BlockedPeer & { closed: number }> {
    const b = this.gate.block(peer, this.init.clock.now());
    await this.init.store.saveBlock(b);
    const open = this.libp2p.getConnections(peerIdFromString(b.peer_id));
    for (const c of open) c.abort(new Error('peer blocked by the operator'));
    this.init.log.warn({ peer: b.peer_id, closed: open.length }, 'Peer blocked');
    return { ...b, closed: open.length };
  }

  /** Lifts a block (in the store too), and dials the peer again where libp2p knows its addresses; false when it was not blocked. */
  async unblock(peer: string): Promise<boolean> {
    if (!this.gate.unblock(peer)) return false;
    await this.init.store.dropBlock(peer);
    this.init.log.info({ peer }, 'Peer unblocked');
    this.libp2p.dial(peerIdFromString(peer), { signal: AbortSignal.timeout(10_000) })
      .catch((err: Error) => this.init.log.debug({ peer, err: err.message }, 'Dial after unblock failed'));
    return true;
  }

  peers(): PeerSummary[] {
    const node = this.libp2p;
    const now = this.init.clock.now();
    const connected = new Set(node.getConnections().map((c) => c.remotePeer.toString()));
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

  async publish<T extends MessageType>(topic: string, type: T, body: MessageBody<T>): Promise<Envelope<T>> {
    const env = await sealEnvelope(this.init.privateKey, this.peerId, type, body, { now: this.init.clock.now() });
    await this.libp2p.services.pubsub.publish(topic, encodeEnvelope(env));
    this.published++;
    return env;
  }

  async publishSealed(topic: string, env: Envelope): Promise<void> {
    await this.libp2p.services.pubsub.publish(topic, encodeEnvelope(env));
    this.published++;
  }

  // --- internals -------------------------------------------------------------------------

  private every(ms: number, fn: () => unknown): Timer {
    const timer = this.init.clock.setInterval(() => { if (!this.stopped) void Promise.resolve().then(fn).catch((err) => this.init.log.warn({ err }, 'periodic network task failed')); }, ms);
    this.timers.push(timer);
    return timer;
  }

  /** Heartbeat interval: a third of the heartbeat timeout (at least 500 ms), times the orchestrator's factor. */
  private heartbeatMs(): number {
    return Math.max(500, Math.round((this.init.config.distributed_orchestration.heartbeat_timeout_secs * 1000 * this.heartbeatFactor) / 3));
  }

  /**
   * The orchestrator's adjust_gossip: heartbeat every `factor` times the default interval
   * (< 1 = faster). The factor is absolute (a second call replaces the first), and bounded to
   * [0.25, 2] so that peers always hear a heartbeat within their timeout.
   */
  adjustGossip(factor: number): { heartbeat_ms: number; previous_ms: number; factor: number } {
    if (!Number.isFinite(factor) || factor < 0.25 || factor > 2) throw new RangeError(`heartbeat factor ${factor} is outside [0.25, 2]`);
    const previous = this.heartbeatMs();
    this.heartbeatFactor = factor;
    if (this.heartbeatTimer && !this.stopped) {
      this.init.clock.clearInterval(this.heartbeatTimer);
      this.timers.splice(this.timers.indexOf(this.heartbeatTimer), 1);
      this.heartbeatTimer = this.every(this.heartbeatMs(), () => this.heartbeat());
    }
    this.init.log.info({ factor, heartbeat_ms: this.heartbeatMs(), previous_ms: previous }, 'Gossip heartbeat interval adjusted');
    return { heartbeat_ms: this.heartbeatMs(), previous_ms: previous, factor };
  }

  /**
   * The models this node serves changed (loaded or unloaded at runtime): claims follow the new
   * list at once, and the new manifest is announced now rather than at the next interval.
   */
  async setModels(models: readonly ModelManifest[], files: readonly SharedFile[]): Promise<void> {
    // In place: the job executor holds the same array.
    this.init.models.splice(0, this.init.models.length, ...models);
    this.modelServer.setFiles(files);
    this.init.log.info({ models: models.map((m) => m.name) }, 'Served models changed; announcing');
    // Kept for manifest sync even when the publish fails (no peer yet): peers still learn it.
    await this.announce().catch((err: Error) => this.init.log.warn({ err: err.message }, 'Announce of the new models failed'));
  }

  /** A chunk stream to a peer; one known only by its manifest (no connection yet) is dialled at the addresses it announced. */
  private async dialModel(peer: string, signal: AbortSignal) {
    const node = this.libp2p;
    const id = peerIdFromString(peer);
    if (node.getConnections(id).length === 0) {
      const addrs = (this.peerTable.get(peer)?.manifest?.addrs ?? []).map((a) => multiaddr(a.includes('/p2p/') ? a : `${a}/p2p/${peer}`));
      if (addrs.length > 0) await node.dial(addrs, { signal });
    }
    return node.dialProtocol(id, MODEL_PROTOCOL, { signal });
  }

  /** Peers whose manifest lists a model file with this sha256, a Merkle root and a size (blocked peers excluded). */
  modelSources(sha256: string): ModelSource[] {
    return this.peerTable.entries().filter((e) => e.peerId !== this.peerId && !this.gate.has(e.peerId)).flatMap((e) => (e.manifest?.models ?? [])
      .filter((m) => m.sha256 === sha256 && m.merkle_root !== undefined && m.size !== undefined)
      .map((m) => ({ peer: e.peerId, root: m.merkle_root!, size: m.size!, name: m.name })));
  }

  /** This node's manifest as its next announce will carry it (queue figures asked afresh). */
  async manifest(): Promise<Manifest> {
    const { config, nodeId } = this.init;
    const q = await this.init.queue().catch(() => undefined);
    const cores = Math.max(1, os.availableParallelism());
    return {
      node_id: nodeId,
      peer_id: this.peerId,
      versions: [...SUPPORTED_VERSIONS],
      addrs: this.libp2p.getMultiaddrs().slice(0, 32).map(String),
      models: this.init.models,
      capacity: { max_queue: q?.capacity ?? config.executor.max_queue_size, slots: q?.slots ?? 0 },
      load: {
        queue_depth: q?.depth ?? 0,
        busy_slots: q?.busy_slots ?? 0,
        cpu: Math.min(1024, os.loadavg()[0]! / cores),
        mem_free_mb: Math.round(os.freemem() / 2 ** 20),
      },
      policies: { auto_accept_peers: config.network.auto_accept_peers, max_peers: config.network.max_peers },
      mode: config.distributed_orchestration.mode,
      started_at: this.startedAt,
    };
  }

  private async announce(): Promise<void> {
    if (this.stopped || !this.node) return;
    // Kept for manifest sync before it is gossiped: a publish that fails (no peer yet, a busy
    // node) must not leave this node unknown until the next periodic announce.
    const env = await sealEnvelope(this.init.privateKey, this.peerId, 'announce', await this.manifest(), { now: this.init.clock.now() });
    this.ownAnnounce = { ts: env.ts, bytes: encodeEnvelope(env), seq: this.peerTable.nextChange() };
    await this.publishSealed(TOPICS.announce, env);
  }

  private async heartbeat(): Promise<void> {
    const q = await this.init.queue().catch(() => undefined);
    // A stale summary means the consensus actor is gone: say nothing rather than something old.
    const o = this.orchSummary;
    const orch = o && this.init.clock.now() - o.at <= this.peerTable.timeoutMs ? { orch: o.summary } : {};
    const body = { seq: ++this.heartbeatSeq, ...(q ? { load: q.depth } : {}) };
    try {
      await this.publish(TOPICS.announce, 'heartbeat', { ...body, ...orch });
    } catch (err) {
      // A summary the schema refuses must not silence the heartbeat itself (liveness rides on it).
      if ((err as Error).name !== 'EnvelopeSealError' || !('orch' in orch)) throw err;
      this.init.log.warn({ err: (err as Error).message }, 'Orchestration summary refused; heartbeat sent without it');
      await this.publish(TOPICS.announce, 'heartbeat', body);
    }
  }

  /**
   * Every gossip message, before gossipsub forwards it (asyncValidation): the connection's
   * standing and rate first (no parsing), then the inspector. Only what passes is forwarded, so a
   * hostile peer's traffic stops at the first honest node.
   */
  private async onGossip(topic: string, data: Uint8Array, source: string, msgId: string): Promise<void> {
    let verdict: Verdict = 'dropped';
    // The simulator's shaped links (memory-gate.ts): never arrives, or arrives late.
    const fate = this.init.transport === 'memory' ? memoryGate.fate() : 0;
    if (fate === 'lost') this.simLost++;
    else {
      if (fate > 0) await this.sleep(fate);
      this.received++;
      const now = this.init.clock.now();
      const local = this.localClients.has(source);
      if (!local && this.reputation.ignores(source, now)) this.count('low_reputation');
      else if (!local && !this.connectionRate.take(source, now)) {
        this.count('rate_limited');
        this.reputation.penalise(source, 'flood', now);
      } else verdict = await this.accept(data, topic, source);
      if (verdict === 'accepted') this.accepted++;
    }
    if (this.stopped) return;
    // The implementation has it; gossipsub's published interface leaves it out.
    const pubsub = this.libp2p.services.pubsub as unknown as { reportMessageValidationResult(id: string, from: string, r: TopicValidatorResult): void };
    pubsub.reportMessageValidationResult(msgId, source, verdict === 'dropped' ? TopicValidatorResult.Ignore : TopicValidatorResult.Accept);
  }

  /**
   * One path for every envelope from outside, gossiped or synced: inspect, then apply.
   * A synced copy of an announce already seen by gossip is a replay by design, so sync does not
   * count its drops as gossip drops. `source`: the connection a gossip message came by, blamed
   * for what the inspector refuses (its signer may be forged).
   */
  private async accept(data: Uint8Array, via: string, source?: string): Promise<Verdict> {
    // A synced announce is as old as its sender's last announce: fresh enough while the
    // sender would still be in a peer table (heard within the heartbeat timeout).
    const maxAgeMs = via === 'sync' ? this.peerTable.timeoutMs : via === 'sync:receipt' ? SYNCED_RECEIPT_MAX_AGE_MS : undefined;
    const r = await this.inspector.open(data, { now: this.init.clock.now(), ...(maxAgeMs ? { maxAgeMs } : {}) });
    const synced = via === 'sync' || via === 'sync:receipt';
    if (!r.ok) {
      // The gossip copy of an announce that reached us first by sync is expected, not hostile.
      const expected = synced || (r.reason === 'replay' && this.syncedIds.has(envelopeId(data) ?? ''));
      if (synced && r.reason !== 'replay') this.syncDropped[r.reason] = (this.syncDropped[r.reason] ?? 0) + 1;
      const offence = OFFENCE_OF[r.reason];
      if (!expected) this.count(r.reason);
      if (!expected && source && offence) this.reputation.penalise(source, offence, this.init.clock.now());
      this.init.log.debug({ via, source, reason: r.reason, detail: r.detail }, 'Message dropped');
      if (!expected || synced) return 'dropped';
      this.duplicates++;
      return 'duplicate';
    }
    const env = r.envelope;
    const now = this.init.clock.now();
    if (synced) {
      if (this.syncedIds.size >= 10_000) this.syncedIds.clear();
      this.syncedIds.add(env.id);
    }
    if (env.from === this.peerId) return 'accepted';
    if (this.gate.has(env.from)) { if (!synced) this.count('blocked'); return 'dropped'; }
    // One signer's own rate, whoever relayed it: checked once the signature proved who it is.
    if (!synced && !this.localClients.has(env.from) && !this.signerRate.take(env.from, now)) {
      this.count('rate_limited');
      this.reputation.penalise(env.from, 'flood', now);
      return 'dropped';
    }
    if (env.type === 'announce') {
      const m = env.body as Manifest;
      if (m.peer_id !== env.from) {
        if (via !== 'sync') { this.count('wrong_from'); this.reputation.penalise(env.from, 'garbage', now); }
        return 'dropped';
      }
      const isNew = !this.peerTable.get(env.from)?.manifest;
      // Sync proves the peer was alive when it announced, not now.
      const seenAt = via === 'sync' ? Math.min(now, env.ts) : now;
      this.peerTable.announce(env.from, m, negotiateVersion([...SUPPORTED_VERSIONS], m.versions), seenAt, { ts: env.ts, bytes: data });
      if (isNew) this.init.log.info({ peer: env.from, peer_node_id: m.node_id, via }, 'Peer announced');
    } else if (via === 'sync:receipt') {
      // Proof of what its executor did, not that it is alive now.
      if (env.type !== 'receipt') { this.syncDropped.unknown_type = (this.syncDropped.unknown_type ?? 0) + 1; return 'dropped'; }
      const refused = this.receipts.accept(env as Envelope<'receipt'>);
      if (refused) { this.syncDropped[refused] = (this.syncDropped[refused] ?? 0) + 1; return 'dropped'; }
    } else {
      if (!this.localClients.has(env.from)) this.peerTable.heard(env.from, now);
      if (via !== 'sync' && env.type === 'heartbeat') this.init.onHeartbeat?.(env.from, env.body as HeartbeatBody);
      if (via !== 'sync') return this.onJobMessage(env, now) ? 'accepted' : 'dropped';
    }
    return 'accepted';
  }

  /** Returns false when the message is refused after inspection (counted by reason). */
  private onJobMessage(env: Envelope, now: number): boolean {
    switch (env.type) {
      case 'work_offer':
        this.receipts.offer((env as Envelope<'work_offer'>).body.job_id, env.from);
        void this.executor.onOffer(env as Envelope<'work_offer'>).catch((err: Error) => this.init.log.warn({ err: err.message }, 'Handling an offer failed'));
        return true;
      case 'job_assign': {
        // The client's job stream is what hands a job over; the assignment tells every node
        // whose receipt will count for the job.
        const a = (env as Envelope<'job_assign'>).body;
        // Watched for its receipt until the job's time is up (the executor's own limit, then a
        // lease); a job given to this node is not (its receipt never comes back by gossip).
        const due = a.executor === this.peerId ? Infinity : now + this.init.config.executor.job_timeout_secs * 1000 + a.lease_ms;
        if (this.receipts.assign(env.from, a.job_id, a.executor, a.attempt)) this.reputation.assigned(a.job_id, a.executor, a.attempt, due, now);
        return true;
      }
      case 'job_claim':
        // A peer that took jobs and never ran them (or worse) is not offered to clients again.
        if (!this.reputation.refusesClaims(env.from, now)) return true;
        this.count('low_reputation');
        return false;
      case 'receipt': {
        const jobId = (env as Envelope<'receipt'>).body.job_id;
        const refused = this.receipts.accept(env as Envelope<'receipt'>);
        if (!refused) {
          this.reputation.delivered(jobId, env.from, now);
          return true;
        }
        this.count(refused);
        // A late receipt for a job it was given (and then lost to a failover) is no forgery.
        if (!this.reputation.wasAssigned(jobId, env.from)) this.reputation.penalise(env.from, 'bad_receipt', now);
        this.init.log.debug({ job_id: jobId, from: env.from, reason: refused }, 'Receipt refused');
        return false;
      }
      default:
        if (isOrchMessageType(env.type)) this.init.onOrch?.(env.from, env.type, env.body);
        return true;
    }
  }

  /**
   * Answer a sync request with the announces stored since its change number (ours included),
   * and the receipts when asked.
   */
  private async answerSync(stream: import('@libp2p/interface').Stream): Promise<void> {
    try {
      const { since, receipts } = parseRequest(await readJson(stream, 64 * 1024));
      const text = new TextDecoder();
      const changed: Array<{ seq: number; announce?: string; receipt?: string }> = this.peerTable.announcesSince(since).map((a) => ({ seq: a.seq, announce: text.decode(a.bytes) }));
      const mine = this.ownAnnounce;
      if (mine && mine.seq > since) changed.push({ seq: mine.seq, announce: text.decode(mine.bytes) });
      if (receipts) for (const r of this.receipts.since(since)) changed.push({ seq: r.seq, receipt: text.decode(encodeEnvelope(r.receipt)) });
      changed.sort((a, b) => a.seq - b.seq);
      // Capped: the requester continues from the last change it got, at its next sync.
      const sent = changed.slice(0, SYNC_MAX_ENTRIES);
      const seq = sent.length < changed.length ? sent.at(-1)!.seq : this.peerTable.changeNumber;
      await writeJson(stream, {
        seq, announces: sent.flatMap((c) => c.announce ?? []),
        ...(receipts ? { receipts: sent.flatMap((c) => c.receipt ?? []) } : {}),
      });
    } catch (err) {
      this.init.log.debug({ err: (err as Error).message }, 'Sync request refused');
      stream.abort(err as Error);
    }
  }

  private scheduleAntiEntropy(): void {
    if (this.stopped) return;
    this.antiEntropy = this.init.clock.setTimeout(() => {
      const peers = [...new Set(this.libp2p.getConnections().map((c) => c.remotePeer.toString()))];
      const sync = peers.length > 0 ? this.requestSync(peers[Math.floor(Math.random() * peers.length)]!) : Promise.resolve(0);
      void sync.then((learned) => {
        this.syncDelay = learned > 0 ? Math.max(SYNC_MIN_MS, this.syncDelay / 2) : Math.min(SYNC_MAX_MS, this.syncDelay * 2);
        this.scheduleAntiEntropy();
      });
    }, this.syncDelay * (0.5 + Math.random()));
  }

  /** Ask a peer for the announces and receipts it stored since our last sync with it; resolves to how many were new. */
  private async requestSync(peerId: string): Promise<number> {
    if (this.stopped) return 0;
    try {
      const stream = await this.libp2p.dialProtocol(peerIdFromString(peerId), SYNC_PROTOCOL, { signal: AbortSignal.timeout(10_000) });
      await writeJson(stream, { since: this.syncedUpTo.get(peerId) ?? 0, receipts: true });
      const { seq, announces, receipts } = parseResponse(await readJson(stream));
      let learned = 0;
      for (const text of announces) {
        // Skip what we hold already without the cost of a signature check; the rest is inspected.
        const head = peekAnnounce(text);
        if (head && (head.from === this.peerId || this.peerTable.hasAnnounce(head.from, head.ts))) continue;
        if (await this.accept(new TextEncoder().encode(text), 'sync') === 'accepted') learned++;
      }
      for (const text of receipts) {
        const before = this.receipts.size;
        if (await this.accept(new TextEncoder().encode(text), 'sync:receipt') === 'accepted' && this.receipts.size > before) learned++;
      }
      this.syncedUpTo.set(peerId, seq);
      this.init.log.debug({ peer: peerId, received: announces.length, learned }, 'Manifest sync');
      return learned;
    } catch (err) {
      if (!this.stopped) this.init.log.debug({ peer: peerId, err: (err as Error).message }, 'Manifest sync failed');
      return 0;
    }
  }

  private count(reason: NetworkDropReason): void { this.dropped[reason] = (this.dropped[reason] ?? 0) + 1; }

  /**
   * Peer liveness: alive → suspect (silent past half the heartbeat timeout) → expired (past the
   * timeout), back to alive on any message. An open connection proves nothing (a killed or cut-off
   * peer's TCP connection can linger long after it went silent), so a connected peer quiet past a
   * third of the timeout, when its heartbeat was due, is pinged: its pong counts as hearing it.
   */
  private liveness(): void {
    const now = this.init.clock.now();
    const { suspected, recovered, expired } = this.peerTable.sweep(now);
    const about = (e: PeerEntry) => ({ peer: e.peerId, peer_node_id: e.manifest?.node_id, silent_ms: now - e.lastSeen });
    for (const e of suspected) this.init.log.info(about(e), 'Peer suspected: not heard for half the heartbeat timeout');
    for (const e of recovered) this.init.log.info(about(e), 'Peer alive again: heard after it was suspected');
    for (const e of expired) {
      this.syncedUpTo.delete(e.peerId);
      this.init.log.info(about(e), 'Peer expired: not heard within heartbeat timeout');
    }
    const connected = new Set(this.libp2p.getConnections().map((c) => c.remotePeer.toString()));
    const quietMs = this.peerTable.timeoutMs / 3;
    for (const e of this.peerTable.entries()) {
      if (now - e.lastSeen > quietMs && connected.has(e.peerId) && !this.pinging.has(e.peerId)) this.ping(e.peerId, now);
    }
  }

  /** A liveness ping, given up after a third of the heartbeat timeout; a pong means the peer was alive when pinged. */
  private ping(peerId: string, sentAt: number): void {
    this.pinging.add(peerId);
    this.libp2p.services.ping.ping(peerIdFromString(peerId), { signal: AbortSignal.timeout(this.peerTable.timeoutMs / 3) })
      .then(() => { if (this.peerTable.get(peerId)) this.peerTable.heard(peerId, sentAt); })
      .catch((err: Error) => { if (!this.stopped) this.init.log.debug({ peer: peerId, err: err.message }, 'Liveness ping failed'); })
      .finally(() => this.pinging.delete(peerId));
  }

  private maintain(): void {
    // Keep a few connections beyond the bootstrap node: dial peers learned from announces.
    const node = this.libp2p;
    const connected = new Set(node.getConnections().map((c) => c.remotePeer.toString()));
    const want = Math.min(6, this.init.config.network.max_peers);
    if (connected.size >= want) return;
    const candidates = this.peerTable.entries().filter((e) => !connected.has(e.peerId) && (e.manifest?.addrs.length ?? 0) > 0
      && (this.init.config.network.auto_accept_peers || this.trusted.has(e.peerId)));
    for (const e of candidates.sort(() => Math.random() - 0.5).slice(0, want - connected.size)) {
      const addrs = e.manifest!.addrs.map((a) => multiaddr(a.includes('/p2p/') ? a : `${a}/p2p/${e.peerId}`));
      node.dial(addrs).catch(() => undefined);
    }
  }

  private async dialBootstrap(addr: string): Promise<void> {
    let ma: Multiaddr;
    try { ma = multiaddr(addr); } catch (err) {
      this.init.log.error({ addr }, `Failed to dial bootstrap peer ${addr}: invalid multiaddr (${(err as Error).message})`);
      return;
    }
    const maxMs = this.init.config.network.bootstrap_retry_max_secs * 1000;
    let backoff = 1000;
    while (!this.stopped) {
      const id = ma.getComponents().find((c) => c.name === 'p2p')?.value;
      const connected = id ? this.libp2p.getConnections(peerIdFromString(id)).length > 0 : false;
      if (!connected) {
        try {
          const conn = await this.libp2p.dial(ma, { signal: AbortSignal.timeout(10_000) });
          this.trusted.add(conn.remotePeer.toString());
          this.init.log.info({ addr, peer: conn.remotePeer.toString() }, 'Connected to bootstrap peer');
          backoff = 1000;
          // Watch the connection; re-dial when it goes.
          ma = ma.getComponents().some((c) => c.name === 'p2p') ? ma : ma.encapsulate(`/p2p/${conn.remotePeer.toString()}`);
        } catch (err) {
          if (this.stopped) return;
          this.init.log.warn({ addr, retry_in_ms: backoff }, `Failed to dial bootstrap peer ${addr}: ${(err as Error).message}`);
          await this.sleep(backoff);
          backoff = Math.min(maxMs, backoff * 2);
          continue;
        }
      }
      await this.sleep(Math.min(maxMs, 5000));
    }
  }

  /** Sleeps on the injected clock; cut short when the service stops. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const signal = this.stopping.signal;
      const done = () => { this.init.clock.clearTimeout(t); signal.removeEventListener('abort', done); resolve(); };
      const t = this.init.clock.setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}

