// Failure detection from heartbeats: each peer is alive, suspect or dead by
// how long it has been silent. Suspect comes first and sooner (half the timeout), so a voter can
// already back a replacement for a coordinator it has stopped hearing while candidates wait for
// "dead" (the full heartbeat_timeout_secs). Pure: the caller supplies the time.

export type Liveness = 'alive' | 'suspect' | 'dead';

/** Silent for more than this fraction of the heartbeat timeout: suspect. */
export const SUSPECT_FRACTION = 0.5;
/** Dead peers are forgotten after this many heartbeat timeouts. */
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

export class LivenessTable {
  private readonly peers = new Map<string, PeerLife>();
  readonly suspectMs: number;
  readonly forgetMs: number;

  constructor(readonly timeoutMs: number) {
    this.suspectMs = timeoutMs * SUSPECT_FRACTION;
    this.forgetMs = timeoutMs * FORGET_TIMEOUTS;
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

  /** Applies the time: alive → suspect → dead; dead long enough → forgotten. */
  update(now: number): Transition[] {
    const out: Transition[] = [];
    for (const p of this.peers.values()) {
      const silent = now - p.lastHeard;
      const next: Liveness = silent > this.timeoutMs ? 'dead' : silent > this.suspectMs ? 'suspect' : 'alive';
      if (next === p.status) continue;
      // Only silence moves a peer down; only a message (heard) brings it back up.
      if (rank(next) < rank(p.status)) continue;
      // Always through suspect, even when the caller looked too late to see it on the way.
      if (p.status === 'alive' && next === 'dead') out.push({ peer: p.peer, from: 'alive', to: 'suspect', at: now, silentMs: silent });
      out.push({ peer: p.peer, from: p.status === 'alive' && next === 'dead' ? 'suspect' : p.status, to: next, at: now, silentMs: silent });
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
  entries(): PeerLife[] { return [...this.peers.values()]; }
}

const rank = (l: Liveness) => (l === 'alive' ? 0 : l === 'suspect' ? 1 : 2);
