// Message types and their body schemas, compiled once at module load. A new message type is a
// schema module (type derived from it) plus one line in MESSAGE_BODIES.
import { Ajv, type ValidateFunction } from 'ajv';
import { envelopeSchema, type EnvelopeWire } from './envelope.ts';
import { heartbeatSchema } from './heartbeat.ts';
import { manifestSchema } from './manifest.ts';
import type { FromSchema, WireSchema } from './schema-types.ts';

// strict: a typo in a schema keyword fails at load, not silently at run time.
// allErrors false: stop at the first violation, so hostile input costs as little as possible.
const ajv = new Ajv({ strict: true, allErrors: false });

export interface BodyDefinition<B> {
  /** File name of the schema under schemas/ (kept equal to `schema` by a test). */
  readonly file: string;
  readonly schema: WireSchema;
  readonly validate: ValidateFunction<B>;
}

function defineBody<S extends WireSchema>(file: string, schema: S): BodyDefinition<FromSchema<S>> {
  return { file, schema, validate: ajv.compile<FromSchema<S>>(schema) };
}

export const MESSAGE_BODIES = {
  announce: defineBody('manifest.schema.json', manifestSchema),
  heartbeat: defineBody('heartbeat.schema.json', heartbeatSchema),
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

/** Every protocol schema by its file name under schemas/. */
export const PROTOCOL_SCHEMA_FILES: Readonly<Record<string, WireSchema>> = Object.freeze({
  'envelope.schema.json': envelopeSchema,
  ...Object.fromEntries(Object.values(MESSAGE_BODIES).map((def) => [def.file, def.schema])),
});

/** The first schema violation ajv reported, as one short line. */
export function describeErrors(validate: ValidateFunction): string {
  return ajv.errorsText(validate.errors, { dataVar: '' });
}
