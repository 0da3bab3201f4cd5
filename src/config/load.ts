// loadConfig: defaults < config file < env < flags, validated once by the schema, then frozen.
// Every rejected value is reported with its key path, its source and what was expected.
import { isIPv4 } from 'node:net';
import envPaths from 'env-paths';
import type { ErrorObject } from 'ajv';
import { schemaAt, validateConfig } from './schema.ts';
import { ConfigError, describeSource, expectation, formatKey, formatValue, type ConfigProblem, type Source } from './errors.ts';
import { applyEnv, applyFlags, readConfigFile, recordFile, type Provenance, type Tree } from './sources.ts';
import type { Config } from './types.ts';

export interface LoadConfigOptions {
  /**
   * TOML file to read. When absent, `env.MVP_NODE_CONFIG` names it; when both are absent no
   * file is read (./config.toml is never picked up implicitly).
   */
  readonly file?: string;
  /** Usually `process.env`; only the `x-env` variables of the schema are read. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /**
   * Parsed CLI options, keyed by long flag name without dashes (`max-queue`) or by commander's
   * camelCase attribute (`maxQueue`) — so `command.opts()` can be passed as is. Keys that are
   * not config flags, and undefined values, are ignored. String values are coerced like env
   * values; a repeated flag's array is concatenated.
   */
  readonly flags?: Readonly<Record<string, unknown>>;
}

/** Where node state lives when `node.data_dir` is not configured (e.g. ~/.local/share/mvp-node). */
export function defaultDataDir(): string {
  return envPaths('mvp-node', { suffix: '' }).data;
}

export function loadConfig(options: LoadConfigOptions): Config {
  const { env, flags = {} } = options;
  const envFile = env.MVP_NODE_CONFIG?.trim() ? env.MVP_NODE_CONFIG : undefined;
  const file = options.file ?? envFile;

  const provenance: Provenance = new Map();
  let tree: Tree = {};
  if (file !== undefined) {
    tree = readConfigFile(file);
    recordFile(tree, { kind: 'file', file }, provenance);
  }
  applyEnv(tree, env, provenance);
  applyFlags(tree, flags, provenance);

  // Validation fills the schema defaults in place.
  if (!validateConfig(tree)) {
    throw ConfigError.invalid(problemsFrom(validateConfig.errors ?? [], tree, provenance));
  }
  const crossField = crossFieldProblems(tree, provenance);
  if (crossField.length > 0) throw ConfigError.invalid(crossField);
  const node = tree.node as Tree;
  node.data_dir ??= defaultDataDir();
  return deepFreeze(tree) as unknown as Config;
}

/** Loopback as the API binds it: 127.0.0.0/8, ::1 (also IPv4-mapped) and `localhost`. */
export function isLoopback(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost' || h === '::1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return isIPv4(v4) && v4.startsWith('127.');
}

/** Rules the schema cannot express because they tie several keys together. */
function crossFieldProblems(tree: Tree, provenance: Provenance): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const api = tree.api as { listen: string; token?: string };
  // Whoever reaches the API can inspect (and, later, control) the node: off loopback it needs a token.
  if (!isLoopback(api.listen) && api.token === undefined) {
    const path = ['api', 'listen'];
    const source = sourceOf(path, provenance);
    problems.push({
      key: formatKey(path),
      source,
      message: `api.listen = ${formatValue(api.listen)} (from ${describeSource(source)}): a non-loopback address requires api.token to be set`,
    });
  }
  // The hysteresis band of demand-driven replication must be a band.
  const models = tree.models as { replicate_wait_secs: number; unreplicate_wait_secs: number };
  if (models.replicate_wait_secs > 0 && models.unreplicate_wait_secs >= models.replicate_wait_secs) {
    const path = ['models', 'unreplicate_wait_secs'];
    const source = sourceOf(path, provenance);
    problems.push({
      key: formatKey(path),
      source,
      message: `models.unreplicate_wait_secs = ${formatValue(models.unreplicate_wait_secs)} (from ${describeSource(source)}): must be below models.replicate_wait_secs (${models.replicate_wait_secs})`,
    });
  }
  return problems;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** JSON pointer → path segments, with array indices as numbers (found by walking the data). */
function toPath(pointer: string, tree: Tree): (string | number)[] {
  if (pointer === '') return [];
  const path: (string | number)[] = [];
  let node: unknown = tree;
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node)) {
      path.push(Number(seg));
      node = node[Number(seg)];
    } else {
      path.push(seg);
      node = (node as Tree | undefined)?.[seg];
    }
  }
  return path;
}

function valueAt(tree: Tree, path: readonly (string | number)[]): unknown {
  let node: unknown = tree;
  for (const seg of path) node = (node as Record<string | number, unknown> | undefined)?.[seg];
  return node;
}

/** The source of the value at `path`: its own, or that of the list/table it sits in. */
function sourceOf(path: readonly (string | number)[], provenance: Provenance): Source {
  for (let n = path.length; n > 0; n--) {
    const source = provenance.get(formatKey(path.slice(0, n)));
    if (source) return source;
  }
  return { kind: 'default' };
}

const isUnder = (path: string, root: string) => path === root || path.startsWith(`${root}/`);

/** Turns ajv's errors into one problem per offending key. */
function problemsFrom(errors: readonly ErrorObject[], tree: Tree, provenance: Provenance): ConfigProblem[] {
  // For "a string or a list" keys ajv reports every branch; report the key once instead.
  const anyOfRoots = errors.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath);
  const problems: ConfigProblem[] = [];
  const seen = new Set<string>();
  for (const error of errors) {
    if (error.keyword === 'additionalProperties') {
      const name = (error.params as { additionalProperty: string }).additionalProperty;
      const path = [...toPath(error.instancePath, tree), name];
      const key = formatKey(path);
      const source = sourceOf(path, provenance);
      problems.push({ key, source, message: `unknown key ${key} (from ${describeSource(source)})` });
      continue;
    }
    const root = anyOfRoots.find((r) => isUnder(error.instancePath, r));
    const pointer = root ?? error.instancePath;
    if (seen.has(pointer)) continue;
    seen.add(pointer);
    const path = toPath(pointer, tree);
    const key = formatKey(path);
    const schema = schemaAt(path);
    const source = sourceOf(path, provenance);
    const expected = schema ? expectation(schema) : 'a valid value';
    problems.push({
      key,
      source,
      message: `${key || '(root)'} = ${formatValue(valueAt(tree, path))} (from ${describeSource(source)}): must be ${expected}`,
    });
  }
  return problems;
}
