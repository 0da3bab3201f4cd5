// Status projections of the orchestration core: what GET /orchestration, the console and the
// simulators read (a group's record, coordinator and election in flight; the peers kept; the
// consensus actor's whole status). Read-only: they take the core's public views, never its state.
import type { ClaimReason, OrchestrationCore } from './core.ts';
import type { Liveness } from '../../liveness/table.ts';
import type { OrchestrationMode } from '../../config/types.ts';
import type { ConsensusStatus } from './messages.ts';

export interface NodeRef { node_id: string; peer_id: string }

export interface GroupStatus {
  group: string;
  member: boolean;
  active: boolean;
  /** Members alive or suspect, this node included. */
  members: number;
  lineage?: string;
  epoch: number;
  holder?: NodeRef;
  /** The coordinator (the holder, except in fully_decentralized mode where the holder only stewards membership). */
  coordinator?: NodeRef;
  electorate?: number;
  partial: boolean;
  election?: { epoch: number; reason: ClaimReason; grants: number; since: number };
}

export type PeerListEntry = NodeRef & { affinity: number; status: Liveness; groups: string[] };

export function groupStatus(core: OrchestrationCore, group: string): GroupStatus {
  const rec = core.recordOf(group);
  const members = core.members(group, 'live').length;
  const holder = rec ? core.ref(rec.holder) : undefined;
  const election = core.electionOf(group);
  return {
    group,
    member: core.joinedGroups.includes(group),
    active: core.groupActive(group),
    members,
    ...(rec ? { lineage: rec.lineage } : {}),
    epoch: rec?.epoch ?? 0,
    ...(holder ? { holder } : {}),
    ...(holder && core.cfg.mode !== 'fully_decentralized' ? { coordinator: holder } : {}),
    ...(rec?.electorate ? { electorate: rec.electorate.length } : {}),
    partial: rec !== undefined && rec.electorate === undefined,
    ...(election ? { election } : {}),
  };
}

export function peerList(core: OrchestrationCore): PeerListEntry[] {
  return [...core.peerViews()].map((v) => ({
    peer_id: v.peer, node_id: v.node_id, affinity: v.affinity, status: core.liveness(v.peer), groups: v.groups,
  }));
}

/** The consensus actor's status (consensus.status, GET /orchestration); `core` is absent until the network answered. */
export function consensusStatus(core: OrchestrationCore | undefined, s: {
  enabled: boolean; mode: OrchestrationMode; router: ConsensusStatus['router']; missing: string[]; now: number;
}): Omit<ConsensusStatus, 'moves'> {
  const swarm = core?.groupStatus('swarm');
  const coordinator = core?.coordinatorOf('swarm');
  return {
    enabled: s.enabled,
    mode: s.mode,
    self: core ? core.self : null,
    self_affinity: core?.selfAffinity ?? 0,
    coordinator: coordinator ?? null,
    epoch: swarm?.epoch ?? 0,
    lineage: swarm?.lineage ?? null,
    members: swarm?.members ?? (core ? 1 : 0),
    council: [...(core?.recordOf('swarm')?.electorate ?? [])],
    groups: core?.groupsStatus() ?? [],
    partition: core?.partitionStatus() ?? { state: 'ok', alive: 0, suspect: 0, dead: 0 },
    peers: core?.peerList() ?? [],
    elections: core ? { ...core.counts } : {},
    consensus: {
      counts: core ? { ...core.decisions.counts } : {}, in_flight: core?.decisions.inFlight ?? 0,
      outcomes_known: core?.decisions.known ?? 0, thresholds: core?.decisions.thresholds.snapshot() ?? {},
    },
    router: s.router,
    sources_missing: s.missing,
    updated_at: s.now,
  };
}
