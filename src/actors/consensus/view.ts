// The consensus actor's LOCAL view of the swarm: who it knows, how fit each looks, and whom it
// would take as coordinator. Local, because affinities are not gossiped yet: this node scores
// itself from its own figures and its peers only from what their peer summaries carry.
import type { OrchestrationMode } from '../../config/types.ts';
import type { PeerSummary } from '../network/messages.ts';
import { affinity, type AffinityInput } from './affinity.ts';
import { chooseCoordinator, type Candidate, type CoordinatorOptions } from './coordinator.ts';

export interface NodeRef { node_id: string; peer_id?: string }

export interface Member extends NodeRef {
  affinity: number;
  self: boolean;
  /** True when some figures were unknown and scored neutral (always so for peers today). */
  estimated: boolean;
}

export interface ConsensusView {
  /** This is one node's view, not an agreement of the swarm. */
  view: 'local';
  enabled: boolean;
  mode: OrchestrationMode;
  /** Members known, this node included. */
  members: number;
  coordinator?: NodeRef;
  self: NodeRef;
  self_affinity: number;
  candidates: Member[];
  /** Sources that did not answer at the last refresh (their figures are unknown). */
  sources_missing: string[];
  updated_at: number;
}

export interface Observation {
  now: number;
  enabled: boolean;
  mode: OrchestrationMode;
  self: NodeRef;
  self_figures: AffinityInput;
  /** From network.peers; empty when the network did not answer. */
  peers: readonly PeerSummary[];
  /** A peer not connected counts as a member while heard from within this many ms. */
  member_timeout_ms: number;
  sources_missing: string[];
}

/**
 * What a peer summary lets us score: only the number of models it announces. Its queue, CPU,
 * memory, uptime and connectivity are unknown and count neutral (see affinity.ts).
 */
export function peerFigures(p: PeerSummary): AffinityInput {
  return { models_held: p.models.length };
}

export function buildLocalView(obs: Observation, previous?: ConsensusView, opts: Pick<CoordinatorOptions, 'fixed' | 'margin'> = {}): ConsensusView {
  const selfScore = affinity(obs.self_figures);
  const members = new Map<string, Member>();
  const selfMember: Member = { ...obs.self, affinity: selfScore.score, self: true, estimated: selfScore.unknown.length > 0 };
  for (const p of obs.peers) {
    if (p.peer_id === obs.self.peer_id) continue;
    if (!p.connected && obs.now - p.last_seen > obs.member_timeout_ms) continue;
    const node_id = p.node_id ?? p.peer_id;
    if (node_id === obs.self.node_id) continue;
    const a = affinity(peerFigures(p));
    const m: Member = { node_id, peer_id: p.peer_id, affinity: a.score, self: false, estimated: a.unknown.length > 0 };
    const seen = members.get(node_id);
    if (!seen || m.affinity > seen.affinity) members.set(node_id, m);
  }
  const candidates = [selfMember, ...[...members.values()].sort((a, b) => (a.node_id < b.node_id ? -1 : 1))];
  const chosen = obs.enabled
    ? chooseCoordinator(obs.mode, candidates as Candidate[], { ...opts, current: previous?.coordinator?.node_id })
    : undefined;
  return {
    view: 'local',
    enabled: obs.enabled,
    mode: obs.mode,
    members: candidates.length,
    ...(chosen ? { coordinator: { node_id: chosen.node_id, ...(chosen.peer_id ? { peer_id: chosen.peer_id } : {}) } } : {}),
    self: obs.self,
    self_affinity: selfScore.score,
    candidates,
    sources_missing: obs.sources_missing,
    updated_at: obs.now,
  };
}
