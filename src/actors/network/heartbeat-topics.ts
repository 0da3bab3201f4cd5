// Where this node's heartbeats go, and which heartbeat topics it hears.
// Protocol 2.0 scopes heartbeats to each context group's council (topics.ts, heartbeatTopic). The
// consensus actor says how, from the records it holds (OrchestrationCore.heartbeatScope), with
// every summary it sends. Until it has spoken, and once its word is older than the heartbeat
// timeout (the actor is gone, or orchestration is off), the node heartbeats on the swarm's council
// topic and hears every heartbeat, as a node still looking for the swarm's record does.
// A node on the swarm's council heartbeats there alone: every node hears that topic, so one
// message reaches all the groups it is in. Off it, the node heartbeats on the council topic of
// each group whose council it is on and on the members topic of the others. gossipsub hands a
// message only to subscribers it is connected to, and a group's members topic has one steady
// subscriber, its holder: the node keeps a connection to each holder it heartbeats to.
// Protocol 1.0 heartbeats on the announce topic, to every node, as it always did.
import { multiaddr } from '@multiformats/multiaddr';
import { peerIdFromString } from '@libp2p/peer-id';
import type { Clock } from '../../runtime/clock.ts';
import type { Logger } from '../../runtime/log.ts';
import { SWARM_GROUP as SWARM, TOPICS, heartbeatTopic, type HeartbeatScope } from '../../protocol/index.ts';
import type { PeerTable } from './peer-table.ts';
import type { NetworkTransport } from './transport.ts';
import { Timers, type Startable } from './lifecycle.ts';

/** How long a dial to a holder may take. */
const HOLDER_DIAL_MS = 5000;
/**
 * A holder is dialled again at most this often: past max_peers its connection manager prunes
 * connections, and a node re-dialling at every heartbeat would only churn them.
 */
const HOLDER_REDIAL_MS = 30_000;

export interface HeartbeatTopicsDeps {
  scope: 'scoped' | 'broadcast';
  clock: Clock;
  log: Logger;
  transport: NetworkTransport;
  peerTable: PeerTable;
}

export class HeartbeatTopics implements Startable {
  private readonly timers: Timers;
  private latest?: { scope: HeartbeatScope; at: number };
  private readonly subscribed = new Set<string>();
  private speaks: string[] = [];
  private holders: string[] = [];
  /** When each holder was last dialled. */
  private readonly dialled = new Map<string, number>();

  constructor(private readonly deps: HeartbeatTopicsDeps) {
    this.timers = new Timers(deps.clock, deps.log);
  }

  get scoped(): boolean { return this.deps.scope === 'scoped'; }

  start(): void { this.apply(); }
  stop(): void { this.timers.stop(); }

  /** The consensus actor's word on the scope (with each summary it sends). */
  setScope(scope: HeartbeatScope): void {
    this.latest = { scope, at: this.deps.clock.now() };
    this.apply();
  }

  /** The topics this node's next heartbeat goes to (the scope re-read: a stale one is dropped), and a connection to each holder among them asked for. */
  targets(): string[] {
    this.apply();
    for (const h of this.holders) this.connect(h);
    return this.speaks;
  }

  /** The heartbeat topics heard, and those spoken on. */
  topics(): { hears: string[]; speaks: string[] } {
    return { hears: this.scoped ? [...this.subscribed].sort() : [TOPICS.announce], speaks: [...this.speaks] };
  }

  private current(): HeartbeatScope {
    const l = this.latest;
    if (l && this.deps.clock.now() - l.at <= this.deps.peerTable.timeoutMs) return l.scope;
    return { groups: [SWARM], council: [SWARM], hearAll: [SWARM], holders: [] };
  }

  /** Subscriptions and targets brought in line with the scope. */
  private apply(): void {
    if (!this.scoped) { this.speaks = [TOPICS.announce]; return; }
    if (this.timers.stopped || !this.deps.transport.started) return;
    const s = this.current();
    this.deps.peerTable.setHears(s.hears ? new Set(s.hears) : undefined);
    const hears = new Set([...s.groups.map((g) => heartbeatTopic(g, 'council')), ...s.hearAll.map((g) => heartbeatTopic(g, 'members'))]);
    const pubsub = this.deps.transport.libp2p.services.pubsub;
    let changed = false;
    for (const t of [...this.subscribed]) if (!hears.has(t)) { pubsub.unsubscribe(t); this.subscribed.delete(t); changed = true; }
    for (const t of hears) if (!this.subscribed.has(t)) { pubsub.subscribe(t); this.subscribed.add(t); changed = true; }
    const onSwarmCouncil = s.council.includes(SWARM);
    const speaks = onSwarmCouncil ? [heartbeatTopic(SWARM, 'council')]
      : s.groups.map((g) => heartbeatTopic(g, s.council.includes(g) ? 'council' : 'members'));
    this.holders = onSwarmCouncil ? [] : s.holders.filter((h) => h !== this.deps.transport.peerId);
    if (changed || speaks.join() !== this.speaks.join()) {
      this.deps.log.info({ hears: [...hears].sort(), speaks }, 'Heartbeat topics changed');
    }
    this.speaks = speaks;
  }

  /** A connection to a holder this node heartbeats to, dialled at the addresses it announced if there is none. */
  private connect(holder: string): void {
    const node = this.deps.transport.libp2p;
    let id;
    try { id = peerIdFromString(holder); } catch { return; }
    const now = this.deps.clock.now();
    if (node.getConnections(id).length > 0 || now - (this.dialled.get(holder) ?? -Infinity) < HOLDER_REDIAL_MS) return;
    if (this.dialled.size >= 64) this.dialled.clear();
    this.dialled.set(holder, now);
    const addrs = (this.deps.peerTable.get(holder)?.manifest?.addrs ?? []).flatMap((a) => {
      try { return [multiaddr(a.includes('/p2p/') ? a : `${a}/p2p/${holder}`)]; } catch { return []; }
    });
    node.dial(addrs.length > 0 ? addrs : id, { signal: AbortSignal.timeout(HOLDER_DIAL_MS) })
      .catch((err: Error) => { if (!this.timers.stopped) this.deps.log.debug({ holder, err: err.message }, 'Could not reach the holder this node heartbeats to'); });
  }
}
