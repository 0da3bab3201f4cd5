// The JSON Schema subset our wire schemas are written in, and the TypeScript type each schema
// accepts. Types are derived from the schema objects, so a schema and its type cannot drift.
//
// The subset forces what a hostile peer must not be able to exploit: every string has a
// maxLength, every number a range, every array a maxItems, every object with known fields
// `additionalProperties: false`. A schema that forgets one of these does not type-check.

interface Annotations {
  $schema?: string;
  $id?: string;
  title?: string;
  description?: string;
}

export interface StringSchema extends Annotations {
  type: 'string';
  minLength?: number;
  maxLength: number;
  pattern?: string;
  enum?: readonly string[];
}

export interface NumberSchema extends Annotations {
  type: 'number' | 'integer';
  minimum: number;
  maximum: number;
  /** Documents the value an absent field means; not applied by the validator. */
  default?: number;
}

export interface BooleanSchema extends Annotations {
  type: 'boolean';
}

export interface ArraySchema extends Annotations {
  type: 'array';
  items: WireSchema;
  minItems?: number;
  maxItems: number;
  uniqueItems?: boolean;
}

export interface ObjectSchema extends Annotations {
  type: 'object';
  additionalProperties: false;
  required: readonly string[];
  properties: { readonly [name: string]: WireSchema };
}

/** An object whose content another schema checks (the envelope's `body`, checked per type). */
export interface OpaqueObjectSchema extends Annotations {
  type: 'object';
  properties?: never;
  required?: never;
  additionalProperties?: never;
}

export type WireSchema =
  | StringSchema | NumberSchema | BooleanSchema | ArraySchema | ObjectSchema | OpaqueObjectSchema;

/** The value type a schema (declared `as const`) accepts. */
export type FromSchema<S> =
  S extends { type: 'string'; enum: readonly (infer E)[] } ? E
  : S extends { type: 'string' } ? string
  : S extends { type: 'number' | 'integer' } ? number
  : S extends { type: 'boolean' } ? boolean
  : S extends { type: 'array'; items: infer I } ? FromSchema<I>[]
  : S extends { type: 'object'; properties: infer P; required: readonly (infer R)[] }
    ? ObjectFrom<P, R & keyof P>
  : S extends { type: 'object' } ? { [key: string]: unknown }
  : never;

type ObjectFrom<P, R extends keyof P> = Flatten<
  { -readonly [K in R]: FromSchema<P[K]> } & { -readonly [K in Exclude<keyof P, R>]?: FromSchema<P[K]> }
>;

type Flatten<T> = T extends infer O ? { [K in keyof O]: O[K] } : never;
