// Gossip in and out, and its accounting. Every envelope from outside, gossiped or synced, takes
// one path: the connection's standing and rate (before parsing), the inspector, the signer's
// rate, then the part that applies it (announces to the peer table; heartbeats and orchestration
// to the consensus actor; offers, claims, assignments and receipts to the job marketplace).
// Each gossip message ends counted once: accepted, a duplicate or dropped for one reason; what
// sync brought and was refused is counted apart. Only what passes is forwarded (gossipsub's
// asyncValidation), so a hostile peer's traffic stops at the first honest node.
import type { PrivateKey } from '@libp2p/interface';
import { TopicValidatorResult } from '@libp2p/gossipsub';
import type { Clock } from '../../runtime/clock.ts';
import type { Logger } from '../../runtime/log.ts';
import {
  createEnvelopeInspector, negotiateVersion, sealEnvelope, encodeEnvelope, PROTOCOL_VERSION, TOPICS, WORK_TOPIC, isOrchMessageType, parseOfferTopic,
  type DropReason, type Envelope, type HeartbeatBody, type Manifest, type MessageBody, type MessageType, type OrchMessageType,
} from '../../protocol/index.ts';
import { CLAIMS_REFUSED_BELOW, CONNECTION_RATE, SIGNER_RATE, RateLimiter, type Offence, type Reputation } from '../../market/reputation.ts';
import type { ReceiptRefusal } from '../../market/receipts.ts';
import { memoryGate } from './memory-gate.ts';
import type { PeerTable } from './peer-table.ts';
import type { NetworkTransport } from './transport.ts';
import type { Transport } from './libp2p.ts';
import type { NetworkDropReason } from './messages.ts';
import { Timers, type Startable } from './lifecycle.ts';

/** Receipts received by sync may be this old (a partition's worth); fresher ones pass the gossip skew. */
const SYNCED_RECEIPT_MAX_AGE_MS = 24 * 3600_000;

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
export const gossipScore = (score: number) => score < CLAIMS_REFUSED_BELOW ? Math.max(GOSSIP_SCORE_FLOOR, score) : 0;

/** What became of a message from outside. */
export type Verdict = 'accepted' | 'duplicate' | 'dropped';

/** Where an envelope came from: a gossip topic, or manifest sync (announces, receipts). */
export type Via = string | 'sync' | 'sync:receipt';

function envelopeId(data: Uint8Array): string | undefined {
  try { return (JSON.parse(new TextDecoder().decode(data)) as { id?: string }).id; } catch { return undefined; }
}

/** The job marketplace's side of gossip (src/market/market.ts). */
export interface GossipMarket {
  /** An offer, claim, assignment or receipt, inspected, and the topic it came on; a refusal names its drop reason. */
  onMessage(env: Envelope, now: number, topic?: string): ReceiptRefusal | 'low_reputation' | undefined;
  /** A receipt manifest sync brought; a refusal names why. */
  acceptSynced(env: Envelope<'receipt'>): ReceiptRefusal | undefined;
}

export interface GossipDeps {
  privateKey: PrivateKey;
  transport: Transport;
  clock: Clock;
  log: Logger;
  net: NetworkTransport;
  peerTable: PeerTable;
  reputation: Reputation;
  market: GossipMarket;
  blocked(peer: string): boolean;
  isLocalClient(peer: string): boolean;
  /** The one protocol version this node stamps and reads (versionOfScope); default PROTOCOL_VERSION. */
  version?: string;
  onHeartbeat?(from: string, body: HeartbeatBody): void;
  onOrch?(from: string, type: OrchMessageType, body: unknown): void;
}

export class Gossip implements Startable {
  private readonly inspector: ReturnType<typeof createEnvelopeInspector>;
  private readonly timers: Timers;
  /** The protocol version this node stamps and reads. */
  readonly version: string;
  /** Gossip messages handed to this node, by topic (offer topics by model and shard). */
  readonly deliveries: Record<string, number> = {};
  /** Peers already warned about for speaking another protocol version (one log line each). */
  private readonly versionWarned = new Set<string>();
  readonly dropped: Partial<Record<NetworkDropReason, number>> = {};
  /** Announces a sync brought that failed inspection (counted apart: sync is not gossip). */
  readonly syncDropped: Partial<Record<NetworkDropReason, number>> = {};
  received = 0;
  /** Gossip the simulator's shaped links lost before it reached this node (memory transport only). */
  simLost = 0;
  accepted = 0;
  duplicates = 0;
  published = 0;
  /** Ids of envelopes first received by sync, so their gossip copies are not counted as drops. */
  private readonly syncedIds = new Set<string>();
  private readonly connectionRate = new RateLimiter(CONNECTION_RATE);
  private readonly signerRate = new RateLimiter(SIGNER_RATE);

  constructor(private readonly deps: GossipDeps) {
    this.timers = new Timers(deps.clock, deps.log);
    this.version = deps.version ?? PROTOCOL_VERSION;
    this.inspector = createEnvelopeInspector({ supportedVersions: [this.version] });
  }

  start(): void {
    const pubsub = this.deps.net.libp2p.services.pubsub;
    pubsub.addEventListener('gossipsub:message', (e) => {
      const { msg, msgId, propagationSource } = e.detail;
      void this.onGossip(msg.topic, msg.data, propagationSource.toString(), msgId);
    });
    // Receipts are not gossiped (they are put in the swarm's DHT): no receipt topic. The work topic
    // (protocol 1.0's broadcast offers) is offer-topics.ts's to subscribe, or not.
    for (const t of Object.values(TOPICS)) if (t !== TOPICS.receipt && t !== WORK_TOPIC) pubsub.subscribe(t);
  }

  stop(): void { this.timers.stop(); }

  count(reason: NetworkDropReason): void { this.dropped[reason] = (this.dropped[reason] ?? 0) + 1; }

  async publish<T extends MessageType>(topic: string, type: T, body: MessageBody<T>): Promise<Envelope<T>> {
    const env = await sealEnvelope(this.deps.privateKey, this.deps.net.peerId, type, body, { now: this.deps.clock.now(), v: this.version });
    await this.deps.net.libp2p.services.pubsub.publish(topic, encodeEnvelope(env));
    this.published++;
    return env;
  }

  async publishSealed(topic: string, env: Envelope): Promise<void> {
    await this.deps.net.libp2p.services.pubsub.publish(topic, encodeEnvelope(env));
    this.published++;
  }

  /**
   * Every gossip message, before gossipsub forwards it (asyncValidation): the connection's
   * standing and rate first (no parsing), then the inspector.
   */
  private async onGossip(topic: string, data: Uint8Array, source: string, msgId: string): Promise<void> {
    const { reputation } = this.deps;
    this.deliveries[topic] = (this.deliveries[topic] ?? 0) + 1;
    let verdict: Verdict = 'dropped';
    // The simulator's shaped links (memory-gate.ts): never arrives, or arrives late.
    const fate = this.deps.transport === 'memory' ? memoryGate.fate() : 0;
    if (fate === 'lost') this.simLost++;
    else {
      if (fate > 0) await this.timers.sleep(fate);
      this.received++;
      const now = this.deps.clock.now();
      const local = this.deps.isLocalClient(source);
      if (!local && reputation.ignores(source, now)) this.count('low_reputation');
      else if (!local && !this.connectionRate.take(source, now)) {
        this.count('rate_limited');
        reputation.penalise(source, 'flood', now);
      } else verdict = await this.accept(data, topic, source);
      if (verdict === 'accepted') this.accepted++;
    }
    if (this.timers.stopped) return;
    // The implementation has it; gossipsub's published interface leaves it out.
    const pubsub = this.deps.net.libp2p.services.pubsub as unknown as { reportMessageValidationResult(id: string, from: string, r: TopicValidatorResult): void };
    pubsub.reportMessageValidationResult(msgId, source, verdict === 'dropped' ? TopicValidatorResult.Ignore : TopicValidatorResult.Accept);
  }

  /**
   * One path for every envelope from outside, gossiped or synced: inspect, then apply.
   * A synced copy of an announce already seen by gossip is a replay by design, so sync does not
   * count its drops as gossip drops. `source`: the connection a gossip message came by, blamed
   * for what the inspector refuses (its signer may be forged).
   */
  async accept(data: Uint8Array, via: Via, source?: string): Promise<Verdict> {
    const { peerTable, reputation, log } = this.deps;
    // A synced announce is as old as its sender's last announce: fresh enough while the
    // sender would still be in a peer table (heard within the heartbeat timeout).
    const maxAgeMs = via === 'sync' ? peerTable.timeoutMs : via === 'sync:receipt' ? SYNCED_RECEIPT_MAX_AGE_MS : undefined;
    const r = await this.inspector.open(data, { now: this.deps.clock.now(), ...(maxAgeMs ? { maxAgeMs } : {}) });
    const synced = via === 'sync' || via === 'sync:receipt';
    if (!r.ok) {
      // The gossip copy of an announce that reached us first by sync is expected, not hostile.
      const expected = synced || (r.reason === 'replay' && this.syncedIds.has(envelopeId(data) ?? ''));
      if (synced && r.reason !== 'replay') this.syncDropped[r.reason] = (this.syncDropped[r.reason] ?? 0) + 1;
      const offence = OFFENCE_OF[r.reason];
      if (!expected) this.count(r.reason);
      if (r.reason === 'unknown_version') this.warnVersion(data, source);
      if (!expected && source && offence) reputation.penalise(source, offence, this.deps.clock.now());
      log.debug({ via, source, reason: r.reason, detail: r.detail }, 'Message dropped');
      if (!expected || synced) return 'dropped';
      this.duplicates++;
      return 'duplicate';
    }
    const env = r.envelope;
    const now = this.deps.clock.now();
    if (synced) {
      if (this.syncedIds.size >= 10_000) this.syncedIds.clear();
      this.syncedIds.add(env.id);
    }
    if (env.from === this.deps.net.peerId) return 'accepted';
    if (this.deps.blocked(env.from)) { if (!synced) this.count('blocked'); return 'dropped'; }
    // One signer's own rate, whoever relayed it: checked once the signature proved who it is.
    if (!synced && !this.deps.isLocalClient(env.from) && !this.signerRate.take(env.from, now)) {
      this.count('rate_limited');
      reputation.penalise(env.from, 'flood', now);
      return 'dropped';
    }
    if (env.type === 'announce') {
      const m = env.body as Manifest;
      if (m.peer_id !== env.from) {
        if (via !== 'sync') { this.count('wrong_from'); reputation.penalise(env.from, 'garbage', now); }
        return 'dropped';
      }
      const isNew = !peerTable.get(env.from)?.manifest;
      // Sync proves the peer was alive when it announced, not now.
      const seenAt = via === 'sync' ? Math.min(now, env.ts) : now;
      peerTable.announce(env.from, m, negotiateVersion([this.version], m.versions), seenAt, { ts: env.ts, bytes: data });
      if (isNew) log.info({ peer: env.from, peer_node_id: m.node_id, via }, 'Peer announced');
    } else if (via === 'sync:receipt') {
      // Proof of what its executor did, not that it is alive now.
      if (env.type !== 'receipt') { this.syncDropped.unknown_type = (this.syncDropped.unknown_type ?? 0) + 1; return 'dropped'; }
      const refused = this.deps.market.acceptSynced(env as Envelope<'receipt'>);
      if (refused) { this.syncDropped[refused] = (this.syncDropped[refused] ?? 0) + 1; return 'dropped'; }
    } else {
      if (!this.deps.isLocalClient(env.from)) peerTable.heard(env.from, now);
      if (via !== 'sync' && env.type === 'heartbeat') this.deps.onHeartbeat?.(env.from, env.body as HeartbeatBody);
      if (via !== 'sync') return this.apply(env, now, via) ? 'accepted' : 'dropped';
    }
    return 'accepted';
  }

  /**
   * A message stamped with a version this node does not read: a node of the other offer scope
   * (protocol 1.0 broadcasts offers, 2.0 scopes them), or a newer one. Counted as
   * unknown_version; said once per signer, naming both versions.
   */
  private warnVersion(data: Uint8Array, source?: string): void {
    let v: unknown, from: unknown;
    try { ({ v, from } = JSON.parse(new TextDecoder().decode(data)) as { v?: unknown; from?: unknown }); } catch { return; }
    const who = typeof from === 'string' ? from : source ?? 'unknown';
    if (this.versionWarned.has(who) || this.versionWarned.size >= 1024) return;
    this.versionWarned.add(who);
    this.deps.log.warn({ peer: who, peer_version: String(v).slice(0, 16), version: this.version },
      `Peer speaks protocol ${String(v).slice(0, 16)}, this node ${this.version}: their messages are refused (unknown_version). ` +
      'Protocol 1.0 broadcasts job offers to every node and 2.0 scopes them to the model\'s holders (network.offer_scope); run one kind in a swarm.');
  }

  /** Returns false when the message is refused after inspection (counted by reason). */
  private apply(env: Envelope, now: number, topic: string): boolean {
    if (isOrchMessageType(env.type)) { this.deps.onOrch?.(env.from, env.type, env.body); return true; }
    const refused = this.deps.market.onMessage(env, now, topic === WORK_TOPIC || parseOfferTopic(topic) ? topic : undefined);
    if (refused) { this.count(refused); return false; }
    return true;
  }
}
