// The capability manifest a node announces (`announce` body): who it is, what models it runs,
// how much room it has. Every field is bounded so a hostile announce cannot be large.
import type { FromSchema, WireSchema } from './schema-types.ts';

const count = (maximum: number) => ({ type: 'integer', minimum: 0, maximum }) as const;

export const modelSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'sha256', 'params', 'quantization', 'context_length', 'test_model'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 128 },
    sha256: { type: 'string', description: 'sha256 of the GGUF file, lowercase hex', minLength: 64, maxLength: 64, pattern: '^[0-9a-f]{64}$' },
    params: { type: 'integer', description: 'parameter count', minimum: 0, maximum: 1_000_000_000_000 },
    quantization: { type: 'string', description: 'e.g. q4_0, f16', minLength: 1, maxLength: 32 },
    context_length: { type: 'integer', minimum: 1, maximum: 10_000_000 },
    test_model: { type: 'boolean', description: 'random-weight test model: runs at real speed, output is meaningless' },
    merkle_root: {
      type: 'string', description: 'root of the Merkle tree over the file\'s 1 MiB chunks (src/models/merkle.ts), lowercase hex: peers fetch the file by it',
      minLength: 64, maxLength: 64, pattern: '^[0-9a-f]{64}$',
    },
    size: { type: 'integer', description: 'file size in bytes', minimum: 0, maximum: 1_000_000_000_000 },
    offer_shard: {
      type: 'string', description: 'protocol 2.0: the offer shard this node hears the model\'s offers on, "shard/count" (topic mvp/offers/<sha256>/<shard>)',
      maxLength: 9, pattern: '^\\d{1,4}/\\d{1,4}$',
    },
  },
} as const satisfies WireSchema;

export const manifestSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'mvp-node capability manifest',
  description: 'Body of an `announce` message.',
  type: 'object',
  additionalProperties: false,
  required: ['node_id', 'peer_id', 'versions', 'addrs', 'models', 'capacity', 'load', 'policies', 'started_at'],
  properties: {
    node_id: { type: 'string', minLength: 1, maxLength: 128 },
    peer_id: { type: 'string', minLength: 16, maxLength: 128, pattern: '^[A-Za-z0-9]+$' },
    versions: {
      type: 'array', description: 'protocol versions spoken', minItems: 1, maxItems: 16,
      items: { type: 'string', maxLength: 13, pattern: '^\\d{1,6}\\.\\d{1,6}$' },
    },
    addrs: {
      type: 'array', description: 'multiaddrs the node listens on', maxItems: 32,
      items: { type: 'string', minLength: 1, maxLength: 512, pattern: '^/' },
    },
    models: { type: 'array', maxItems: 64, items: modelSchema },
    capacity: {
      type: 'object',
      additionalProperties: false,
      required: ['max_queue', 'slots'],
      properties: { max_queue: count(1_000_000), slots: count(1024) },
    },
    load: {
      type: 'object',
      additionalProperties: false,
      required: ['queue_depth', 'busy_slots', 'cpu', 'mem_free_mb'],
      properties: {
        queue_depth: count(1_000_000),
        busy_slots: count(1024),
        cpu: { type: 'number', description: '1-minute load average per core: 1 = all cores busy, above 1 = oversubscribed', minimum: 0, maximum: 1024 },
        mem_free_mb: { type: 'number', minimum: 0, maximum: 1_000_000_000 },
      },
    },
    policies: {
      type: 'object',
      additionalProperties: false,
      required: ['auto_accept_peers', 'max_peers'],
      properties: { auto_accept_peers: { type: 'boolean' }, max_peers: count(100_000) },
    },
    mode: { type: 'string', minLength: 1, maxLength: 32 },
    started_at: { type: 'integer', description: 'ms since epoch', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
  },
} as const satisfies WireSchema;

export type Manifest = FromSchema<typeof manifestSchema>;
export type ModelManifest = FromSchema<typeof modelSchema>;
