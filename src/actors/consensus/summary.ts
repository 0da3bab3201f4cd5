// The short form of the consensus actor's status that the Health check log line and GET /health
// carry (mode, coordinator, epoch, groups); GET /orchestration has the whole status.
import type { ConsensusStatus } from './messages.ts';

export interface OrchestrationSummary {
  mode: ConsensusStatus['mode'];
  /** The swarm coordinator's node id (null: none known, or fully_decentralized). */
  coordinator: string | null;
  epoch: number;
  groups: Array<{ group: string; coordinator: string | null; epoch: number; members: number }>;
  partition: ConsensusStatus['partition']['state'];
}

export function orchestrationSummary(s: ConsensusStatus): OrchestrationSummary {
  return {
    mode: s.mode,
    coordinator: s.coordinator?.node_id ?? null,
    epoch: s.epoch,
    groups: s.groups.map((g) => ({ group: g.group, coordinator: g.coordinator?.node_id ?? null, epoch: g.epoch, members: g.members })),
    partition: s.partition.state,
  };
}
