// Body of a `model_request` message, gossiped on `mvp/1/orch`: one node asks another (the
// target) to serve a model it may not hold yet (or, `release`, to stop serving one it loaded
// for demand). The target pulls it from the peers that announce
// it (/mvp/model/1.0.0) and loads it — only within its own policy (`[models] accept_replication`,
// `replicate_allow`, `max_pulled_mib`, and for a migration its orchestrator's allowed_actions).
// It answers by doing: the requester learns the outcome from the target's manifest. Sent by the
// requester (`requester` must be the envelope's `from`).
import { epochMsField, modelNameField, peerIdField, sha256Field } from './fields.ts';
import type { FromSchema, WireSchema } from './schema-types.ts';

/**
 * migrate: an orchestrator's migrate_context; replicate: the model group's replication decision;
 * release: the group's coordinator asks a replica it added for demand to unload (demand fell).
 */
export const MODEL_REQUEST_REASONS = ['migrate', 'replicate', 'release'] as const;

export const modelRequestSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'mvp-node model request',
  description: 'Body of a `model_request` message: the requester asks the target to pull (if it lacks it) and load a model. Sent by the requester.',
  type: 'object',
  additionalProperties: false,
  required: ['request_id', 'requester', 'target', 'model', 'reason', 'expires_at'],
  properties: {
    request_id: { type: 'string', minLength: 8, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' },
    requester: { ...peerIdField, description: 'peer id of the node asking; must be the envelope\'s from' },
    target: { ...peerIdField, description: 'peer id of the node asked to load the model' },
    model: {
      type: 'object', additionalProperties: false, required: ['name', 'sha256'],
      properties: { name: { ...modelNameField, pattern: '^[A-Za-z0-9._-]+$' }, sha256: sha256Field },
    },
    reason: { type: 'string', enum: MODEL_REQUEST_REASONS, maxLength: 16 },
    expires_at: { ...epochMsField, description: 'the target ignores the request after this time (ms since epoch)' },
  },
} as const satisfies WireSchema;

export type ModelRequestBody = FromSchema<typeof modelRequestSchema>;
