// The three places configuration comes from — a TOML file, MVP_NODE_* env vars, CLI flags —
// each turned into a partial config plus a record of which source set which key.
import { readFileSync } from 'node:fs';
import { parse as parseToml, TomlError } from 'smol-toml';
import { bindings, type SchemaNode } from './schema.ts';
import { ConfigError, formatKey, type Source } from './errors.ts';

export type Tree = Record<string, unknown>;

/** Key path (as `formatKey` writes it) → the source that set it. */
export type Provenance = Map<string, Source>;

export function isTable(v: unknown): v is Tree {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/** smol-toml builds tables with a null prototype; the config is handed out as plain objects. */
function toPlain(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toPlain);
  if (isTable(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toPlain(v)]));
  return value;
}

/** Reads and parses a TOML config file; unreadable files and syntax errors become ConfigErrors. */
export function readConfigFile(file: string): Tree {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    // Node's message is "ENOENT: no such file or directory, open './x.toml'": drop the repeated path.
    const reason = (e.message ?? String(err)).replace(/, \w+ '.*'$/, '');
    throw new ConfigError(`Cannot read config file ${file}: ${reason}`, undefined, { cause: err });
  }
  try {
    return toPlain(parseToml(text)) as Tree;
  } catch (err) {
    if (err instanceof TomlError) {
      const reason = err.message.split('\n')[0]!.replace(/^Invalid TOML document: /, '');
      const excerpt = err.codeblock ? `\n${err.codeblock.replace(/\n+$/, '')}` : '';
      throw new ConfigError(
        `Invalid TOML in ${file} at line ${err.line}, column ${err.column}: ${reason}${excerpt}`,
        undefined,
        { cause: err },
      );
    }
    throw err;
  }
}

/** Records `source` for every key (tables included) present in a parsed file. */
export function recordFile(tree: Tree, source: Source, provenance: Provenance, prefix: string[] = []): void {
  for (const [key, value] of Object.entries(tree)) {
    const path = [...prefix, key];
    provenance.set(formatKey(path), source);
    if (isTable(value)) recordFile(value, source, provenance, path);
  }
}

function accepts(schema: SchemaNode, type: NonNullable<SchemaNode['type']>): boolean {
  return schema.type === type || (schema.anyOf?.some((s) => s.type === type) ?? false);
}

function splitList(raw: string): string[] {
  return raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

/**
 * Turns an env/flag string into the schema's type. A string that does not fit is returned
 * unchanged, so validation reports it with the key, the source and the expectation.
 * Lists are comma-separated; a key that takes "a string or a list" stays a string without commas.
 */
export function coerceString(raw: string, schema: SchemaNode): unknown {
  const text = raw.trim();
  if (accepts(schema, 'array') && (!accepts(schema, 'string') || text.includes(','))) {
    const items = schema.items ?? schema.anyOf?.find((s) => s.type === 'array')?.items;
    return splitList(text).map((item) => (items ? coerceString(item, items) : item));
  }
  if (accepts(schema, 'integer')) return /^[+-]?\d+$/.test(text) ? Number(text) : raw;
  if (accepts(schema, 'number')) {
    return /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text) ? Number(text) : raw;
  }
  if (accepts(schema, 'boolean')) {
    const lower = text.toLowerCase();
    if (TRUE.has(lower)) return true;
    if (FALSE.has(lower)) return false;
    return raw;
  }
  return raw;
}

/** Coerces a flag value: strings like env values; repeated flags (arrays) are concatenated. */
function coerceFlag(value: unknown, schema: SchemaNode): unknown {
  if (typeof value === 'string') return coerceString(value, schema);
  if (!Array.isArray(value)) return value;
  const parts = value.flatMap((v) => {
    if (typeof v !== 'string') return [v];
    const c = coerceString(v, schema);
    return Array.isArray(c) ? c : [c];
  });
  if (!accepts(schema, 'array')) return parts.at(-1);
  return parts.length === 1 && accepts(schema, 'string') ? parts[0] : parts;
}

/** Sets a leaf, creating tables on the way; a non-table in the way is left for validation to report. */
function setLeaf(tree: Tree, path: readonly string[], value: unknown): boolean {
  let node = tree;
  for (const seg of path.slice(0, -1)) {
    const next = node[seg];
    if (next === undefined) node = node[seg] = {};
    else if (isTable(next)) node = next;
    else return false;
  }
  node[path.at(-1)!] = value;
  return true;
}

/** Applies every `MVP_NODE_*` variable the schema declares. Empty values count as unset. */
export function applyEnv(tree: Tree, env: Readonly<Record<string, string | undefined>>, provenance: Provenance): void {
  for (const b of bindings) {
    if (b.env === undefined) continue;
    const raw = env[b.env];
    if (raw === undefined || raw.trim() === '') continue;
    if (setLeaf(tree, b.path, coerceString(raw, b.schema))) {
      provenance.set(formatKey(b.path), { kind: 'env', name: b.env });
    }
  }
}

/** `--max-queue` → 'maxQueue', the key commander uses in `opts()`. */
export function camelName(flag: string): string {
  return flag.replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/**
 * Applies CLI flags. A flag is looked up by its long name without dashes (`max-queue`) or by
 * commander's camelCase attribute (`maxQueue`); other keys and undefined values are ignored.
 */
export function applyFlags(tree: Tree, flags: Readonly<Record<string, unknown>>, provenance: Provenance): void {
  for (const b of bindings) {
    if (b.flag === undefined) continue;
    const value = flags[b.flag.replace(/^--/, '')] ?? flags[camelName(b.flag)];
    if (value === undefined) continue;
    if (setLeaf(tree, b.path, coerceFlag(value, b.schema))) {
      provenance.set(formatKey(b.path), { kind: 'flag', flag: b.flag });
    }
  }
}
