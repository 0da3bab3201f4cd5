// `work_offer` body (schemas/job.schema.json): a job a client offers to the network, and how its
// id is derived from its content, so the same job always has the same id and never runs twice.
import { randomBytes } from 'node:crypto';
import { canonicalBytes } from './envelope.ts';
import { epochMsField, jobIdField, modelNameField, peerIdField, sha256Field, sha256Hex } from './fields.ts';
import type { FromSchema, WireSchema } from './schema-types.ts';

export const JOB_PRIORITIES = ['high', 'normal', 'low'] as const;
export type JobPriority = (typeof JOB_PRIORITIES)[number];

/** What an offer without `value` is worth to the decision router. */
export const DEFAULT_JOB_VALUE = 1;
export const MAX_JOB_TOKENS = 32_768;

/**
 * The prompt is not in the offer: gossip reaches every node, prompts may be private and up to a
 * context long. The offer carries its sha256; the prompt goes over the direct `/mvp/job` stream
 * to the assigned executor only, which checks it against `prompt_sha256` before running it.
 */
export const workOfferSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'mvp-node job offer',
  description: 'Body of a `work_offer` message. Sent by the client (envelope from = client). The prompt itself travels over the direct job stream to the assigned executor, never over gossip.',
  type: 'object',
  additionalProperties: false,
  required: ['job_id', 'client', 'model', 'prompt_sha256', 'max_tokens', 'temperature', 'priority', 'requirements', 'nonce'],
  properties: {
    job_id: { ...jobIdField, description: 'deriveJobId({ client, model, prompt_sha256, params: { max_tokens, temperature, seed? }, nonce }): sha256 hex of that object\'s RFC 8785 canonical JSON; receivers recompute it' },
    client: { ...peerIdField, description: 'peer id of the client; must be the envelope\'s from' },
    model: { ...modelNameField, description: 'name of the model to run' },
    prompt_sha256: { ...sha256Field, description: 'sha256 of the prompt\'s UTF-8 bytes' },
    max_tokens: { type: 'integer', description: 'most tokens to generate', minimum: 1, maximum: MAX_JOB_TOKENS },
    temperature: { type: 'number', description: 'sampling temperature; 0 = greedy', minimum: 0, maximum: 2 },
    seed: { type: 'integer', description: 'sampling seed, for reproducible output', minimum: 0, maximum: 0xffff_ffff },
    priority: { type: 'string', maxLength: 6, enum: JOB_PRIORITIES },
    value: { type: 'number', description: 'what the job is worth to the client, for the decision router; absent = 1', minimum: 0, maximum: 1e12, default: DEFAULT_JOB_VALUE },
    reward: { type: 'number', description: 'reward offered to the executor', minimum: 0, maximum: 1e12 },
    requirements: {
      type: 'object',
      description: 'what an executor must offer to claim the job',
      additionalProperties: false,
      required: [],
      properties: {
        min_context: { type: 'integer', description: 'smallest context length, tokens', minimum: 1, maximum: 10_000_000 },
        max_latency_ms: { type: 'integer', description: 'longest acceptable wait for the first token, ms', minimum: 1, maximum: 86_400_000 },
        model: { ...sha256Field, description: 'sha256 of the exact model file required: pins the file behind the name `model`' },
      },
    },
    deadline_ms: { ...epochMsField, description: 'absolute time (ms since epoch) after which the result is of no use to the client' },
    nonce: { type: 'string', description: 'chosen by the client: a new nonce makes the same content a new job; newJobNonce() draws one', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' },
  },
} as const satisfies WireSchema;

export type WorkOfferBody = FromSchema<typeof workOfferSchema>;

/** The generation parameters that enter a job's identity: they change what gets computed. */
export interface JobParams {
  max_tokens: number;
  temperature: number;
  seed?: number;
}

export interface JobIdentity {
  client: string;
  model: string;
  prompt_sha256: string;
  params: JobParams;
  nonce: string;
}

/**
 * A job's id: the lowercase hex sha256 of the RFC 8785 canonical JSON of
 * `{ client, model, nonce, params: { max_tokens, seed?, temperature }, prompt_sha256 }`
 * (an absent seed is absent, not null). Same content and nonce → same id, so a re-published
 * offer is recognised as the same job; the client's peer id is part of it, so nobody else can
 * publish an offer that takes a client's job id. Priority, value, reward, requirements and
 * deadline are not part of it: they say how the network treats the job, not what it computes.
 * Throws TypeError on values JSON cannot carry (NaN, lone surrogates).
 */
export function deriveJobId(job: JobIdentity): string {
  const params: JobParams = { max_tokens: job.params.max_tokens, temperature: job.params.temperature };
  if (job.params.seed !== undefined) params.seed = job.params.seed;
  return sha256Hex(canonicalBytes({
    client: job.client, model: job.model, prompt_sha256: job.prompt_sha256, params, nonce: job.nonce,
  }));
}

/** The id an offer's content derives; an offer whose job_id differs is refused as `schema`. */
export function jobIdOf(offer: Omit<WorkOfferBody, 'job_id'>): string {
  const params: JobParams = { max_tokens: offer.max_tokens, temperature: offer.temperature };
  if (offer.seed !== undefined) params.seed = offer.seed;
  return deriveJobId({ client: offer.client, model: offer.model, prompt_sha256: offer.prompt_sha256, params, nonce: offer.nonce });
}

/** 16 random bytes, base64url (22 characters). */
export function newJobNonce(): string {
  return randomBytes(16).toString('base64url');
}

/** What the decision router should count the job as worth. */
export function jobValue(offer: Pick<WorkOfferBody, 'value'>): number {
  return offer.value ?? DEFAULT_JOB_VALUE;
}

/** A complete offer from its content: draws a nonce when none is given and derives the job id. */
export function buildWorkOffer(content: Omit<WorkOfferBody, 'job_id' | 'nonce'> & { nonce?: string }): WorkOfferBody {
  const offer = { ...content, nonce: content.nonce ?? newJobNonce() };
  return { job_id: jobIdOf(offer), ...offer };
}
