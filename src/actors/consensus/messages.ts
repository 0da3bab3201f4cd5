// What the consensus actor accepts and answers.
//
// Requests (any actor, or the supervisor on behalf of a caller):
//   consensus.status              → ConsensusStatus: mode, coordinator, epoch, groups, partition,
//                                   counters (the Health check, GET /health and GET /orchestration)
//   consensus.refresh             → ConsensusStatus after re-reading this node's figures now
//   consensus.decide { decision_type, context } → DistributedDecision (makeDistributedDecision)
//   consensus.recent { limit? }   → { decisions: DistributedDecision[] }, newest first
//   consensus.elect { group? }    → ElectionAnswer: this node runs for the group's next epoch now
//                                   (the orchestrator's start_election)
//   consensus.migrate { model, target, unload_source } → Migration, once started (the
//                                   orchestrator's migrate_context; progress in status `moves`)
// Events from the network actor (gossip it received, already inspected):
//   consensus.heartbeat { peer, orch? }         a peer's heartbeat (orch: its summary, if it takes part)
//   consensus.gossip { peer, msg_type, body }   an orchestration message (coord_* / decision_*)
// (`peer`, not `from`: the runtime sets an event's `from` to the sending actor's name.)
import type { RequestEvent } from '../../runtime/actor.ts';
import type { Call, DefineProtocol } from '../../runtime/protocol.ts';
import type { OrchSummary } from '../../protocol/index.ts';
import type { OrchestrationMode } from '../../config/types.ts';
import type { GroupStatus, NodeRef, OrchMessageType, PartitionStatus } from './core.ts';
import type { DecisionContext, DecisionType, DistributedDecision, RouterStats } from './router.ts';
import type { HandledRequest, Migration } from './replication.ts';
export type { Migration, DistributedDecision };
export { orchestrationSummary, type OrchestrationSummary } from './summary.ts';
import type { ReplicationStatus } from './replicator.ts';
import { CodedError } from '../../errors/registry.ts';

export interface ConsensusStatus {
  enabled: boolean;
  mode: OrchestrationMode;
  /** Null until the network has told this actor who it is. */
  self: NodeRef | null;
  self_affinity: number;
  /** The swarm group's coordinator (none in fully_decentralized mode, or before one is known). */
  coordinator: NodeRef | null;
  /** The swarm group's epoch (0: no record yet). */
  epoch: number;
  lineage: string | null;
  /** Swarm members alive or suspect, this node included. */
  members: number;
  /** Peer ids of the swarm's council (the electorate of the record held; empty without a full record). */
  council: string[];
  groups: GroupStatus[];
  partition: PartitionStatus;
  peers: Array<NodeRef & { affinity: number; status: 'alive' | 'suspect' | 'dead'; groups: string[] }>;
  elections: Record<string, number>;
  /** Decisions proposed here and their outcomes; votes cast; θ per decision type. */
  consensus: { counts: Record<string, number>; in_flight: number; outcomes_known: number; thresholds: Record<string, number> };
  router: RouterStats;
  /** Sources that did not answer at the last refresh of this node's figures. */
  sources_missing: string[];
  updated_at: number;
  /** Models moving: migrations this node started, model requests it received (replication.ts). */
  moves?: { migrations: Migration[]; requests: HandledRequest[]; replication?: ReplicationStatus[] };
}

/** What consensus.elect did: the group's epoch before, and now (moved once the election is won). */
export interface ElectionAnswer {
  group: string;
  epoch_before: number;
  epoch: number;
  /** won: this node holds the new epoch; running: votes still out when the answer left; lost: abandoned. */
  state: 'won' | 'running' | 'lost';
  holder: NodeRef | null;
}

/** The name the first subset used; kept for callers that import it. */
export type ConsensusView = ConsensusStatus;

export type ConsensusIn =
  | RequestEvent<{ type: 'consensus.status' }>
  | RequestEvent<{ type: 'consensus.refresh' }>
  | RequestEvent<{ type: 'consensus.decide'; decision_type: DecisionType; context?: DecisionContext }>
  | RequestEvent<{ type: 'consensus.recent'; limit?: number }>
  | RequestEvent<{ type: 'consensus.elect'; group?: string }>
  | RequestEvent<{ type: 'consensus.migrate'; model: string; target: string; unload_source: boolean; timeout_ms?: number }>
  | { type: 'consensus.heartbeat'; peer: string; orch?: OrchSummary }
  | { type: 'consensus.gossip'; peer: string; msg_type: OrchMessageType; body: unknown };

/** Start arguments (ChildSpec.args). */
export interface ConsensusArgs {
  /** Names of the models this node serves (its context groups). */
  models?: string[];
  /** Simulation: no ledger file, randomness from this seed (DistributedOrchestratorConfig.simulation). */
  simulation?: { seed: number };
  /** The node's directory: models peers ask for are pulled into its `pulled/`. Absent: this node loads none. */
  dataDir?: string;
}

/** A consensus.decide that cannot be taken: unknown type, or the actor not ready yet. */
export class ConsensusUnavailableError extends CodedError {
  override name = 'ConsensusUnavailableError';
  constructor(message: string, options?: ErrorOptions) { super('consensus_unavailable', message, options); }
}

/**
 * The consensus actor's roles, as GET /actors shows them once it has started (index.ts):
 * `observer` (takes no part: orchestration off, the network not answered yet, or outside the
 * swarm's council), `member` (votes), `candidate` (a claim in flight), `coordinator` (holds a
 * group's record), `minority` (its side of a partition holds no majority: no quorum decision).
 */
export const CONSENSUS_ROLES = ['observer', 'member', 'candidate', 'coordinator', 'minority'] as const;
/** Its states: `starting` (timers being set), a role, or `failed` (its start threw: the crash follows). */
export const CONSENSUS_STATES = ['starting', ...CONSENSUS_ROLES, 'failed'] as const;
export type ConsensusState = (typeof CONSENSUS_STATES)[number];

type Req<T extends ConsensusIn['type']> = Omit<Extract<ConsensusIn, { type: T; replyTo: string }>, 'replyTo' | 'from'>;

/** The consensus actor's published protocol. */
export type ConsensusProtocol = DefineProtocol<
  | Call<Req<'consensus.status'>, ConsensusStatus>
  | Call<Req<'consensus.refresh'>, ConsensusStatus>
  | Call<Req<'consensus.decide'>, DistributedDecision>
  | Call<Req<'consensus.recent'>, { decisions: DistributedDecision[] }>
  | Call<Req<'consensus.elect'>, ElectionAnswer>
  | Call<Req<'consensus.migrate'>, Migration>,
  Extract<ConsensusIn, { type: 'consensus.heartbeat' | 'consensus.gossip' }>
>;

declare module '../../runtime/protocol.ts' {
  interface ActorProtocols { consensus: ConsensusProtocol }
}
