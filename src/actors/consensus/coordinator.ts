// Choosing the coordinator among the known members (seed "Distributed Orchestration", modes).
// Pure: the same members, mode and current coordinator give the same answer on every node.
import type { OrchestrationMode } from '../../config/types.ts';

export interface Candidate {
  node_id: string;
  peer_id?: string;
  /** Affinity in [0, 1] (see affinity.ts). */
  affinity: number;
}

/** In emergent mode a challenger must beat the current coordinator by more than this. */
export const HYSTERESIS_MARGIN = 0.1;

export interface CoordinatorOptions {
  /** node_id of the coordinator now, if any (emergent mode keeps it unless clearly beaten). */
  current?: string;
  margin?: number;
  /** permanent mode: this node_id is the coordinator (when absent from the members: none). */
  fixed?: string;
}

const byNodeId = (a: Candidate, b: Candidate) => (a.node_id < b.node_id ? -1 : a.node_id > b.node_id ? 1 : 0);

/**
 * - permanent: the configured `fixed` node if it is a member (a permanent coordinator that is
 *   gone is not replaced: none); without one, the lexicographically smallest node_id — a choice
 *   every node makes alike from membership alone, no scores needed.
 * - emergent: the highest affinity (ties: smallest node_id), except that the current
 *   coordinator, while a member, stays unless the best beats it by more than `margin`; this
 *   keeps small load swings from rotating the coordinator back and forth.
 * - fully_decentralized: none; every decision goes to consensus.
 */
export function chooseCoordinator(mode: OrchestrationMode, members: readonly Candidate[], opts: CoordinatorOptions = {}): Candidate | undefined {
  if (members.length === 0 || mode === 'fully_decentralized') return undefined;
  if (mode === 'permanent') {
    if (opts.fixed !== undefined) return members.find((m) => m.node_id === opts.fixed);
    return [...members].sort(byNodeId)[0];
  }
  const score = (c: Candidate) => (Number.isFinite(c.affinity) ? c.affinity : 0);
  const best = [...members].sort((a, b) => score(b) - score(a) || byNodeId(a, b))[0]!;
  const current = opts.current === undefined ? undefined : members.find((m) => m.node_id === opts.current);
  if (current && score(best) - score(current) <= (opts.margin ?? HYSTERESIS_MARGIN)) return current;
  return best;
}
