// Message types and their body schemas, each compiled once, on first use. A new message type is a
// schema module (type derived from it) plus one line in MESSAGE_BODIES, with the rules the
// schema cannot state (who must sign it, cross-field consistency) next to it.
import { Ajv, type ValidateFunction } from 'ajv';
import { envelopeSchema, type EnvelopeWire } from './envelope.ts';
import { heartbeatSchema } from './heartbeat.ts';
import { jobIdOf, workOfferSchema } from './job.ts';
import { jobAssignSchema } from './job-assign.ts';
import { jobClaimSchema } from './job-claim.ts';
import { jobStreamSchema } from './job-stream.ts';
import { manifestSchema } from './manifest.ts';
import {
  coordClaimSchema, coordRecordSchema, coordVoteSchema, decisionOutcomeSchema, decisionProposalSchema, decisionVoteSchema,
} from './orchestration.ts';
import { modelRequestSchema } from './model-request.ts';
import { receiptInconsistency, receiptSchema } from './receipt-body.ts';
import type { FromSchema, WireSchema } from './schema-types.ts';

// strict: a typo in a schema keyword fails at load, not silently at run time.
// allErrors false: stop at the first violation, so hostile input costs as little as possible.
const ajv = new Ajv({ strict: true, allErrors: false });

/** Rules of a body type beyond its schema. Both run only on a body the schema accepted. */
export interface BodyRules<B> {
  /**
   * The peer id a body says sent it (a receipt's executor, an offer's client). An envelope whose
   * `from` differs is dropped as `wrong_from`: nobody can speak for another peer.
   */
  readonly signer?: (body: B) => string;
  /** Why the body contradicts itself, or `undefined`; such a body is dropped as `schema`. */
  readonly inconsistency?: (body: B) => string | undefined;
}

export interface BodyDefinition<B> extends BodyRules<B> {
  /** File name of the schema under schemas/ (kept equal to `schema` by a test). */
  readonly file: string;
  readonly schema: WireSchema;
  readonly validate: ValidateFunction<B>;
}

/**
 * A body type. Its validator is compiled on first use, not at load: a command that checks one
 * receipt (`mvp-node submit`, `verify-receipt`) then compiles one schema instead of every one.
 * `test/unit/protocol-schemas.test.ts` compiles them all, so a bad keyword still fails a test.
 */
function defineBody<S extends WireSchema>(file: string, schema: S, rules: BodyRules<FromSchema<S>> = {}): BodyDefinition<FromSchema<S>> {
  let validate: ValidateFunction<FromSchema<S>> | undefined;
  return {
    file, schema, ...rules,
    get validate() { return (validate ??= ajv.compile<FromSchema<S>>(schema)); },
  };
}

export const MESSAGE_BODIES = {
  announce: defineBody('manifest.schema.json', manifestSchema),
  heartbeat: defineBody('heartbeat.schema.json', heartbeatSchema),
  work_offer: defineBody('job.schema.json', workOfferSchema, {
    signer: (offer) => offer.client,
    inconsistency: (offer) => {
      const derived = jobIdOf(offer);
      return offer.job_id === derived ? undefined : `job_id ${offer.job_id} is not the id its content derives (${derived})`;
    },
  }),
  job_claim: defineBody('job-claim.schema.json', jobClaimSchema, { signer: (claim) => claim.executor }),
  job_assign: defineBody('job-assign.schema.json', jobAssignSchema),
  receipt: defineBody('receipt.schema.json', receiptSchema, {
    signer: (receipt) => receipt.executor,
    inconsistency: receiptInconsistency,
  }),
  // Distributed orchestration (orchestration.ts): who may speak for whom is the whole point of
  // an election, so each body names its sender and must be signed by it.
  coord_claim: defineBody('coord-claim.schema.json', coordClaimSchema, {
    signer: (c) => c.candidate,
    inconsistency: (c) => (c.ref_epoch >= c.epoch ? `ref_epoch ${c.ref_epoch} is not below the claimed epoch ${c.epoch}` : undefined),
  }),
  coord_vote: defineBody('coord-vote.schema.json', coordVoteSchema, { signer: (v) => v.voter }),
  coord_record: defineBody('coord-record.schema.json', coordRecordSchema, {
    signer: (r) => r.holder,
    inconsistency: (r) => (r.electorate.includes(r.holder) ? undefined : 'the holder is not in its electorate'),
  }),
  decision_proposal: defineBody('decision-proposal.schema.json', decisionProposalSchema, {
    inconsistency: (p) => (p.round > p.rounds ? `round ${p.round} beyond rounds ${p.rounds}` : undefined),
  }),
  decision_vote: defineBody('decision-vote.schema.json', decisionVoteSchema),
  decision_outcome: defineBody('decision-outcome.schema.json', decisionOutcomeSchema),
  // One node asks another to load a model (model-request.ts): only the requester speaks for itself.
  model_request: defineBody('model-request.schema.json', modelRequestSchema, {
    signer: (r) => r.requester,
    inconsistency: (r) => (r.requester === r.target ? 'the requester asks itself' : undefined),
  }),
} as const;

export type MessageType = keyof typeof MESSAGE_BODIES;
export type MessageBody<T extends MessageType> =
  (typeof MESSAGE_BODIES)[T] extends BodyDefinition<infer B> ? B : never;

/** An envelope whose body has been checked against the schema of its type; `type` discriminates. */
export type Envelope<T extends MessageType = MessageType> = T extends MessageType
  ? { [K in keyof EnvelopeWire]: K extends 'type' ? T : K extends 'body' ? MessageBody<T> : EnvelopeWire[K] }
  : never;

export const MESSAGE_TYPES = Object.freeze(Object.keys(MESSAGE_BODIES) as MessageType[]);

export function isMessageType(type: unknown): type is MessageType {
  return typeof type === 'string' && Object.hasOwn(MESSAGE_BODIES, type);
}

export const validateEnvelopeWire: ValidateFunction<EnvelopeWire> = ajv.compile<EnvelopeWire>(envelopeSchema);
/** A line of the job stream (job-stream.ts); jobs/stream.ts parses what it accepts. */
export const validateJobStreamLine: ValidateFunction = ajv.compile(jobStreamSchema);

/** Every protocol schema by its file name under schemas/. */
export const PROTOCOL_SCHEMA_FILES: Readonly<Record<string, object>> = Object.freeze({
  'envelope.schema.json': envelopeSchema,
  'job-stream.schema.json': jobStreamSchema,
  ...Object.fromEntries(Object.values(MESSAGE_BODIES).map((def) => [def.file, def.schema])),
});

/** The first schema violation ajv reported, as one short line. */
export function describeErrors(validate: ValidateFunction): string {
  return ajv.errorsText(validate.errors, { dataVar: '' });
}

export type BodyProblem = { reason: 'schema' | 'wrong_from'; detail: string };

/**
 * Why an envelope's body, already accepted by the schema of its type, breaks that type's other
 * rules — or `undefined`. Consistency first (`schema`), then the signer (`wrong_from`).
 */
export function bodyProblem(type: MessageType, body: unknown, from: string): BodyProblem | undefined {
  const def = MESSAGE_BODIES[type] as BodyRules<unknown>;
  let inconsistent: string | undefined;
  try {
    inconsistent = def.inconsistency?.(body);
  } catch (err) {
    inconsistent = `cannot be checked: ${(err as Error).message}`;
  }
  if (inconsistent !== undefined) return { reason: 'schema', detail: `${type} body: ${inconsistent}` };
  const signer = def.signer?.(body);
  if (signer !== undefined && signer !== from) return { reason: 'wrong_from', detail: `${type} from ${from} names ${signer} as its sender` };
  return undefined;
}
