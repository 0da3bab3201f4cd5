// What this node says of itself: its signed manifest (announced at start, every
// announce_interval_secs and when its models change; kept for manifest sync even when the
// publish fails) and its heartbeats (load, and the consensus actor's summary while it is fresh),
// at a third of the heartbeat timeout times the orchestrator's adjust_gossip factor, on the
// topics heartbeat-topics.ts picks.
import os from 'node:os';
import type { PrivateKey } from '@libp2p/interface';
import type { Clock, Timer } from '../../runtime/clock.ts';
import type { Logger } from '../../runtime/log.ts';
import type { Config } from '../../config/types.ts';
import { sealEnvelope, encodeEnvelope, TOPICS, type Manifest, type ModelManifest, type OrchSummary } from '../../protocol/index.ts';
import type { PeerTable } from './peer-table.ts';
import type { NetworkTransport } from './transport.ts';
import type { Gossip } from './gossip.ts';
import type { QueueStatus } from '../scheduler/messages.ts';
import { Timers, type Startable } from './lifecycle.ts';

export interface AnnouncerDeps {
  config: Readonly<Config>;
  nodeId: string;
  privateKey: PrivateKey;
  /** The models served, changed in place by setModels (the job executor holds the same array). */
  models: ModelManifest[];
  clock: Clock;
  log: Logger;
  transport: NetworkTransport;
  peerTable: PeerTable;
  gossip: Gossip;
  queue(): Promise<QueueStatus | undefined>;
  /** The topics the next heartbeat goes to (heartbeat-topics.ts). */
  heartbeatTopics(): string[];
  /** The served models as the manifest carries them (each with its offer shard, offer-topics.ts). */
  decorate?(models: readonly ModelManifest[]): ModelManifest[];
}

export class Announcer implements Startable {
  private readonly timers: Timers;
  private readonly startedAt: number;
  private heartbeatSeq = 0;
  private heartbeatTimer?: Timer;
  /** Set by the orchestrator's adjust_gossip (1 = the configured interval). */
  private heartbeatFactor = 1;
  private own?: { ts: number; bytes: Uint8Array; seq: number };
  /** The consensus actor's latest summary for our heartbeats, and when it came. */
  private orchSummary?: { summary: OrchSummary; at: number };

  constructor(private readonly deps: AnnouncerDeps) {
    this.timers = new Timers(deps.clock, deps.log);
    this.startedAt = deps.clock.now();
  }

  start(): void {
    this.timers.every(this.deps.config.network.announce_interval_secs * 1000, () => this.announce());
    this.heartbeatTimer = this.timers.every(this.heartbeatMs(), () => this.heartbeat());
  }

  /** The first announce (once every part is started). */
  announceFirst(): void {
    void this.announce().catch((err: Error) => this.deps.log.warn({ err: err.message }, 'First announce failed'));
  }

  stop(): void { this.timers.stop(); }

  /** This node's latest announce, as manifest sync relays it. */
  ownAnnounce(): { ts: number; bytes: Uint8Array; seq: number } | undefined { return this.own; }

  /** What our heartbeats say about orchestration; a summary older than the heartbeat timeout is dropped. */
  setOrchSummary(summary: OrchSummary): void { this.orchSummary = { summary, at: this.deps.clock.now() }; }

  /** Heartbeat interval: a third of the heartbeat timeout (at least 500 ms), times the orchestrator's factor. */
  heartbeatMs(): number {
    return Math.max(500, Math.round((this.deps.config.distributed_orchestration.heartbeat_timeout_secs * 1000 * this.heartbeatFactor) / 3));
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
    if (this.heartbeatTimer && !this.timers.stopped) {
      this.timers.cancel(this.heartbeatTimer);
      this.heartbeatTimer = this.timers.every(this.heartbeatMs(), () => this.heartbeat());
    }
    this.deps.log.info({ factor, heartbeat_ms: this.heartbeatMs(), previous_ms: previous }, 'Gossip heartbeat interval adjusted');
    return { heartbeat_ms: this.heartbeatMs(), previous_ms: previous, factor };
  }

  /** This node's manifest as its next announce will carry it (queue figures asked afresh). */
  async manifest(): Promise<Manifest> {
    const { config, nodeId } = this.deps;
    const q = await this.deps.queue().catch(() => undefined);
    const cores = Math.max(1, os.availableParallelism());
    return {
      node_id: nodeId,
      peer_id: this.deps.transport.peerId,
      versions: [this.deps.gossip.version],
      addrs: this.deps.transport.libp2p.getMultiaddrs().slice(0, 32).map(String),
      models: this.deps.decorate ? this.deps.decorate(this.deps.models) : this.deps.models,
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

  async announce(): Promise<void> {
    if (this.timers.stopped || !this.deps.transport.started) return;
    // Kept for manifest sync before it is gossiped: a publish that fails (no peer yet, a busy
    // node) must not leave this node unknown until the next periodic announce.
    const env = await sealEnvelope(this.deps.privateKey, this.deps.transport.peerId, 'announce', await this.manifest(), { now: this.deps.clock.now(), v: this.deps.gossip.version });
    this.own = { ts: env.ts, bytes: encodeEnvelope(env), seq: this.deps.peerTable.nextChange() };
    await this.deps.gossip.publishSealed(TOPICS.announce, env);
  }

  private async heartbeat(): Promise<void> {
    const q = await this.deps.queue().catch(() => undefined);
    // A stale summary means the consensus actor is gone: say nothing rather than something old.
    const o = this.orchSummary;
    const orch = o && this.deps.clock.now() - o.at <= this.deps.peerTable.timeoutMs ? { orch: o.summary } : {};
    const body = { seq: ++this.heartbeatSeq, ...(q ? { load: q.depth } : {}) };
    // One envelope per topic: a node hearing two of them gets two copies, not a replay.
    for (const topic of this.deps.heartbeatTopics()) {
      try {
        await this.deps.gossip.publish(topic, 'heartbeat', { ...body, ...orch });
      } catch (err) {
        // A summary the schema refuses must not silence the heartbeat itself (liveness rides on it).
        if ((err as Error).name !== 'EnvelopeSealError' || !('orch' in orch)) throw err;
        this.deps.log.warn({ err: (err as Error).message }, 'Orchestration summary refused; heartbeat sent without it');
        await this.deps.gossip.publish(topic, 'heartbeat', body);
      }
    }
  }
}
