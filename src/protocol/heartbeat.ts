// `heartbeat` body: a small, frequent liveness signal (partition detection counts missed ones),
// carrying the sender's orchestration summary (affinity, group records) when it takes part.
import { orchSummarySchema } from './orchestration.ts';
import type { FromSchema, WireSchema } from './schema-types.ts';

export const heartbeatSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'mvp-node heartbeat',
  description: 'Body of a `heartbeat` message.',
  type: 'object',
  additionalProperties: false,
  required: ['seq'],
  properties: {
    seq: { type: 'integer', description: 'increases by one per heartbeat of a sender', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
    load: { type: 'number', description: 'same measure as manifest load.cpu', minimum: 0, maximum: 1024 },
    orch: orchSummarySchema,
  },
} as const satisfies WireSchema;

export type HeartbeatBody = FromSchema<typeof heartbeatSchema>;
