// Peer liveness, one table for the network actor (its peer table) and the consensus actor (its
// electorate): each peer is alive, suspect or dead by how long it has been silent, with one rule.
//   - silent past half the timeout: suspect; past the timeout: dead;
//   - a peer always spends one update at least as suspect before it is dead (one first found
//     silent past the timeout, e.g. after an event-loop stall, is suspect now and dead at the
//     next update, so a message queued behind the stall still counts);
//   - only silence moves a peer down, only a message (heard) brings it back up;
//   - a dead peer is forgotten once silent for `forgetMs` (the network forgets at once, with the
//     manifest; consensus keeps it ten timeouts, so it can tell a heal from a newcomer).
// Suspect comes first and sooner, so a voter can already back a replacement for a coordinator it
// has stopped hearing while candidates wait for "dead". Pure: the caller supplies the time.

export type Liveness = 'alive' | 'suspect' | 'dead';

/** Silent for more than this fraction of the heartbeat timeout: suspect. */
export const SUSPECT_FRACTION = 0.5;
/** By default, dead peers are forgotten after this many heartbeat timeouts. */
export const FORGET_TIMEOUTS = 10;

export interface PeerLife {
  peer: string;
  firstHeard: number;
  lastHeard: number;
  status: Liveness;
  /** When it was last marked dead (kept while it stays dead). */
  deadAt?: number;
}

export interface Transition { peer: string; from: Liveness; to: Liveness; at: number; silentMs: number }

export interface LivenessOptions {
  /** A dead peer silent for longer is dropped from the table (default FORGET_TIMEOUTS timeouts). */
  forgetMs?: number;
  /** A peer's own timeout, when peers are heard at different paces (default: the table's). */
  timeoutOf?(peer: string): number;
}

export class LivenessTable {
  private readonly peers = new Map<string, PeerLife>();
  readonly forgetMs: number;
  private readonly timeoutOf?: (peer: string) => number;

  /** @param timeoutMs a peer silent for longer is dead (unless `opts.timeoutOf` gives it another) */
  constructor(readonly timeoutMs: number, opts: LivenessOptions = {}) {
    this.forgetMs = opts.forgetMs ?? timeoutMs * FORGET_TIMEOUTS;
    if (opts.timeoutOf) this.timeoutOf = opts.timeoutOf;
  }

  /** A message from `peer`: alive again. Returns the transition when it was not alive. */
  heard(peer: string, now: number): Transition | undefined {
    const p = this.peers.get(peer);
    if (!p) { this.peers.set(peer, { peer, firstHeard: now, lastHeard: now, status: 'alive' }); return undefined; }
    const silentMs = now - p.lastHeard;
    p.lastHeard = Math.max(p.lastHeard, now);
    if (p.status === 'alive') return undefined;
    const t: Transition = { peer, from: p.status, to: 'alive', at: now, silentMs };
    p.status = 'alive';
    delete p.deadAt;
    return t;
  }

  /** What `silentMs` of silence makes a peer by the rule (without the one-update-as-suspect step), for a timeout. */
  classify(silentMs: number, timeoutMs = this.timeoutMs): Liveness {
    return silentMs > timeoutMs ? 'dead' : silentMs > timeoutMs * SUSPECT_FRACTION ? 'suspect' : 'alive';
  }

  /** Applies the time: alive → suspect → dead; dead long enough → forgotten. */
  update(now: number): Transition[] {
    const out: Transition[] = [];
    for (const p of this.peers.values()) {
      const silent = now - p.lastHeard;
      let next = this.classify(silent, this.timeoutOf?.(p.peer));
      // Always through suspect, for one update at least.
      if (p.status === 'alive' && next === 'dead') next = 'suspect';
      if (next === p.status || rank(next) < rank(p.status)) continue;
      out.push({ peer: p.peer, from: p.status, to: next, at: now, silentMs: silent });
      p.status = next;
      if (next === 'dead') p.deadAt = now;
    }
    for (const [id, p] of this.peers) if (p.status === 'dead' && now - p.lastHeard > this.forgetMs) this.peers.delete(id);
    return out;
  }

  /** Drops a peer without a transition (one this node no longer listens to). */
  forget(peer: string): void { this.peers.delete(peer); }

  status(peer: string): Liveness { return this.peers.get(peer)?.status ?? 'dead'; }
  get(peer: string): PeerLife | undefined { return this.peers.get(peer); }
  get size(): number { return this.peers.size; }
  entries(): PeerLife[] { return [...this.peers.values()]; }
}

const rank = (l: Liveness) => (l === 'alive' ? 0 : l === 'suspect' ? 1 : 2);
