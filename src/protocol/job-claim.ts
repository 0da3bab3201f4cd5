// `job_claim` body: a node that has the model and room for a job tells the offerer it can run
// it, with what the decision router needs to pick one claimant.
import { jobIdField, peerIdField, sha256Field } from './fields.ts';
import type { FromSchema, WireSchema } from './schema-types.ts';

export const jobClaimSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'mvp-node job claim',
  description: 'Body of a `job_claim` message. Sent by the would-be executor (envelope from = executor).',
  type: 'object',
  additionalProperties: false,
  required: ['job_id', 'executor', 'model_sha256', 'queue_depth', 'est_start_ms', 'capacity'],
  properties: {
    job_id: jobIdField,
    executor: { ...peerIdField, description: 'peer id of the claiming node; must be the envelope\'s from' },
    model_sha256: { ...sha256Field, description: 'sha256 of the model file the claimant would run' },
    queue_depth: { type: 'integer', description: 'jobs waiting in the claimant\'s queue', minimum: 0, maximum: 1_000_000 },
    est_start_ms: { type: 'integer', description: 'estimated wait before the job would start, ms from now (relative, so clock skew does not matter)', minimum: 0, maximum: 86_400_000 },
    capacity: { type: 'integer', description: 'slots (sequences) the claimant has free for this model now', minimum: 0, maximum: 1024 },
  },
} as const satisfies WireSchema;

export type JobClaimBody = FromSchema<typeof jobClaimSchema>;
