// Which offer topics this node hears (protocol 2.0, network.offer_scope = 'scoped'): for each
// model it serves, the topic of its shard of the model's context group (topics.ts) — one topic
// while the group has at most S holders (network.offer_shard_size, default 2·log₂N), then
// ⌈holders / S⌉ shards, a holder's shard by the hash of its peer id. It resubscribes when its
// models change (runtime load and unload) and when its view of the group moves the shard count,
// and says which shard it hears in its manifest (`offer_shard`, "shard/count") so that a client
// learns the shards from the manifests it syncs. A node that does not serve a model never
// subscribes to its topics, and gossipsub does not hand it their messages.
// With offer_scope = 'broadcast' (protocol 1.0) it hears the work topic instead, as before.
import type { Clock } from '../../runtime/clock.ts';
import type { Logger } from '../../runtime/log.ts';
import { WORK_TOPIC, defaultShardSize, offerTopic, shardCount, shardOf, type ModelManifest } from '../../protocol/index.ts';
import type { PeerTable } from './peer-table.ts';
import type { NetworkTransport } from './transport.ts';
import { Timers, type Startable } from './lifecycle.ts';

/** How often the shard assignment is looked at again (cheap: a pass over the peer table). */
const REFRESH_MS = 1000;

export interface OfferTopicsDeps {
  scope: 'scoped' | 'broadcast';
  /** Most holders per shard; 0: defaultShardSize(N). */
  shardSize: number;
  /** The models served, changed in place by setModels. */
  models: readonly ModelManifest[];
  clock: Clock;
  log: Logger;
  transport: NetworkTransport;
  peerTable: PeerTable;
  /** The shard assignment changed: announce the new manifest. */
  onChange(): void;
}

export class OfferTopics implements Startable {
  private readonly timers: Timers;
  /** Model sha256 → "shard/count" this node hears it on. */
  private readonly shards = new Map<string, string>();
  private readonly subscribed = new Set<string>();

  constructor(private readonly deps: OfferTopicsDeps) {
    this.timers = new Timers(deps.clock, deps.log);
  }

  get scoped(): boolean { return this.deps.scope === 'scoped'; }

  start(): void {
    if (!this.scoped) { this.subscribe(WORK_TOPIC); return; }
    this.refresh();
    this.timers.every(REFRESH_MS, () => { if (this.refresh()) this.deps.onChange(); });
  }

  stop(): void { this.timers.stop(); }

  /** The shard this node hears a model's offers on ("shard/count"), if it serves the model and scopes offers. */
  shardOf(sha256: string): string | undefined { return this.shards.get(sha256); }

  /** The topics subscribed to for offers now. */
  topics(): string[] { return [...this.subscribed]; }

  /** The models served as the manifest carries them: each with its offer shard. */
  decorate(models: readonly ModelManifest[]): ModelManifest[] {
    if (!this.scoped) return [...models];
    return models.map((m) => {
      const s = this.shards.get(m.sha256);
      return s ? { ...m, offer_shard: s } : m;
    });
  }

  /** The group's size and holders as this node sees them: N, and per model the holders alive. */
  private view(): { nodes: number; holders: Map<string, number> } {
    const now = this.deps.clock.now();
    const holders = new Map<string, number>();
    let nodes = 1;
    for (const e of this.deps.peerTable.entries()) {
      if (this.deps.peerTable.state(e, now) !== 'alive') continue;
      nodes++;
      for (const m of e.manifest?.models ?? []) holders.set(m.sha256, (holders.get(m.sha256) ?? 0) + 1);
    }
    return { nodes, holders };
  }

  /** Subscribes to the shard of each served model and leaves the rest; true when anything changed. */
  refresh(): boolean {
    if (!this.scoped || this.timers.stopped || !this.deps.transport.started) return false;
    const { nodes, holders } = this.view();
    const size = this.deps.shardSize > 0 ? this.deps.shardSize : defaultShardSize(nodes);
    const me = this.deps.transport.peerId;
    const want = new Map<string, string>();
    const topics = new Set<string>();
    for (const m of this.deps.models) {
      const count = shardCount(1 + (holders.get(m.sha256) ?? 0), size);
      const shard = shardOf(me, count);
      want.set(m.sha256, `${shard}/${count}`);
      topics.add(offerTopic(m.sha256, shard));
    }
    let changed = want.size !== this.shards.size || [...want].some(([k, v]) => this.shards.get(k) !== v);
    for (const t of [...this.subscribed]) if (!topics.has(t)) { this.unsubscribe(t); changed = true; }
    for (const t of topics) if (!this.subscribed.has(t)) { this.subscribe(t); changed = true; }
    if (changed) {
      this.shards.clear();
      for (const [k, v] of want) this.shards.set(k, v);
      this.deps.log.info({ shards: Object.fromEntries(want), nodes, shard_size: size }, 'Offer topics changed');
    }
    return changed;
  }

  private subscribe(t: string): void {
    this.deps.transport.libp2p.services.pubsub.subscribe(t);
    this.subscribed.add(t);
  }

  private unsubscribe(t: string): void {
    this.deps.transport.libp2p.services.pubsub.unsubscribe(t);
    this.subscribed.delete(t);
  }
}
