// Where this node's heartbeats go, and which heartbeat topics it hears.
// Protocol 2.0 scopes heartbeats to each context group's council (topics.ts, heartbeatTopic). The
// consensus actor says how, from the records it holds (OrchestrationCore.heartbeatScope), with
// every summary it sends. Until it has spoken, and once its word is older than the heartbeat
// timeout (the actor is gone, or orchestration is off), the node heartbeats on the swarm's council
// topic and hears every heartbeat, as a node still looking for the swarm's record does.
// A node on the swarm's council heartbeats there alone: every node hears that topic, so one
// message reaches all the groups it is in. Off it, the node heartbeats on the council topic of
// each group whose council it is on and on the members topic of the others. A group's members
// topic has one steady subscriber, its holder, and gossipsub hands a message only to
// subscribers it is connected to: the holder hears the members it is connected to, which is
// what it fills the council's vacancies from. Dialling it from every member would need a
// connection per member at the holder: past max_peers once the swarm outgrows it.
// Protocol 1.0 heartbeats on the announce topic, to every node, as it always did.
import type { Clock } from '../../runtime/clock.ts';
import type { Logger } from '../../runtime/log.ts';
import { SWARM_GROUP as SWARM, TOPICS, heartbeatTopic, type HeartbeatScope } from '../../protocol/index.ts';
import type { PeerTable } from './peer-table.ts';
import type { NetworkTransport } from './transport.ts';
import { Timers, type Startable } from './lifecycle.ts';

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

  /** The topics this node's next heartbeat goes to (the scope re-read: a stale one is dropped). */
  targets(): string[] {
    this.apply();
    return this.speaks;
  }

  /** The heartbeat topics heard, and those spoken on. */
  topics(): { hears: string[]; speaks: string[] } {
    return { hears: this.scoped ? [...this.subscribed].sort() : [TOPICS.announce], speaks: [...this.speaks] };
  }

  private current(): HeartbeatScope {
    const l = this.latest;
    if (l && this.deps.clock.now() - l.at <= this.deps.peerTable.timeoutMs) return l.scope;
    return { groups: [SWARM], council: [SWARM], hearAll: [SWARM] };
  }

  /** Subscriptions and targets brought in line with the scope. */
  private apply(): void {
    if (!this.scoped) { this.speaks = [TOPICS.announce]; return; }
    if (this.timers.stopped || !this.deps.transport.started) return;
    const s = this.current();
    this.deps.peerTable.setHears(s.hears ? new Set(s.hears) : undefined, this.deps.clock.now());
    const hears = new Set([...s.groups.map((g) => heartbeatTopic(g, 'council')), ...s.hearAll.map((g) => heartbeatTopic(g, 'members'))]);
    const pubsub = this.deps.transport.libp2p.services.pubsub;
    let changed = false;
    for (const t of [...this.subscribed]) if (!hears.has(t)) { pubsub.unsubscribe(t); this.subscribed.delete(t); changed = true; }
    for (const t of hears) if (!this.subscribed.has(t)) { pubsub.subscribe(t); this.subscribed.add(t); changed = true; }
    const onSwarmCouncil = s.council.includes(SWARM);
    const speaks = onSwarmCouncil ? [heartbeatTopic(SWARM, 'council')]
      : s.groups.map((g) => heartbeatTopic(g, s.council.includes(g) ? 'council' : 'members'));
    if (changed || speaks.join() !== this.speaks.join()) {
      this.deps.log.info({ hears: [...hears].sort(), speaks }, 'Heartbeat topics changed');
    }
    this.speaks = speaks;
  }
}
