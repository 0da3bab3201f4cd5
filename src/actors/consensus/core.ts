// The orchestration core of one node: liveness from heartbeats, context
// groups, coordinator elections by epoch, consensus decisions, partition detection and heal.
// Sans-I/O: it is driven only by messages and the time passed in (onHeartbeat, onMessage, tick,
// propose), and what it wants sent comes out of drain(). The consensus actor (index.ts) feeds it
// from the network; a virtual-time simulator can feed the same core from an in-memory bus.
import type {
  CoordClaimBody, CoordRecordBody, CoordVoteBody, DecisionOutcomeBody, DecisionProposalBody, DecisionVoteBody,
  GroupSummary, HeartbeatScope, OrchMessageType, OrchSummary,
} from '../../protocol/index.ts';
import { MAX_ACCEPTED_REPORTED } from '../../protocol/index.ts';
import type { OrchestrationMode, RotationTrigger } from '../../config/types.ts';
import {
  adoptRecord, electionWon, emptyLedger, grant, hasMajority, judgeClaim, newLineage, nextEpoch,
  type Accepted, type Claim, type GroupLedger, type GroupRecord,
} from './election.ts';
import { DecisionBook, type ConsensusResult, type ProposalInput, type QuorumView } from './decisions.ts';
import { chooseGroups, COUNCIL_SIZE, isActive, SWARM } from './groups.ts';
import { LivenessTable, type Liveness, type Transition } from '../../liveness/table.ts';
import { PartitionWatch, type PartitionState, type PartitionStatus } from './partition.ts';
import { groupStatus, peerList, type GroupStatus, type NodeRef, type PeerListEntry } from './status.ts';

export type { GroupStatus, NodeRef, PeerListEntry } from './status.ts';

export type { PartitionState, PartitionStatus } from './partition.ts';

export interface CoreConfig {
  mode: OrchestrationMode;
  rotation_trigger: RotationTrigger;
  heartbeat_timeout_ms: number;
  min_nodes_per_group: number;
  max_groups_per_node: number;
  /** permanent mode: node_id or peer id of the coordinator. */
  coordinator?: string;
  consensus_timeout_ms: number;
  max_consensus_rounds: number;
  base_consensus_threshold: number;
  high_value_threshold: number;
  /** Actions a member agrees to when voting on infrastructure / context proposals. */
  allowed_actions?: readonly string[];
  /**
   * 'liveness' (default): voters back claims as described at `backs`. 'any': voters back every
   * claim — for tests and simulations showing that safety does not rest on the policy.
   */
  voter_policy?: 'liveness' | 'any';
  /** Most members of a group's electorate (default COUNCIL_SIZE); see `hearsIn`. */
  council_size?: number;
}

/** Timing derived from the heartbeat timeout T (see docs/DISTRIBUTED-ORCHESTRATION.md). */
export function timings(cfg: Pick<CoreConfig, 'heartbeat_timeout_ms' | 'consensus_timeout_ms'>) {
  const T = cfg.heartbeat_timeout_ms;
  return {
    /** A claim that has not won by then is abandoned (and retried later at a higher epoch). */
    electionTimeoutMs: Math.max(200, Math.min(cfg.consensus_timeout_ms, 1500, T / 2)),
    /** A node with no record waits this long to hear of one before founding its own lineage. */
    foundGraceMs: T / 2,
    /** After a failed claim: wait this long (plus up to as much again, at random) to retry. */
    retryMs: Math.max(100, Math.min(1000, T / 6)),
    /** The k-th best candidate for a dead coordinator's place waits k times this. */
    failoverStaggerMs: Math.max(50, Math.min(500, T / 10)),
    /** The holder re-elects itself to change the electorate at most this often. */
    reconfigureMs: T / 3,
    /** The holder repeats its record for lagging members at most this often. */
    republishMs: Math.max(250, Math.min(1000, T / 6)),
    /** emergent + periodic: a coordinator's term. */
    rotationPeriodMs: 20 * T,
  };
}

/** In emergent mode a challenger must beat the coordinator's affinity by more than this. */
export const ROTATION_MARGIN = 0.1;

export type { OrchMessageType } from '../../protocol/index.ts';
export interface Outgoing { type: OrchMessageType; body: unknown }

export type CoreEvent =
  | { kind: 'record'; group: string; lineage: string; epoch: number; holder: string; previous?: string; how: 'won' | 'founded' | 'adopted' }
  | { kind: 'election'; group: string; epoch: number; reason: ClaimReason; outcome: 'started' | 'won' | 'abandoned'; why?: string }
  | { kind: 'liveness'; peer: string; from: Liveness; to: Liveness; silent_ms: number }
  | { kind: 'partition'; state: PartitionState; previous: PartitionState }
  | { kind: 'converged'; after_heal_ms: number }
  | { kind: 'decided'; result: ConsensusResult };

export type ClaimReason = CoordClaimBody['reason'];

/** Everything a node persists so that a restart cannot make it vote twice in one epoch. */
export interface Durable { groups: Record<string, GroupLedger> }

interface PeerView { node_id: string; affinity: number; groups: Map<string, GroupSummary>; at: number }

interface Election {
  claim: Claim;
  reason: ClaimReason;
  ref: GroupRecord;
  grants: Map<string, Accepted[]>;
  refused: Map<string, string>;
  started: number;
}

interface GroupState {
  ledger: GroupLedger;
  joinedAt: number;
  /** When the held record was taken (a holder silent since then is as good as never heard). */
  recordSince: number;
  election?: Election;
  retryAt: number;
  lastReconfigureAt: number;
  republishAt: number;
  wantRepublish: boolean;
  failoverSince?: number;
}


export interface CoreOptions {
  self: NodeRef;
  config: CoreConfig;
  now: number;
  rng: () => number;
  durable?: Durable;
  /** Called, synchronously, whenever the durable state changes (before anything is sent). */
  persist?: (d: Durable) => void;
}

export class OrchestrationCore {
  readonly self: NodeRef;
  readonly cfg: CoreConfig;
  readonly t: ReturnType<typeof timings>;
  readonly decisions: DecisionBook;
  private readonly rng: () => number;
  private readonly persistFn?: (d: Durable) => void;
  private readonly life: LivenessTable;
  private readonly peers = new Map<string, PeerView>();
  private readonly groups = new Map<string, GroupState>();
  private myGroups: string[] = [SWARM];
  private affinity = 0.5;
  private out: Outgoing[] = [];
  private events: CoreEvent[] = [];
  private readonly partition: PartitionWatch;
  readonly counts = {
    elections_started: 0, elections_won: 0, elections_abandoned: 0, lineages_founded: 0,
    votes_granted: 0, votes_refused: 0, records_adopted: 0, records_published: 0,
  };

  constructor(opts: CoreOptions) {
    this.self = opts.self;
    this.cfg = opts.config;
    this.t = timings(opts.config);
    this.rng = opts.rng;
    this.persistFn = opts.persist;
    this.life = new LivenessTable(opts.config.heartbeat_timeout_ms);
    this.partition = new PartitionWatch(this.t.reconfigureMs);
    for (const [g, ledger] of Object.entries(opts.durable?.groups ?? {})) this.groups.set(g, this.freshGroup(opts.now, ledger));
    this.ensureGroup(SWARM, opts.now);
    this.decisions = new DecisionBook({
      self: this.self.peer_id,
      rounds: opts.config.max_consensus_rounds,
      roundMs: opts.config.consensus_timeout_ms,
      baseThreshold: opts.config.base_consensus_threshold,
      highValueThreshold: opts.config.high_value_threshold,
      rng: opts.rng,
      weight: (p) => 0.5 + 0.5 * (p === this.self.peer_id ? this.affinity : this.peers.get(p)?.affinity ?? 0.5),
    });
  }

  // --- inputs ------------------------------------------------------------------------------

  /** This node's own figures: its affinity (gossiped) and the models it serves (its groups). */
  setLocal(now: number, local: { affinity: number; models: readonly string[] }): void {
    this.affinity = Math.min(1, Math.max(0, Number.isFinite(local.affinity) ? local.affinity : 0.5));
    this.myGroups = chooseGroups(local.models, this.cfg.max_groups_per_node);
    this.memo.clear();
    for (const g of this.myGroups) this.ensureGroup(g, now);
  }

  /** A heartbeat from a peer; `summary` absent means it takes no part in orchestration. */
  onHeartbeat(from: string, now: number, summary: OrchSummary | undefined): void {
    if (from === this.self.peer_id) return;
    if (!summary) { this.forgetPeer(from, false); return; }
    if (!summary.groups.some((s) => this.hearsIn(s.group, from))) return;
    this.heard(from, now);
    const prev = this.peers.get(from);
    if (prev && prev.groups.size === summary.groups.length && summary.groups.every((g) => prev.groups.has(g.group))) {
      // The same groups (the usual case): updated in place, the members lists stand.
      for (const g of summary.groups) prev.groups.set(g.group, g);
      Object.assign(prev, { node_id: summary.node_id, affinity: summary.affinity, at: now });
    } else {
      this.memo.clear();
      this.peers.set(from, { node_id: summary.node_id, affinity: summary.affinity, groups: new Map(summary.groups.map((g) => [g.group, g])), at: now });
    }
    for (const s of summary.groups) {
      const gs = this.groups.get(s.group);
      if (!gs || !this.myGroups.includes(s.group)) continue;
      const held = gs.ledger.record;
      if (s.lineage !== undefined && s.holder !== undefined && (held?.lineage !== s.lineage || held.epoch !== s.epoch)) {
        this.adopt(s.group, { lineage: s.lineage, epoch: s.epoch, holder: s.holder }, now);
      }
      const rec = gs.ledger.record;
      if (rec?.holder === this.self.peer_id && rec.electorate
        && (s.lineage !== rec.lineage || s.epoch < rec.epoch || (s.epoch === rec.epoch && s.partial))) gs.wantRepublish = true;
    }
  }

  /** An orchestration message (already checked: signed by `from`, schema-valid). */
  onMessage(from: string, now: number, type: OrchMessageType, body: unknown): void {
    if (from === this.self.peer_id) return;
    if (this.peers.has(from)) this.heard(from, now);
    switch (type) {
      case 'coord_claim': return this.onClaim(from, body as CoordClaimBody, now);
      case 'coord_vote': return this.onVote(body as CoordVoteBody, now);
      case 'coord_record': return this.onRecord(body as CoordRecordBody, now);
      case 'decision_proposal': {
        const p = body as DecisionProposalBody;
        this.decisions.onProposal(from, p, this.myGroups.includes(p.group) && this.votesIn(p.group), (x) => this.agrees(x), this.publish);
        return;
      }
      case 'decision_vote': {
        const r = this.decisions.onVote(from, body as DecisionVoteBody, now, this.publish);
        if (r) this.events.push({ kind: 'decided', result: r });
        return;
      }
      case 'decision_outcome': return this.decisions.onOutcomes(from, (body as DecisionOutcomeBody).outcomes);
    }
  }

  /** Time passes: liveness, partition state, elections, decision rounds. Call every few hundred ms. */
  tick(now: number): void {
    for (const t of this.life.update(now)) this.onTransition(t, now);
    for (const [id, p] of this.peers) {
      if (this.life.get(id) === undefined && now - p.at > this.life.forgetMs) this.forgetPeer(id, false);
      // One no longer listened to is dropped at once while alive; a dead one stays dead until forgotten.
      else if (this.life.status(id) !== 'dead' && !this.keeps(id, p)) this.forgetPeer(id, true);
    }
    this.updatePartition(now);
    for (const g of this.myGroups) this.tickGroup(g, now);
    for (const r of this.decisions.tick(now, this.publish)) this.events.push({ kind: 'decided', result: r });
    this.checkConvergence(now);
  }

  /**
   * Runs for the group's next epoch now, whatever the policy (an operator's or a simulator's
   * push; the voters' policy still applies), proposing `electorate` (default: the live members)
   * for it. False when it cannot: no full record, or a claim already in flight.
   */
  claimNow(group: string, now: number, reason: ClaimReason = 'rotate', electorate?: readonly string[]): boolean {
    const gs = this.groups.get(group);
    const rec = gs?.ledger.record;
    if (!gs || !rec?.electorate || gs.election || !this.myGroups.includes(group)) return false;
    this.claim(group, gs, now, reason, electorate ?? this.members(group, 'live'));
    return gs.election !== undefined || gs.ledger.record?.epoch !== rec.epoch;
  }

  /** Starts a consensus decision; its result comes as a 'decided' event (at once for a minority side). */
  propose(now: number, input: ProposalInput): void {
    const r = this.decisions.propose(input, this.quorumView(input.group), now, this.publish);
    if (r) this.events.push({ kind: 'decided', result: r });
  }

  // --- outputs -----------------------------------------------------------------------------

  /** Messages to gossip and events that happened since the last drain. */
  drain(): { out: readonly Outgoing[]; events: readonly CoreEvent[] } {
    if (this.out.length === 0 && this.events.length === 0) return NOTHING;
    const r = { out: this.out, events: this.events };
    this.out = [];
    this.events = [];
    return r;
  }

  /** What this node's heartbeats carry. */
  summary(): OrchSummary {
    return {
      node_id: this.self.node_id.slice(0, 128),
      affinity: this.affinity,
      groups: this.myGroups.map((g): GroupSummary => {
        const rec = this.groups.get(g)?.ledger.record;
        return rec
          ? { group: g, lineage: rec.lineage, epoch: rec.epoch, holder: rec.holder, ...(rec.electorate ? {} : { partial: true }) }
          : { group: g, epoch: 0 };
      }),
    };
  }

  durable(): Durable {
    return { groups: Object.fromEntries([...this.groups].map(([g, s]) => [g, s.ledger])) };
  }

  /** Who counts for a group's quorum now (see QuorumView). */
  quorumView(group: string): QuorumView {
    const g = this.groups.has(group) && this.myGroups.includes(group) ? group : SWARM;
    const rec = this.groups.get(g)?.ledger.record;
    const live = this.members(g, 'live');
    const electorate = rec?.electorate ? [...rec.electorate] : live;
    // A member this node has not heard from (outside the council it listened to until the record
    // named it) counts as alive while the record is recent: the holder saw it alive to name it.
    const since = this.groups.get(g)?.recordSince ?? -Infinity;
    const vouched = (m: string) => this.life.get(m) === undefined && this.sinceStatus(since) === 'alive';
    const liveSet = new Set(live);
    const alive = new Set(this.members(g, 'alive'));
    for (const m of electorate) if (vouched(m)) { liveSet.add(m); alive.add(m); }
    const liveInElectorate = electorate.filter((m) => liveSet.has(m));
    return {
      electorate,
      live: liveInElectorate,
      health: electorate.length ? electorate.filter((m) => alive.has(m)).length / electorate.length : 1,
      minority: !hasMajority(electorate, new Set(liveInElectorate)),
    };
  }

  /** The decision group for a context: the model's group when active and joined, else the swarm. */
  decisionGroup(model?: string): string {
    if (model === undefined) return SWARM;
    const g = `model:${model}`;
    return this.myGroups.includes(g) && this.groupActive(g) ? g : SWARM;
  }

  coordinatorOf(group = SWARM): NodeRef | undefined {
    if (this.cfg.mode === 'fully_decentralized') return undefined;
    const rec = this.groups.get(group)?.ledger.record;
    return rec ? this.ref(rec.holder) : undefined;
  }


  // --- read-only views (the projections themselves are in status.ts) ----------------------

  groupStatus(group: string): GroupStatus { return groupStatus(this, group); }
  groupsStatus(): GroupStatus[] { return this.myGroups.map((g) => groupStatus(this, g)); }
  /** Live peers with what their heartbeats say (for status pages and the router). */
  peerList(): PeerListEntry[] { return peerList(this); }
  /** The groups this node is a member of. */
  get joinedGroups(): readonly string[] { return this.myGroups; }
  /** The claim this node has in flight for a group, if any. */
  electionOf(group: string): { epoch: number; reason: ClaimReason; grants: number; since: number } | undefined {
    const e = this.groups.get(group)?.election;
    return e ? { epoch: e.claim.epoch, reason: e.reason, grants: e.grants.size, since: e.started } : undefined;
  }
  /** The peers kept, with what their heartbeats said. */
  *peerViews(): IterableIterator<{ peer: string; node_id: string; affinity: number; groups: string[] }> {
    for (const [peer, v] of this.peers) yield { peer, node_id: v.node_id, affinity: v.affinity, groups: [...v.groups.keys()] };
  }
  partitionStatus(): PartitionStatus { return this.partition.snapshot(); }
  get selfAffinity(): number { return this.affinity; }


  liveness(peer: string): Liveness { return peer === this.self.peer_id ? 'alive' : this.life.status(peer); }
  /** Heard from once and silent past the heartbeat timeout since (unknown peers are not known dead). */
  knownDead(peer: string): boolean { return peer !== this.self.peer_id && this.life.get(peer)?.status === 'dead'; }

  // --- elections ---------------------------------------------------------------------------

  private tickGroup(g: string, now: number): void {
    const gs = this.ensureGroup(g, now);
    if (gs.election && now - gs.election.started > this.t.electionTimeoutMs) {
      const failover = gs.election.reason === 'failover';
      this.abandon(g, gs, now, 'timeout');
      // Candidates that timed out together would clash again after equal backoffs: rank them.
      if (failover) this.retryRanked(g, gs, now);
    }
    if (!this.groupActive(g)) return;
    const rec = gs.ledger.record;
    if (gs.wantRepublish && rec?.holder === this.self.peer_id && rec.electorate && now >= gs.republishAt) {
      gs.wantRepublish = false;
      gs.republishAt = now + this.t.republishMs;
      this.publishRecord(g, rec);
    }
    if (gs.election || now < gs.retryAt) return;
    this.considerClaim(g, gs, now);
  }

  private considerClaim(g: string, gs: GroupState, now: number): void {
    const rec = gs.ledger.record;
    const me = this.self.peer_id;
    const permanent = this.cfg.mode === 'permanent';
    if (!rec) {
      if (permanent ? this.isConfigured(me) : now - gs.joinedAt >= this.t.foundGraceMs && this.rank(g, [], now) === 0) this.found(g, gs, now);
      return;
    }
    if (!rec.electorate) return; // partial: the holder will say it again
    const live = this.members(g, 'live');
    if (rec.holder === me) {
      if (!sameSet(this.council(g, live), rec.electorate) && now - gs.lastReconfigureAt >= this.t.reconfigureMs) this.claim(g, gs, now, 'reconfigure', live);
      return;
    }
    if (permanent && !this.isConfigured(me)) return;
    if (!rec.electorate.includes(me)) return; // only the council runs: the others do not know all candidates
    if (this.holderLiveness(g, gs) === 'dead') {
      const r = permanent ? 0 : this.rank(g, [rec.holder], now);
      if (r < 0) return;
      gs.failoverSince ??= now;
      if (now - gs.failoverSince >= r * this.t.failoverStaggerMs) this.claim(g, gs, now, 'failover', live.filter((m) => m !== rec.holder));
      return;
    }
    gs.failoverSince = undefined;
    if (permanent) { this.claim(g, gs, now, 'rotate', live); return; } // the configured node takes over from a stale holder
    if (this.cfg.mode !== 'emergent') return;
    const trigger = this.cfg.rotation_trigger;
    // Adaptive rotation compares affinities: only once the holder's own is known (heard from it).
    if (trigger === 'adaptive' && this.peers.has(rec.holder) && this.rank(g, [], now) === 0 && this.affinity > this.affinityOf(rec.holder) + ROTATION_MARGIN) {
      this.claim(g, gs, now, 'rotate', live);
    } else if (trigger === 'periodic' && now - gs.recordSince >= this.t.rotationPeriodMs && this.rank(g, [rec.holder], now) === 0) {
      this.claim(g, gs, now, 'periodic', live);
    }
  }

  private found(g: string, gs: GroupState, now: number): void {
    const rec: GroupRecord = { lineage: newLineage(now, this.self.peer_id), epoch: 1, holder: this.self.peer_id, electorate: [this.self.peer_id] };
    this.counts.lineages_founded++;
    this.adopt(g, rec, now, 'founded');
    this.publishRecord(g, rec);
  }

  private claim(g: string, gs: GroupState, now: number, reason: ClaimReason, electorate: readonly string[]): void {
    const rec = gs.ledger.record!;
    const claim: Claim = {
      lineage: rec.lineage, epoch: nextEpoch(gs.ledger), candidate: this.self.peer_id,
      electorate: this.council(g, electorate), ref_epoch: rec.epoch,
    };
    const j = judgeClaim(gs.ledger, claim, true, MAX_ACCEPTED_REPORTED);
    if (!j.granted) { gs.retryAt = now + this.backoff(); return; }
    grant(gs.ledger, claim);
    this.persist();
    gs.election = { claim, reason, ref: rec, grants: new Map([[this.self.peer_id, j.report]]), refused: new Map(), started: now };
    if (reason === 'reconfigure') gs.lastReconfigureAt = now;
    this.counts.elections_started++;
    this.events.push({ kind: 'election', group: g, epoch: claim.epoch, reason, outcome: 'started' });
    this.publish('coord_claim', { group: g, ...claim, electorate: [...claim.electorate], reason, affinity: this.affinity } satisfies CoordClaimBody);
    this.checkWon(g, gs, now);
  }

  private checkWon(g: string, gs: GroupState, now: number): void {
    const e = gs.election;
    if (!e || !electionWon(e.ref, e.claim.epoch, e.grants)) return;
    gs.election = undefined;
    this.counts.elections_won++;
    const rec: GroupRecord = { lineage: e.claim.lineage, epoch: e.claim.epoch, holder: this.self.peer_id, electorate: [...e.claim.electorate] };
    this.events.push({ kind: 'election', group: g, epoch: rec.epoch, reason: e.reason, outcome: 'won' });
    this.adopt(g, rec, now, 'won');
    this.publishRecord(g, rec);
  }

  private abandon(g: string, gs: GroupState, now: number, why: string): void {
    const e = gs.election;
    if (!e) return;
    gs.election = undefined;
    gs.retryAt = now + this.backoff();
    this.counts.elections_abandoned++;
    this.events.push({ kind: 'election', group: g, epoch: e.claim.epoch, reason: e.reason, outcome: 'abandoned', why });
  }

  private onClaim(from: string, c: CoordClaimBody, now: number): void {
    if (c.candidate !== from || !this.myGroups.includes(c.group) || !this.votesIn(c.group, c.electorate)) return;
    const gs = this.ensureGroup(c.group, now);
    const claim: Claim = { lineage: c.lineage, epoch: c.epoch, candidate: c.candidate, electorate: c.electorate, ref_epoch: c.ref_epoch };
    const j = judgeClaim(gs.ledger, claim, this.backs(c.group, gs, c, now), MAX_ACCEPTED_REPORTED);
    const rec = gs.ledger.record;
    if (j.granted) {
      grant(gs.ledger, claim);
      this.persist();
      this.counts.votes_granted++;
      if (gs.election && gs.election.claim.lineage === c.lineage && gs.election.claim.epoch <= c.epoch) this.abandon(c.group, gs, now, 'granted a higher claim');
      // The candidate it backs gets an election's time before this node claims in its turn:
      // a claim now would only split the vote.
      gs.retryAt = Math.max(gs.retryAt, now + this.t.electionTimeoutMs);
    } else {
      this.counts.votes_refused++;
      if (j.reason === 'stale_reference' && rec?.holder === this.self.peer_id) gs.wantRepublish = true;
    }
    this.publish('coord_vote', {
      group: c.group, lineage: c.lineage, epoch: c.epoch, candidate: c.candidate, voter: this.self.peer_id,
      granted: j.granted, ...(j.granted ? {} : { reason: j.reason }),
      record_epoch: rec && rec.lineage === c.lineage ? rec.epoch : 0,
      accepted: j.granted ? j.report.map((a) => ({ epoch: a.epoch, candidate: a.candidate, electorate: [...a.electorate] })) : [],
    } satisfies CoordVoteBody);
  }

  private onVote(v: CoordVoteBody, now: number): void {
    const gs = this.groups.get(v.group);
    const e = gs?.election;
    if (!gs || !e || v.candidate !== this.self.peer_id || v.lineage !== e.claim.lineage || v.epoch !== e.claim.epoch) return;
    if (v.granted) {
      e.grants.set(v.voter, v.accepted);
      this.checkWon(v.group, gs, now);
    } else {
      e.refused.set(v.voter, v.reason ?? 'refused');
      if (v.record_epoch > e.ref.epoch) { this.abandon(v.group, gs, now, 'a newer record exists'); return; }
      // A split vote: enough refusals that no majority is left (a member known dead will not
      // vote either). Retry at once at a higher epoch, the better-ranked candidates first,
      // instead of waiting out the election timeout.
      const open = new Set(e.ref.electorate!.filter((m) => !e.refused.has(m) && !this.knownDead(m)));
      if (!hasMajority(e.ref.electorate!, open)) {
        this.abandon(v.group, gs, now, 'no majority left');
        this.retryRanked(v.group, gs, now);
      }
    }
  }

  private onRecord(r: CoordRecordBody, now: number): void {
    if (!this.myGroups.includes(r.group)) return;
    this.adopt(r.group, { lineage: r.lineage, epoch: r.epoch, holder: r.holder, electorate: r.electorate }, now);
  }

  /** Takes a record if it supersedes (or completes) the held one; steps out of a lost election. */
  private adopt(g: string, rec: GroupRecord, now: number, how: 'won' | 'founded' | 'adopted' = 'adopted'): void {
    const gs = this.ensureGroup(g, now);
    const previous = gs.ledger.record;
    if (!adoptRecord(gs.ledger, rec)) return;
    this.persist();
    const e = gs.election;
    if (e && (e.claim.lineage !== rec.lineage || e.claim.epoch <= rec.epoch)) this.abandon(g, gs, now, `record ${rec.epoch} taken`);
    const changed = !previous || previous.lineage !== rec.lineage || previous.epoch !== rec.epoch;
    if (!changed) return; // an electorate filled in
    gs.recordSince = now;
    gs.failoverSince = undefined;
    if (how === 'adopted') this.counts.records_adopted++;
    this.events.push({
      kind: 'record', group: g, lineage: rec.lineage, epoch: rec.epoch, holder: rec.holder, how,
      ...(previous ? { previous: previous.holder } : {}),
    });
  }

  private publishRecord(g: string, rec: GroupRecord): void {
    this.counts.records_published++;
    this.publish('coord_record', { group: g, lineage: rec.lineage, epoch: rec.epoch, holder: rec.holder, electorate: [...rec.electorate!] } satisfies CoordRecordBody);
  }

  /**
   * Whether this voter backs a candidate (liveness policy; safety never depends on it):
   * - permanent: only the configured coordinator;
   * - the holder itself (it changes the electorate), or anyone when the holder is suspect or dead
   *   (voters act on "suspect", sooner than candidates on "dead"), or when no record is held;
   * - emergent, adaptive: a candidate whose affinity beats the holder's (heard from it) by half the margin;
   *   emergent, periodic: any candidate once the term (nearly) ran out.
   */
  private backs(g: string, gs: GroupState, c: CoordClaimBody, now: number): boolean {
    if (this.cfg.voter_policy === 'any') return true;
    if (this.cfg.mode === 'permanent') return this.isConfigured(c.candidate);
    const rec = gs.ledger.record;
    if (!rec || c.candidate === rec.holder) return true;
    if (this.holderLiveness(g, gs) !== 'alive') return true;
    if (this.cfg.mode !== 'emergent') return false;
    if (c.reason === 'rotate' && this.cfg.rotation_trigger === 'adaptive') {
      return this.peers.has(rec.holder) && Math.max(c.affinity ?? 0, this.affinityOf(c.candidate)) > this.affinityOf(rec.holder) + ROTATION_MARGIN / 2;
    }
    if (c.reason === 'periodic' && this.cfg.rotation_trigger === 'periodic') return now - gs.recordSince >= this.t.rotationPeriodMs * 0.8;
    return false;
  }

  /** The holder's liveness, counting the moment the record was taken as a sign of life. */
  private holderLiveness(g: string, gs: GroupState): Liveness {
    const h = gs.ledger.record?.holder;
    if (h === undefined || h === this.self.peer_id) return 'alive';
    const p = this.life.get(h);
    if (p) return p.status;
    // Never heard from directly: alive while the record is recent.
    return 'alive' === this.sinceStatus(gs.recordSince) ? 'alive' : 'dead';
  }

  private sinceStatus(since: number): Liveness { return this.life.classify(this.lastNow - since); }

  /**
   * This node's place among the group's alive members (excluding some; with a full record, among
   * its electorate only) by affinity, highest first, ties to the smaller peer id; -1 when it is
   * not among them.
   */
  private rank(g: string, excluding: readonly string[], _now: number): number {
    const electorate = this.groups.get(g)?.ledger.record?.electorate;
    const order = this.members(g, 'alive').filter((m) => !excluding.includes(m) && (!electorate || electorate.includes(m)))
      .map((m) => ({ m, a: this.affinityOf(m) }))
      .sort((x, y) => y.a - x.a || (x.m < y.m ? -1 : x.m > y.m ? 1 : 0));
    return order.findIndex((o) => o.m === this.self.peer_id);
  }

  /** A peer's gossiped affinity (0 when unknown). */
  affinityOf(peer: string): number {
    return peer === this.self.peer_id ? this.affinity : this.peers.get(peer)?.affinity ?? 0;
  }

  private isConfigured(peer: string): boolean {
    const want = this.cfg.coordinator;
    if (want === undefined) return false;
    if (peer === want) return true;
    const nodeId = peer === this.self.peer_id ? this.self.node_id : this.peers.get(peer)?.node_id;
    return nodeId === want;
  }

  /**
   * Group members as this node sees them: 'live' = alive or suspect, 'alive' = alive only. Kept
   * until the table changes (a peer, its groups or its liveness): ticks ask for them often.
   */
  members(g: string, which: 'live' | 'alive'): readonly string[] {
    const key = `${which}|${g}`;
    const hit = this.memo.get(key);
    if (hit) return hit;
    const out = this.myGroups.includes(g) ? [this.self.peer_id] : [];
    for (const [peer, v] of this.peers) {
      if (!v.groups.has(g)) continue;
      const s = this.life.status(peer);
      if (s === 'alive' || (which === 'live' && s === 'suspect')) out.push(peer);
    }
    out.sort();
    this.memo.set(key, out);
    return out;
  }

  private forgetPeer(peer: string, fromLiveness: boolean): void {
    this.peers.delete(peer);
    if (fromLiveness) this.life.forget(peer);
    this.memo.clear();
  }

  // --- heartbeat scoping -------------------------------------------------------------------

  /**
   * Whether this node listens to `peer`'s heartbeats in group `g` (both members). A member with
   * no record of the group listens to every member (it is looking for one), and so does the
   * holder (it keeps the membership, from which it fills the council); every other member
   * listens only to the holder and the electorate of the record it holds — the council, at most
   * `council_size` — or, while it holds the record without its electorate, to the holder and the
   * peers already in its table.
   * A member thus handles O(council + the groups it shares) heartbeats per period and only
   * holders O(group size). The simulator routes heartbeats by the same rule (`recordOf`).
   */
  hearsIn(g: string, peer: string): boolean {
    if (!this.myGroups.includes(g)) return false;
    const rec = this.groups.get(g)?.ledger.record;
    if (!rec || rec.holder === this.self.peer_id || rec.holder === peer) return true;
    // Without the electorate (a record learnt from a heartbeat): whom it already listens to, until
    // the holder's coord_record completes it — so that their liveness does not lapse meanwhile.
    return rec.electorate ? rec.electorate.includes(peer) : this.peers.has(peer);
  }

  /**
   * The same rule on the wire (protocol 2.0): which heartbeat topics this node hears and where its
   * own heartbeats go. Every member hears its groups' council topics. A member heartbeats on a
   * group's council topic when everyone there listens to it — it is the holder, in the
   * electorate, or holds no full record (it cannot know the council, and is heard while it looks)
   * — and otherwise on the members topic, which the holder hears (with the members that hold no
   * full record, who listen to everyone).
   */
  heartbeatScope(): HeartbeatScope {
    const me = this.self.peer_id;
    const scope: HeartbeatScope = { groups: [...this.myGroups], council: [], hearAll: [] };
    const hears = new Set<string>();
    for (const g of this.myGroups) {
      const rec = this.groups.get(g)?.ledger.record;
      if (!rec?.electorate || rec.holder === me) {
        scope.hearAll.push(g);
        for (const m of this.members(g, 'live')) if (m !== me) hears.add(m);
      } else for (const m of [rec.holder, ...rec.electorate]) if (m !== me) hears.add(m);
      if (!rec?.electorate || rec.holder === me || rec.electorate.includes(me)) scope.council.push(g);
    }
    // Hearing the whole swarm, it hears everyone: no list.
    return scope.hearAll.includes(SWARM) ? scope : { ...scope, hears: [...hears].sort() };
  }

  /** A peer stays in the table while this node listens to it in some group. */
  private keeps(peer: string, v: PeerView): boolean {
    for (const g of v.groups.keys()) if (this.hearsIn(g, peer)) return true;
    return false;
  }

  /** The peers this node keeps in its table (listened to, or dead and not yet forgotten). */
  trackedPeers(): IterableIterator<string> { return this.peers.keys(); }

  /** The record this node holds for a group (read-only; for simulators routing heartbeats). */
  recordOf(group: string): Readonly<GroupRecord> | undefined { return this.groups.get(group)?.ledger.record; }

  private get councilSize(): number { return Math.max(1, this.cfg.council_size ?? COUNCIL_SIZE); }

  /**
   * The electorate to propose from the live members: all of them while they fit the council;
   * else the current electorate's live members (hysteresis), then the best others by affinity
   * (ties: smaller peer id) up to the council size, this node always included.
   */
  private council(g: string, live: readonly string[]): string[] {
    const me = this.self.peer_id;
    const size = this.councilSize;
    const pool = new Set([...live, me]);
    if (pool.size <= size) return [...pool].sort();
    const seated = (this.groups.get(g)?.ledger.record?.electorate ?? []).filter((m) => m !== me && pool.has(m));
    const byAffinity = (xs: string[]) => xs.map((m) => ({ m, a: this.affinityOf(m) }))
      .sort((x, y) => y.a - x.a || (x.m < y.m ? -1 : x.m > y.m ? 1 : 0)).map((o) => o.m);
    const seats = seated.length >= size - 1 ? byAffinity(seated).slice(0, size - 1) : seated;
    if (seats.length < size - 1) {
      const taken = new Set(seats);
      seats.push(...byAffinity([...pool].filter((m) => m !== me && !taken.has(m))).slice(0, size - 1 - seats.length));
    }
    return [me, ...seats].sort();
  }

  /** Whether this node votes in a group: in the electorate of its full record or of the claim at hand, or with no full record. */
  private votesIn(g: string, proposed?: readonly string[]): boolean {
    const me = this.self.peer_id;
    if (proposed?.includes(me)) return true;
    const rec = this.groups.get(g)?.ledger.record;
    return !rec?.electorate || rec.holder === me || rec.electorate.includes(me);
  }

  groupActive(g: string): boolean {
    return isActive(g, this.members(g, 'live').length, this.cfg.min_nodes_per_group);
  }

  // --- decisions ---------------------------------------------------------------------------

  /** A member's judgement of a proposal (see docs): job routing to a node not known dead; an allowed action otherwise. */
  private agrees(p: DecisionProposalBody): boolean {
    if (p.decision_type === 'job_routing') return p.choice === this.self.peer_id || this.life.get(p.choice)?.status !== 'dead';
    const allowed = this.cfg.allowed_actions;
    return (allowed === undefined || allowed.includes(p.choice)) && p.confidence >= 0.3;
  }

  // --- partitions --------------------------------------------------------------------------

  private heard(peer: string, now: number): void {
    this.lastNow = Math.max(this.lastNow, now);
    const t = this.life.heard(peer, now);
    if (t) this.onTransition(t, now);
  }

  private onTransition(t: Transition, now: number): void {
    this.memo.clear();
    if (!this.peers.has(t.peer)) return;
    this.events.push({ kind: 'liveness', peer: t.peer, from: t.from, to: t.to, silent_ms: t.silentMs });
    const { healed, share } = this.partition.onTransition(t, now);
    if (!healed) return;
    // A heal (or a restart): tell what was decided meanwhile, once per burst of returns.
    if (share) {
      const mine = this.decisions.ownOutcomes(32);
      if (mine.length > 0) this.publish('decision_outcome', { outcomes: mine } satisfies DecisionOutcomeBody);
    }
    for (const gs of this.groups.values()) if (gs.ledger.record?.holder === this.self.peer_id) gs.wantRepublish = true;
  }

  private updatePartition(now: number): void {
    this.lastNow = Math.max(this.lastNow, now);
    const counts = { alive: 0, suspect: 0, dead: 0 };
    for (const peer of this.peers.keys()) counts[this.life.status(peer)]++;
    const change = this.partition.update(now, counts, this.quorumView(SWARM));
    if (change) this.events.push({ kind: 'partition', ...change });
  }

  /** After a heal: converged once every alive member reports the same record as this node, in every active group. */
  private checkConvergence(now: number): void {
    if (!this.partition.awaitingConvergence) return;
    for (const g of this.myGroups) {
      if (!this.groupActive(g)) continue;
      const rec = this.groups.get(g)?.ledger.record;
      for (const m of this.members(g, 'alive')) {
        if (m === this.self.peer_id) continue;
        const s = this.peers.get(m)?.groups.get(g);
        if (!rec || !s || s.lineage !== rec.lineage || s.epoch !== rec.epoch) return;
      }
    }
    this.events.push({ kind: 'converged', after_heal_ms: this.partition.converged(now) });
  }

  // --- plumbing ----------------------------------------------------------------------------

  private lastNow = -Infinity;
  private readonly memo = new Map<string, readonly string[]>();

  private readonly publish = (type: OrchMessageType, body: unknown): void => { this.out.push({ type, body }); };

  private persist(): void { this.persistFn?.(this.durable()); }

  private backoff(): number { return this.t.retryMs * (1 + this.rng()); }

  /** The next claim after a failed one: the better-ranked candidates (the holder aside) first. */
  private retryRanked(g: string, gs: GroupState, now: number): void {
    const rank = Math.max(0, this.rank(g, [gs.ledger.record?.holder ?? ''], now));
    gs.retryAt = now + rank * this.t.failoverStaggerMs + this.rng() * this.t.failoverStaggerMs;
  }

  private ensureGroup(g: string, now: number): GroupState {
    let gs = this.groups.get(g);
    if (!gs) { gs = this.freshGroup(now, emptyLedger()); this.groups.set(g, gs); }
    return gs;
  }

  private freshGroup(now: number, ledger: GroupLedger): GroupState {
    return { ledger, joinedAt: now, recordSince: now, retryAt: now, lastReconfigureAt: -Infinity, republishAt: now, wantRepublish: false };
  }

  ref(peer: string): NodeRef {
    return { peer_id: peer, node_id: peer === this.self.peer_id ? this.self.node_id : this.peers.get(peer)?.node_id ?? peer };
  }
}

const NOTHING = Object.freeze({ out: Object.freeze([]) as readonly Outgoing[], events: Object.freeze([]) as readonly CoreEvent[] });

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const sa = new Set(a); const sb = new Set(b);
  return sa.size === sb.size && [...sa].every((x) => sb.has(x));
}
