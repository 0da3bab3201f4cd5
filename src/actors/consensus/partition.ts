// Partition detection and heal, from this node's side: how many of the peers it keeps are alive,
// suspect or dead, whether its side still holds a majority of the swarm's electorate (`ok`,
// `degraded`, `minority`), how long detection took, and after a heal (a dead peer heard again)
// how long until every alive member of every active group reported the same record. Pure: the
// core (core.ts) feeds it liveness transitions and its quorum view, with the time.
import type { Transition } from '../../liveness/table.ts';
import type { QuorumView } from './decisions.ts';

export type PartitionState = 'ok' | 'degraded' | 'minority';

export interface PartitionStatus {
  state: PartitionState;
  alive: number;
  suspect: number;
  dead: number;
  /** Silence (ms) after which the last peer was marked dead: detection time. */
  last_detection_ms?: number;
  last_change_at?: number;
  /** The last heal: when a dead peer was heard again, and how long until every group agreed. */
  last_heal?: { at: number; converged_after_ms?: number };
}

export class PartitionWatch {
  private status: PartitionStatus = { state: 'ok', alive: 0, suspect: 0, dead: 0 };
  /** When the heal now waiting for convergence began. */
  private healPending?: number;
  private lastShareAt = -Infinity;

  /** @param shareEveryMs after a heal, outcomes decided meanwhile are shared at most this often */
  constructor(private readonly shareEveryMs: number) {}

  /**
   * A kept peer's liveness changed. Returns whether this node should now share what it decided
   * meanwhile (a heal, or a restart: once per burst of returns).
   */
  onTransition(t: Transition, now: number): { healed: boolean; share: boolean } {
    if (t.to === 'dead') this.status.last_detection_ms = t.silentMs;
    if (!(t.from === 'dead' && t.to === 'alive')) return { healed: false, share: false };
    this.healPending ??= now;
    this.status.last_heal = { at: now };
    const share = now - this.lastShareAt >= this.shareEveryMs;
    if (share) this.lastShareAt = now;
    return { healed: true, share };
  }

  /** The side's state from the kept peers' liveness and the swarm's quorum; returns the change, if any. */
  update(now: number, counts: { alive: number; suspect: number; dead: number }, swarm: QuorumView): { state: PartitionState; previous: PartitionState } | undefined {
    const state: PartitionState = swarm.minority ? 'minority' : counts.suspect + counts.dead > 0 || swarm.health < 1 ? 'degraded' : 'ok';
    const previous = this.status.state;
    this.status = { ...this.status, state, ...counts };
    if (state === previous) return undefined;
    this.status.last_change_at = now;
    return { state, previous };
  }

  /** Whether a heal waits to be seen converged. */
  get awaitingConvergence(): boolean { return this.healPending !== undefined; }

  /** The groups agree again: returns how long after the heal. */
  converged(now: number): number {
    const after = now - (this.healPending ?? now);
    this.healPending = undefined;
    if (this.status.last_heal) this.status.last_heal.converged_after_ms = after;
    return after;
  }

  get state(): PartitionState { return this.status.state; }
  snapshot(): PartitionStatus { return { ...this.status }; }
}
