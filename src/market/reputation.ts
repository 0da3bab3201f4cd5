// What the network actor holds against its peers (a hostile peer): how fast each may
// send, and a score per peer. Rate: a token bucket per connection, checked before a message is
// even parsed (a flood costs a counter, not a signature check), and one per signer, checked
// after inspection (so no one can spend another peer's budget by writing its id). Score:
// penalties for what a peer sent that the inspector or the receipt book refused, for jobs it
// was assigned and never delivered, and for DHT provider records of models it does not serve;
// credit for its receipts. Scores decay toward 0, so an honest
// node that failed a job recovers. Below CLAIMS_REFUSED_BELOW a peer's claims are dropped (not
// forwarded: clients behind honest nodes never see them); below IGNORED_BELOW whatever its
// connection sends is dropped unread. Pure: the caller supplies the time.
import { LRUCache } from 'lru-cache';

/** Drops decided here, before or after inspection (counted with the inspector's reasons). */
export const GUARD_DROP_REASONS = Object.freeze(['rate_limited', 'low_reputation'] as const);
export type GuardDrop = (typeof GUARD_DROP_REASONS)[number];

/**
 * What a peer is blamed for. `garbage`: bytes the inspector could not read as a valid envelope
 * (malformed, schema, oversize, wrong_from); `forged`: a bad signature; `replay`: an envelope
 * accepted before, sent again; `flood`: a message beyond its rate; `bad_receipt`: a receipt for
 * a job it was never assigned; `undelivered`: a job assigned to it that ended with no receipt
 * from it (its client moved the job on, or the job's time ran out); `bad_chunk`: a model chunk
 * that failed its Merkle proof; `false_announce`: a model it announces but does not have, or
 * whose announced root builds a file with another sha256 or not a valid model; `false_provide`:
 * a DHT provider record saying it serves a model file that it does not serve (provider records
 * carry no signature: the provider itself is blamed, once reached).
 */
export const OFFENCES = Object.freeze(['garbage', 'forged', 'replay', 'flood', 'bad_receipt', 'undelivered', 'bad_chunk', 'false_announce', 'false_provide'] as const);
export type Offence = (typeof OFFENCES)[number];

export const PENALTY: Readonly<Record<Offence, number>> = Object.freeze({
  garbage: 5, forged: 5, replay: 2, flood: 0.1, bad_receipt: 5, undelivered: 5, bad_chunk: 5, false_announce: 5, false_provide: 5,
});
/** Per accepted receipt; the score never exceeds MAX_SCORE (good deeds are not a bank). */
export const RECEIPT_CREDIT = 1;
export const MAX_SCORE = 10;
/** Three undelivered jobs, or three forged messages. */
export const CLAIMS_REFUSED_BELOW = -12;
export const IGNORED_BELOW = -60;
/** A score halves toward 0 in this long. */
export const HALF_LIFE_MS = 10 * 60_000;

export interface Rate { perSec: number; burst: number }
/**
 * Everything a neighbour relays (its own messages and the network's): generous, so an honest
 * relay in a busy network stays under it.
 */
export const CONNECTION_RATE: Readonly<Rate> = Object.freeze({ perSec: 500, burst: 1000 });
/** One signer's own messages, whoever relays them (an honest node sends a few per second). */
export const SIGNER_RATE: Readonly<Rate> = Object.freeze({ perSec: 100, burst: 500 });

export class RateLimiter {
  private readonly buckets: LRUCache<string, { tokens: number; at: number }>;
  constructor(private readonly rate: Readonly<Rate>, capacity = 4096) {
    this.buckets = new LRUCache({ max: capacity });
  }

  /** Takes one token from `key`'s bucket; false when it is empty. */
  take(key: string, now: number): boolean {
    const b = this.buckets.get(key);
    const tokens = b ? Math.min(this.rate.burst, b.tokens + (Math.max(0, now - b.at) / 1000) * this.rate.perSec) : this.rate.burst;
    const ok = tokens >= 1;
    this.buckets.set(key, { tokens: ok ? tokens - 1 : tokens, at: Math.max(b?.at ?? now, now) });
    return ok;
  }
}

interface Standing { score: number; at: number }
interface JobWatch {
  /** The latest attempt seen. */
  attempt: number;
  /** The executor the job is with now, and when it is due: its receipt by then, or it is blamed. */
  open?: { executor: string; due: number };
  assigned: Set<string>;
  delivered: Set<string>;
}

const newWatch = (): JobWatch => ({ attempt: 0, assigned: new Set(), delivered: new Set() });

export interface PeerScore { peer_id: string; score: number }

/** A peer's score as kept in the store: the score at `at` (ms), decaying from then on. */
export interface SavedStanding { peer_id: string; score: number; at: number }

export class Reputation {
  private readonly peers: LRUCache<string, Standing>;
  private readonly jobs: LRUCache<string, JobWatch>;
  readonly offences: Record<Offence, number> = Object.fromEntries(OFFENCES.map((o) => [o, 0])) as Record<Offence, number>;

  constructor(capacity = 4096) {
    this.peers = new LRUCache({ max: capacity });
    this.jobs = new LRUCache({ max: capacity });
  }

  /** Bumped by every change of a score, so a saver knows when there is something to save. */
  changes = 0;

  /** Every score held, for the store (decay continues from `at` when they are restored). */
  standings(): SavedStanding[] {
    return [...this.peers.entries()].map(([peer_id, s]) => ({ peer_id, score: s.score, at: s.at }));
  }

  /** Scores saved by an earlier run of the node (kept where this run has none yet). */
  restore(saved: readonly SavedStanding[]): void {
    for (const s of saved) if (!this.peers.has(s.peer_id)) this.peers.set(s.peer_id, { score: s.score, at: s.at });
  }

  score(peer: string, now: number): number {
    const s = this.peers.get(peer);
    return s ? decayed(s, now) : 0;
  }

  penalise(peer: string, offence: Offence, now: number): void {
    this.offences[offence]++;
    this.changes++;
    this.peers.set(peer, { score: this.score(peer, now) - PENALTY[offence], at: now });
  }

  credit(peer: string, now: number): void {
    this.changes++;
    this.peers.set(peer, { score: Math.min(MAX_SCORE, this.score(peer, now) + RECEIPT_CREDIT), at: now });
  }

  refusesClaims(peer: string, now: number): boolean { return this.score(peer, now) < CLAIMS_REFUSED_BELOW; }
  ignores(peer: string, now: number): boolean { return this.score(peer, now) < IGNORED_BELOW; }

  /**
   * A client assigned a job to `executor` (its `attempt`), due by `due`. An executor it was with
   * before, that has not delivered, is blamed now: its client gave up on it. Assignments may be
   * seen out of order (each is verified on its own), so one older than the latest is such a
   * former executor too.
   */
  assigned(jobId: string, executor: string, attempt: number, due: number, now: number): void {
    const w = this.jobs.get(jobId) ?? newWatch();
    const blame = (e: string) => { if (!w.delivered.has(e)) this.penalise(e, 'undelivered', now); };
    const known = w.assigned.has(executor);
    w.assigned.add(executor);
    this.jobs.set(jobId, w);
    if (attempt < w.attempt) {
      if (!known && w.open?.executor !== executor) blame(executor);
      return;
    }
    w.attempt = attempt;
    if (w.open && w.open.executor !== executor) blame(w.open.executor);
    // Its receipt may come before the assignment does (gossip takes different paths).
    w.open = w.delivered.has(executor) ? undefined : { executor, due };
  }

  /** An accepted receipt: credit to its executor, and the job is no longer waited for from it. */
  delivered(jobId: string, executor: string, now: number): void {
    this.credit(executor, now);
    const w = this.jobs.get(jobId) ?? newWatch();
    w.delivered.add(executor);
    if (w.open?.executor === executor) w.open = undefined;
    this.jobs.set(jobId, w);
  }

  /** Whether the job was ever assigned to this executor (a receipt for it is then no forgery). */
  wasAssigned(jobId: string, executor: string): boolean { return this.jobs.peek(jobId)?.assigned.has(executor) ?? false; }

  /** Blames the executors whose jobs are past due with no receipt. */
  sweep(now: number): void {
    for (const o of this.overdue(now)) this.penalise(o.executor, 'undelivered', now);
  }

  /**
   * The jobs past due with no receipt seen, each handed out once (no longer watched): the caller
   * looks for the receipt elsewhere (the DHT) before it blames the executor.
   */
  overdue(now: number): Array<{ jobId: string; executor: string }> {
    const out: Array<{ jobId: string; executor: string }> = [];
    for (const [jobId, w] of this.jobs.entries()) {
      if (w.open && w.open.due <= now) {
        out.push({ jobId, executor: w.open.executor });
        w.open = undefined;
      }
    }
    return out;
  }

  /** Whether an accepted receipt of this executor for this job was seen. */
  hasDelivered(jobId: string, executor: string): boolean { return this.jobs.peek(jobId)?.delivered.has(executor) ?? false; }

  /** Peers with a score below 0, lowest first. */
  suspects(now: number): PeerScore[] {
    const out: PeerScore[] = [];
    for (const [peer, s] of this.peers.entries()) {
      const score = decayed(s, now);
      if (score < 0) out.push({ peer_id: peer, score: Math.round(score * 100) / 100 });
    }
    return out.sort((a, b) => a.score - b.score);
  }
}

function decayed(s: Standing, now: number): number {
  return s.score * 2 ** (-Math.max(0, now - s.at) / HALF_LIFE_MS);
}
