// Bodies of the distributed-orchestration messages (docs/DISTRIBUTED-ORCHESTRATION.md),
// gossiped on `mvp/1/orch`: coordinator elections (claim, vote, record) and consensus decisions
// (proposal, vote, outcome). The periodic part — each node's affinity and its view of every
// group's record — rides on the heartbeat (`orchSummarySchema`, heartbeat.ts).
import { epochMsField, peerIdField } from './fields.ts';
import type { FromSchema, WireSchema } from './schema-types.ts';

/** A context group: `swarm` (every node) or `model:<name>`. */
export const groupField = { type: 'string', minLength: 1, maxLength: 160 } as const satisfies WireSchema;
/** A group's lineage: which founding its epochs count from (base-36 founding time, '.', founder's peer id). */
export const lineageField = { type: 'string', minLength: 1, maxLength: 160, pattern: '^[0-9a-z]+\\.[A-Za-z0-9]+$' } as const satisfies WireSchema;
export const epochField = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } as const satisfies WireSchema;
/** Most members one group's electorate may list (groups beyond it must be scoped smaller). */
export const MAX_ELECTORATE = 1024;
export const electorateField = {
  type: 'array', description: 'peer ids of the voting members, sorted', minItems: 1, maxItems: MAX_ELECTORATE, uniqueItems: true,
  items: peerIdField,
} as const satisfies WireSchema;
/** Votes report at most this many accepted, not yet superseded claims (a voter holding more refuses). */
export const MAX_ACCEPTED_REPORTED = 2;

export const coordClaimSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'mvp-node coordinator claim',
  description: 'Body of a `coord_claim` message: a member asks the group to make it the holder of the next epoch. Sent by the candidate.',
  type: 'object',
  additionalProperties: false,
  required: ['group', 'lineage', 'epoch', 'candidate', 'electorate', 'ref_epoch', 'reason'],
  properties: {
    group: groupField,
    lineage: lineageField,
    epoch: { ...epochField, description: 'the epoch claimed: higher than any the candidate has seen or voted in' },
    candidate: { ...peerIdField, description: 'peer id of the candidate; must be the envelope\'s from' },
    electorate: { ...electorateField, description: 'the members the new epoch will count (the candidate\'s live view of the group)' },
    ref_epoch: { ...epochField, description: 'epoch of the latest record the candidate knows: a majority of its electorate must vote' },
    reason: { type: 'string', enum: ['reconfigure', 'failover', 'rotate', 'periodic'], maxLength: 16 },
    affinity: { type: 'number', minimum: 0, maximum: 1 },
  },
} as const satisfies WireSchema;

export const coordVoteSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'mvp-node coordinator vote',
  description: 'Body of a `coord_vote` message: a member\'s answer to a claim. Sent by the voter.',
  type: 'object',
  additionalProperties: false,
  required: ['group', 'lineage', 'epoch', 'candidate', 'voter', 'granted', 'record_epoch', 'accepted'],
  properties: {
    group: groupField,
    lineage: lineageField,
    epoch: epochField,
    candidate: peerIdField,
    voter: { ...peerIdField, description: 'peer id of the voter; must be the envelope\'s from' },
    granted: { type: 'boolean' },
    reason: { type: 'string', maxLength: 64, description: 'why a vote was refused' },
    record_epoch: { ...epochField, description: 'epoch of the latest record the voter knows in this lineage' },
    accepted: {
      type: 'array', maxItems: MAX_ACCEPTED_REPORTED,
      description: 'claims the voter granted after the claim\'s ref_epoch (before this one): the candidate must also win a majority of each of their electorates',
      items: {
        type: 'object', additionalProperties: false, required: ['epoch', 'candidate', 'electorate'],
        properties: { epoch: epochField, candidate: peerIdField, electorate: electorateField },
      },
    },
  },
} as const satisfies WireSchema;

export const coordRecordSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'mvp-node coordinator record',
  description: 'Body of a `coord_record` message: the holder of an epoch says so (after winning it, or again for members that lag). Sent by the holder.',
  type: 'object',
  additionalProperties: false,
  required: ['group', 'lineage', 'epoch', 'holder', 'electorate'],
  properties: {
    group: groupField,
    lineage: lineageField,
    epoch: epochField,
    holder: { ...peerIdField, description: 'peer id of the epoch\'s holder (the coordinator, or the membership steward in fully_decentralized mode); must be the envelope\'s from' },
    electorate: electorateField,
  },
} as const satisfies WireSchema;

export const DECISION_TYPES_WIRE = ['infrastructure', 'context', 'job_routing'] as const;
export const DECISION_STRATEGIES = ['heuristic', 'llm', 'hybrid'] as const;
const decisionIdField = { type: 'string', minLength: 8, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' } as const satisfies WireSchema;
const fraction = { type: 'number', minimum: 0, maximum: 1 } as const satisfies WireSchema;
const decisionTypeField = { type: 'string', enum: DECISION_TYPES_WIRE, maxLength: 16 } as const satisfies WireSchema;
const roundField = { type: 'integer', minimum: 1, maximum: 64 } as const satisfies WireSchema;

export const decisionProposalSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'mvp-node decision proposal',
  description: 'Body of a `decision_proposal` message: one round of a consensus decision. Sent by the proposer.',
  type: 'object',
  additionalProperties: false,
  required: ['id', 'group', 'decision_type', 'round', 'rounds', 'stimulus', 'critical', 'choice', 'confidence', 'strategy'],
  properties: {
    id: decisionIdField,
    group: groupField,
    decision_type: decisionTypeField,
    round: roundField,
    rounds: { type: 'integer', minimum: 1, maximum: 64, description: 'rounds the proposer will run at most' },
    stimulus: { type: 'number', minimum: 0, maximum: 1_000_000, description: 's of the response-threshold model for this round' },
    critical: { type: 'boolean' },
    choice: { type: 'string', minLength: 1, maxLength: 256, description: 'what is proposed: an action, or the chosen executor\'s peer id for job_routing' },
    params: { type: 'string', maxLength: 2048, description: 'the decision\'s parameters, JSON' },
    confidence: fraction,
    strategy: { type: 'string', enum: DECISION_STRATEGIES, maxLength: 16, description: 'how the proposer reached its choice' },
    job_value: { type: 'number', minimum: 0, maximum: 1e12 },
    complexity: fraction,
    urgency: fraction,
  },
} as const satisfies WireSchema;

export const decisionVoteSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'mvp-node decision vote',
  description: 'Body of a `decision_vote` message: a member that responded to a proposal (with probability T = s²/(s² + θ²)). Sent by the voter.',
  type: 'object',
  additionalProperties: false,
  required: ['id', 'proposer', 'round', 'agree'],
  properties: {
    id: decisionIdField,
    proposer: peerIdField,
    round: roundField,
    agree: { type: 'boolean' },
  },
} as const satisfies WireSchema;

export const DECISION_OUTCOMES = ['accepted', 'rejected', 'no_quorum'] as const;

export const decisionOutcomeSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'mvp-node decision outcomes',
  description: 'Body of a `decision_outcome` message: how the sender\'s decisions ended (one when decided; several again after a partition heals). Sent by their proposer.',
  type: 'object',
  additionalProperties: false,
  required: ['outcomes'],
  properties: {
    outcomes: {
      type: 'array', minItems: 1, maxItems: 32,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'group', 'decision_type', 'outcome', 'choice', 'share', 'threshold', 'rounds', 'respondents', 'decided_at'],
        properties: {
          id: decisionIdField,
          group: groupField,
          decision_type: decisionTypeField,
          outcome: { type: 'string', enum: DECISION_OUTCOMES, maxLength: 16 },
          choice: { type: 'string', minLength: 1, maxLength: 256 },
          share: { ...fraction, description: 'weighted share of agreement among respondents' },
          threshold: { ...fraction, description: 'the passing threshold the decision had to reach' },
          rounds: { type: 'integer', minimum: 1, maximum: 64 },
          respondents: { type: 'integer', minimum: 0, maximum: 100_000 },
          decided_at: epochMsField,
        },
      },
    },
  },
} as const satisfies WireSchema;

/** What a node's heartbeat says about its part in orchestration (absent: it takes no part). */
export const orchSummarySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['node_id', 'affinity', 'groups'],
  description: 'the sender\'s orchestration state: its affinity and, per group it belongs to, the record it holds',
  properties: {
    node_id: { type: 'string', minLength: 1, maxLength: 128 },
    affinity: { type: 'number', minimum: 0, maximum: 1 },
    groups: {
      type: 'array', maxItems: 16,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['group', 'epoch'],
        properties: {
          group: groupField,
          lineage: lineageField,
          epoch: epochField,
          holder: peerIdField,
          partial: { type: 'boolean', description: 'the sender knows the record but not its electorate (asks the holder to say it again)' },
        },
      },
    },
    demand: {
      type: 'array', maxItems: 64,
      description: 'per model the sender serves: the queue waits of its jobs over the last window (demand-driven replication)',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['model', 'wait_ms_sum', 'jobs'],
        properties: {
          model: { type: 'string', minLength: 1, maxLength: 128 },
          wait_ms_sum: { type: 'number', minimum: 0, maximum: 1e15, description: 'summed queue waits, ms (jobs still queued count with their age)' },
          jobs: { type: 'integer', minimum: 0, maximum: 1_000_000 },
          for_demand: { type: 'boolean', description: 'the sender loaded this model because its group asked (a replica added for demand)' },
        },
      },
    },
  },
} as const satisfies WireSchema;

/** The orchestration message types, all gossiped on `mvp/1/orch`. */
export const ORCH_MESSAGE_TYPES = ['coord_claim', 'coord_vote', 'coord_record', 'decision_proposal', 'decision_vote', 'decision_outcome', 'model_request'] as const;
export type OrchMessageType = (typeof ORCH_MESSAGE_TYPES)[number];
export const isOrchMessageType = (t: unknown): t is OrchMessageType => (ORCH_MESSAGE_TYPES as readonly unknown[]).includes(t);

export type CoordClaimBody = FromSchema<typeof coordClaimSchema>;
export type CoordVoteBody = FromSchema<typeof coordVoteSchema>;
export type CoordRecordBody = FromSchema<typeof coordRecordSchema>;
export type DecisionProposalBody = FromSchema<typeof decisionProposalSchema>;
export type DecisionVoteBody = FromSchema<typeof decisionVoteSchema>;
export type DecisionOutcomeBody = FromSchema<typeof decisionOutcomeSchema>;
export type DecisionOutcomeEntry = DecisionOutcomeBody['outcomes'][number];
export type OrchSummary = FromSchema<typeof orchSummarySchema>;
export type GroupSummary = OrchSummary['groups'][number];
