// Adaptive consensus decisions, the proposer's and the voter's book. A
// proposer runs up to `rounds` rounds of `roundMs`; each round it gossips the proposal with a
// stimulus that doubles per round; members answer with probability T = s²/(s² + θ²)
// (threshold.ts). A proposal passes as soon as the respondents hold a majority of the group's
// electorate and their weighted share of agreement reaches the passing threshold; after the last
// round it is rejected (quorum, too little agreement) or ends without quorum. Pure: time comes in
// as arguments, randomness from the injected rng.
//
// Never lost, never decided twice: every proposal ends in exactly one result (a round timer
// always runs), the result is final (a decided id ignores later votes and outcomes), outcomes
// received are kept once per id (the first wins; a different second one is counted, not taken).
import type { DecisionOutcomeEntry, DecisionProposalBody, DecisionVoteBody } from '../../protocol/index.ts';
import { hasMajority } from './election.ts';
import type { DecisionStrategy, DecisionType } from './router.ts';
import { passingThreshold, stimulus, ThresholdTable } from './threshold.ts';

export type ConsensusOutcome = 'accepted' | 'rejected' | 'no_quorum';

export interface ProposalInput {
  id: string;
  group: string;
  decision_type: DecisionType;
  choice: string;
  params?: string;
  confidence: number;
  strategy: DecisionStrategy;
  critical: boolean;
  job_value?: number;
  complexity?: number;
  urgency?: number;
}

/** Who counts for a group's quorum, as this node sees it now. */
export interface QuorumView {
  /** The electorate of the group's record (or the live members when no full record is held). */
  electorate: readonly string[];
  /** Electorate members alive or suspect (this node included). */
  live: readonly string[];
  /** Fraction of the electorate alive (not suspect, not dead). */
  health: number;
  /** Live members are not a majority of the electorate: the minority side takes no quorum decision. */
  minority: boolean;
}

export interface ConsensusResult {
  id: string;
  group: string;
  decision_type: DecisionType;
  outcome: ConsensusOutcome;
  /** Why, for no_quorum: 'minority' (refused at once) or 'timeout' (rounds ran out). */
  reason?: 'minority' | 'timeout' | 'disagreement';
  choice: string;
  share: number;
  threshold: number;
  /** Respondents needed: a strict majority of the electorate. */
  quorum: number;
  electorate: number;
  rounds: number;
  respondents: number;
  agreeing: number;
  started_at: number;
  decided_at: number;
}

interface Pending {
  input: ProposalInput;
  startedAt: number;
  round: number;
  roundEndsAt: number;
  electorate: readonly string[];
  threshold: number;
  votes: Map<string, boolean>;
}

export interface DecisionBookOptions {
  self: string;
  rounds: number;
  roundMs: number;
  baseThreshold: number;
  highValueThreshold: number;
  rng: () => number;
  /** Voting weight of a member: 0.5 + 0.5 × its gossiped affinity (so nobody counts for nothing). */
  weight(peer: string): number;
}

export type Publish = (type: 'decision_proposal' | 'decision_vote' | 'decision_outcome', body: unknown) => void;

/** Most outcomes remembered (ids decided here or heard of), oldest forgotten first. */
export const OUTCOMES_KEPT = 512;

export class DecisionBook {
  private readonly pending = new Map<string, Pending>();
  /** Outcomes by id (ours and others'), insertion-ordered for forgetting. */
  private readonly outcomes = new Map<string, { from: string; entry: DecisionOutcomeEntry }>();
  /** Proposals this node has already answered (or let pass), by proposer/id: each is drawn once per round. */
  private readonly answered = new Map<string, { round: number; voted: boolean }>();
  readonly thresholds = new ThresholdTable();
  readonly counts = { proposed: 0, accepted: 0, rejected: 0, no_quorum: 0, votes_cast: 0, requests_ignored: 0, conflicting_outcomes: 0 };

  constructor(private readonly opts: DecisionBookOptions) {}

  get inFlight(): number { return this.pending.size; }

  /**
   * Starts a decision. A minority side answers at once `no_quorum` (reason 'minority') without
   * asking anyone; otherwise round 1 goes out and the result comes from onVote or tick.
   */
  propose(input: ProposalInput, view: QuorumView, now: number, publish: Publish): ConsensusResult | undefined {
    if (this.pending.has(input.id) || this.outcomes.has(input.id)) throw new Error(`decision ${input.id} exists already`);
    this.counts.proposed++;
    const criticality = input.critical ? 1 : (input.job_value ?? 0) >= this.opts.highValueThreshold ? 0.5 : 0;
    const p: Pending = {
      input, startedAt: now, round: 1, roundEndsAt: now + this.opts.roundMs, electorate: view.electorate,
      threshold: passingThreshold(this.opts.baseThreshold, criticality, view.health),
      votes: new Map([[this.opts.self, true]]),
    };
    if (view.minority) return this.finish(p, 'no_quorum', now, publish, 'minority');
    this.pending.set(input.id, p);
    const done = this.check(p, now, publish);
    if (done) return done;
    this.sendRound(p, publish);
    return undefined;
  }

  /** A vote on one of our proposals. */
  onVote(from: string, body: DecisionVoteBody, now: number, publish: Publish): ConsensusResult | undefined {
    if (body.proposer !== this.opts.self) return undefined;
    const p = this.pending.get(body.id);
    if (!p || p.votes.has(from)) return undefined;
    p.votes.set(from, body.agree);
    return this.check(p, now, publish);
  }

  /**
   * Someone's proposal: respond with probability T (drawn once per round this node has not voted
   * in yet) and, when responding, say whether we agree.
   */
  onProposal(from: string, body: DecisionProposalBody, member: boolean, agree: (p: DecisionProposalBody) => boolean, publish: Publish): void {
    if (from === this.opts.self || !member) return;
    const key = `${from}/${body.id}`;
    const seen = this.answered.get(key);
    if (this.outcomes.has(body.id) || (seen && (seen.voted || seen.round >= body.round))) return;
    const respond = this.thresholds.respond(body.decision_type, body.stimulus, this.opts.rng);
    this.answered.set(key, { round: body.round, voted: respond });
    if (this.answered.size > OUTCOMES_KEPT * 4) this.answered.delete(this.answered.keys().next().value!);
    if (!respond) { this.counts.requests_ignored++; return; }
    this.counts.votes_cast++;
    publish('decision_vote', { id: body.id, proposer: from, round: body.round, agree: agree(body) } satisfies DecisionVoteBody);
  }

  /** Outcomes gossiped by their proposer: kept once per id. */
  onOutcomes(from: string, entries: readonly DecisionOutcomeEntry[]): void {
    for (const e of entries) {
      const held = this.outcomes.get(e.id);
      if (held) {
        if (held.from !== from || held.entry.outcome !== e.outcome || held.entry.choice !== e.choice) this.counts.conflicting_outcomes++;
        continue;
      }
      if (from === this.opts.self) continue; // our own, echoed back: we hold it already
      this.remember(e.id, from, e);
    }
  }

  /** Round timers: a round that ran out starts the next, or the last one ends the decision. */
  tick(now: number, publish: Publish): ConsensusResult[] {
    const done: ConsensusResult[] = [];
    for (const p of [...this.pending.values()]) {
      if (now < p.roundEndsAt) continue;
      if (p.round < this.opts.rounds) {
        p.round++;
        p.roundEndsAt = now + this.opts.roundMs;
        this.sendRound(p, publish);
        continue;
      }
      const { quorate, share } = this.tally(p);
      done.push(this.finish(p, quorate ? 'rejected' : 'no_quorum', now, publish, quorate ? 'disagreement' : 'timeout', share));
    }
    return done;
  }

  /** The latest outcomes of decisions this node proposed (newest last), for re-sharing after a heal. */
  ownOutcomes(limit: number): DecisionOutcomeEntry[] {
    const mine = [...this.outcomes.values()].filter((o) => o.from === this.opts.self).map((o) => o.entry);
    return mine.slice(-limit);
  }

  outcome(id: string): { from: string; entry: DecisionOutcomeEntry } | undefined { return this.outcomes.get(id); }
  get known(): number { return this.outcomes.size; }

  // --- internals ---------------------------------------------------------------------------

  private sendRound(p: Pending, publish: Publish): void {
    const i = p.input;
    const body: DecisionProposalBody = {
      id: i.id, group: i.group, decision_type: i.decision_type, round: p.round, rounds: this.opts.rounds,
      stimulus: Math.min(1_000_000, stimulus({ job_value: i.job_value, urgency: i.urgency, critical: i.critical }, this.opts.highValueThreshold, p.round)),
      critical: i.critical, choice: i.choice, confidence: Math.min(1, Math.max(0, i.confidence)), strategy: i.strategy,
      ...(i.params !== undefined ? { params: i.params } : {}),
      ...(i.job_value !== undefined ? { job_value: Math.min(1e12, Math.max(0, i.job_value)) } : {}),
      ...(i.complexity !== undefined ? { complexity: Math.min(1, Math.max(0, i.complexity)) } : {}),
      ...(i.urgency !== undefined ? { urgency: Math.min(1, Math.max(0, i.urgency)) } : {}),
    };
    publish('decision_proposal', body);
  }

  private tally(p: Pending): { quorate: boolean; share: number } {
    let total = 0; let agree = 0;
    for (const [peer, yes] of p.votes) {
      const w = this.opts.weight(peer);
      total += w;
      if (yes) agree += w;
    }
    return { quorate: hasMajority(p.electorate, new Set(p.votes.keys())), share: total > 0 ? agree / total : 0 };
  }

  private check(p: Pending, now: number, publish: Publish): ConsensusResult | undefined {
    const { quorate, share } = this.tally(p);
    if (quorate && share >= p.threshold) return this.finish(p, 'accepted', now, publish, undefined, share);
    return undefined;
  }

  private finish(p: Pending, outcome: ConsensusOutcome, now: number, publish: Publish, reason?: ConsensusResult['reason'], share = this.tally(p).share): ConsensusResult {
    this.pending.delete(p.input.id);
    this.counts[outcome]++;
    const agreeing = [...p.votes.values()].filter(Boolean).length;
    const result: ConsensusResult = {
      id: p.input.id, group: p.input.group, decision_type: p.input.decision_type, outcome,
      ...(reason && outcome !== 'accepted' ? { reason } : {}),
      choice: p.input.choice, share, threshold: p.threshold,
      quorum: Math.floor(new Set(p.electorate).size / 2) + 1, electorate: new Set(p.electorate).size,
      rounds: p.round, respondents: p.votes.size, agreeing, started_at: p.startedAt, decided_at: now,
    };
    const entry: DecisionOutcomeEntry = {
      id: result.id, group: result.group, decision_type: result.decision_type, outcome, choice: result.choice,
      share: Math.min(1, Math.max(0, share)), threshold: result.threshold, rounds: Math.min(64, result.rounds),
      respondents: result.respondents, decided_at: Math.max(0, Math.floor(now)),
    };
    this.remember(result.id, this.opts.self, entry);
    // A minority refusal asked nobody: nothing to tell.
    if (reason !== 'minority') publish('decision_outcome', { outcomes: [entry] });
    return result;
  }

  private remember(id: string, from: string, entry: DecisionOutcomeEntry): void {
    this.outcomes.set(id, { from, entry });
    if (this.outcomes.size > OUTCOMES_KEPT) this.outcomes.delete(this.outcomes.keys().next().value!);
  }
}
