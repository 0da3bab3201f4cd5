// `job_assign` body: the offerer gives the job to one claimant for a lease; when the lease runs
// out without a receipt the job is offered again, with the next attempt number.
import { jobIdField, peerIdField } from './fields.ts';
import type { FromSchema, WireSchema } from './schema-types.ts';

export const jobAssignSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'mvp-node job assignment',
  description: 'Body of a `job_assign` message. Sent by the offerer (the job\'s client).',
  type: 'object',
  additionalProperties: false,
  required: ['job_id', 'executor', 'lease_ms', 'attempt'],
  properties: {
    job_id: jobIdField,
    executor: { ...peerIdField, description: 'peer id of the node the job is given to' },
    lease_ms: { type: 'integer', description: 'how long the assignment holds while the executor sends nothing on the job stream (no token, no keepalive), ms', minimum: 1, maximum: 86_400_000 },
    attempt: { type: 'integer', description: '1 for the first assignment, +1 for each re-offer', minimum: 1, maximum: 1000 },
  },
} as const satisfies WireSchema;

export type JobAssignBody = FromSchema<typeof jobAssignSchema>;
