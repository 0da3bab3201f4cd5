// `receipt` body (schemas/receipt.schema.json): what an executor did for a job. Signed inside a
// `receipt` envelope by the executor's key, it proves that to anyone (see receipt.ts).
import { epochMsField, jobIdField, modelNameField, peerIdField, sha256Field } from './fields.ts';
import type { FromSchema, WireSchema } from './schema-types.ts';

export const RECEIPT_STATUSES = ['completed', 'failed', 'cancelled', 'timeout'] as const;
export type ReceiptStatus = (typeof RECEIPT_STATUSES)[number];
/**
 * The `reason` of a failed receipt by which a draining (shutting down) executor gives back a job
 * it could not finish in time: the job is not over, its client offers it again, and the receipt
 * of that next run replaces this one in every receipt book. A scheduler's result for a queued
 * job it handed back carries the same reason.
 */
export const DRAIN_REASON = 'drain';

const durationMs = (description: string) => ({ type: 'number', description, minimum: 0, maximum: 1e10 }) as const;

export const receiptSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'mvp-node execution receipt',
  description: 'Body of a `receipt` message, signed by the executor (envelope from = executor). The envelope is the verifiable receipt: its signature checks with the public key in `from`, and stays valid forever. A status other than completed carries a reason; finished_at is not before started_at.',
  type: 'object',
  additionalProperties: false,
  required: [
    'job_id', 'executor', 'client', 'model', 'model_sha256', 'input_sha256', 'output_sha256',
    'tokens_in', 'tokens_out', 'timings', 'status', 'started_at', 'finished_at',
  ],
  properties: {
    job_id: jobIdField,
    executor: { ...peerIdField, description: 'peer id of the node that ran the job; must be the envelope\'s from' },
    client: { ...peerIdField, description: 'peer id of the client that offered the job' },
    model: modelNameField,
    model_sha256: { ...sha256Field, description: 'sha256 of the model file that ran' },
    input_sha256: { ...sha256Field, description: 'sha256 of the prompt\'s UTF-8 bytes (equals the offer\'s prompt_sha256)' },
    output_sha256: { ...sha256Field, description: 'sha256 of the generated text\'s UTF-8 bytes (empty text when nothing was generated)' },
    tokens_in: { type: 'integer', description: 'prompt tokens', minimum: 0, maximum: 10_000_000 },
    tokens_out: { type: 'integer', description: 'generated tokens', minimum: 0, maximum: 10_000_000 },
    timings: {
      type: 'object',
      additionalProperties: false,
      required: ['queue_ms', 'load_ms', 'first_token_ms', 'generation_ms', 'tokens_per_s'],
      properties: {
        queue_ms: durationMs('from arrival at the executor to the start of inference'),
        load_ms: durationMs('model loading this job waited for (0 when already loaded)'),
        first_token_ms: durationMs('from the start of inference to the first generated token'),
        generation_ms: durationMs('from the start of inference to the last generated token'),
        tokens_per_s: { type: 'number', description: 'tokens_out over generation time', minimum: 0, maximum: 1e7 },
      },
    },
    status: { type: 'string', maxLength: 9, enum: RECEIPT_STATUSES },
    reason: { type: 'string', description: 'why the job did not complete; required unless status is completed', minLength: 1, maxLength: 512 },
    started_at: { ...epochMsField, description: 'executor clock when the job arrived, ms since epoch' },
    finished_at: { ...epochMsField, description: 'executor clock when the job ended, ms since epoch' },
  },
} as const satisfies WireSchema;

export type ReceiptBody = FromSchema<typeof receiptSchema>;
export type ReceiptTimings = ReceiptBody['timings'];

/** Rules the schema cannot state; `undefined` when the body keeps them. */
export function receiptInconsistency(body: ReceiptBody): string | undefined {
  if (body.finished_at < body.started_at) return `finished_at ${body.finished_at} is before started_at ${body.started_at}`;
  if (body.status !== 'completed' && body.reason === undefined) return `status ${body.status} without a reason`;
  return undefined;
}
