// The configuration schema (schemas/config.schema.json) loaded once, compiled by ajv, and
// walked to derive the env-var and CLI-flag bindings — so the schema stays the only place they live.
import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import { multiaddr } from '@multiformats/multiaddr';
import { ROOT_URL } from '../paths.ts';

/** The subset of JSON Schema draft-07 the config schema uses, plus our annotations. */
export interface SchemaNode {
  readonly type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  readonly description?: string;
  readonly properties?: Readonly<Record<string, SchemaNode>>;
  readonly additionalProperties?: boolean;
  readonly items?: SchemaNode;
  readonly anyOf?: readonly SchemaNode[];
  readonly enum?: readonly unknown[];
  readonly default?: unknown;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly exclusiveMinimum?: number;
  readonly exclusiveMaximum?: number;
  readonly minLength?: number;
  readonly uniqueItems?: boolean;
  readonly format?: string;
  /** Environment variable that sets this key. */
  readonly 'x-env'?: string;
  /** Long CLI flag (`--port`) that sets this key. */
  readonly 'x-flag'?: string;
}

/** A key that an env var and/or a CLI flag can set, as declared by `x-env` / `x-flag`. */
export interface Binding {
  /** Key path, e.g. ['node', 'listen_port']. */
  readonly path: readonly string[];
  readonly schema: SchemaNode;
  readonly env?: string;
  /** Long flag with dashes, e.g. '--max-queue'. */
  readonly flag?: string;
}

export const SCHEMA_URL = new URL('schemas/config.schema.json', ROOT_URL);

export const configSchema: SchemaNode = JSON.parse(readFileSync(SCHEMA_URL, 'utf8')) as SchemaNode;

function isMultiaddr(s: string): boolean {
  try {
    multiaddr(s);
    return true;
  } catch {
    return false;
  }
}

function compile(): ValidateFunction {
  // strict: unknown keywords are schema bugs — our annotations are registered explicitly.
  // useDefaults: the schema's defaults fill every missing key (sections default to {}).
  // coerceTypes stays off: TOML is typed; env/flag strings are coerced by sources.ts.
  const ajv = new Ajv({ strict: true, allErrors: true, useDefaults: true, coerceTypes: false });
  ajv.addKeyword({ keyword: 'x-env', schemaType: 'string' });
  ajv.addKeyword({ keyword: 'x-flag', schemaType: 'string' });
  ajv.addFormat('multiaddr', { type: 'string', validate: isMultiaddr });
  return ajv.compile(configSchema);
}

/** Validates in place: fills defaults and returns false with `validate.errors` on failure. */
export const validateConfig: ValidateFunction = compile();

/** Every leaf key of the schema (a property that is not itself a table). */
export function leaves(node: SchemaNode = configSchema, prefix: readonly string[] = []): Binding[] {
  const out: Binding[] = [];
  for (const [name, child] of Object.entries(node.properties ?? {})) {
    const path = [...prefix, name];
    if (child.type === 'object') out.push(...leaves(child, path));
    else out.push({ path, schema: child, env: child['x-env'], flag: child['x-flag'] });
  }
  return out;
}

/** Keys settable from the environment or the command line. */
export const bindings: readonly Binding[] = leaves().filter((b) => b.env !== undefined || b.flag !== undefined);

/**
 * The schema that governs the value at `path` (object keys and array indices), or undefined
 * when the path leaves the schema (an unknown key).
 */
export function schemaAt(path: readonly (string | number)[]): SchemaNode | undefined {
  let node: SchemaNode | undefined = configSchema;
  for (const seg of path) {
    if (node === undefined) return undefined;
    if (typeof seg === 'number') {
      node = node.items ?? node.anyOf?.find((s) => s.type === 'array')?.items;
    } else {
      node = node.properties?.[seg];
    }
  }
  return node;
}
