// ConfigError: every way a configuration can be wrong, reported in one error that names the key
// path, where the value came from (file / env var / flag) and what the schema expected.
import type { SchemaNode } from './schema.ts';
import { CodedError } from '../errors/registry.ts';

/** Where a value came from, as shown to the user: `file ./config.toml`, `env MVP_NODE_PORT`, `flag --port`. */
export type Source =
  | { readonly kind: 'file'; readonly file: string }
  | { readonly kind: 'env'; readonly name: string }
  | { readonly kind: 'flag'; readonly flag: string }
  | { readonly kind: 'default' };

export function describeSource(source: Source): string {
  switch (source.kind) {
    case 'file': return `file ${source.file}`;
    case 'env': return `env ${source.name}`;
    case 'flag': return `flag ${source.flag}`;
    case 'default': return 'default';
  }
}

/** One thing wrong with the configuration; `message` is the full human-readable line. */
export interface ConfigProblem {
  /** Key path as written in TOML, e.g. `node.listen_port` or `network.bootstrap_peers[1]`; absent for file-level problems. */
  readonly key?: string;
  readonly source?: Source;
  readonly message: string;
}

/** Invalid or unreadable configuration. The CLI prints `Error: <message>` and exits with `exitCode` (2, the registry's). */
export class ConfigError extends CodedError {
  override readonly name = 'ConfigError';
  readonly problems: readonly ConfigProblem[];

  constructor(message: string, problems: readonly ConfigProblem[] = [{ message }], options?: ErrorOptions) {
    super('invalid_config', message, options);
    this.problems = problems;
  }

  /** One error for a list of validation problems: a single line for one, a list for several. */
  static invalid(problems: readonly ConfigProblem[]): ConfigError {
    const lines = problems.map((p) => p.message);
    const message = lines.length === 1
      ? `Invalid configuration: ${lines[0]}`
      : `Invalid configuration (${lines.length} problems):\n${lines.map((l) => `  - ${l}`).join('\n')}`;
    return new ConfigError(message, problems);
  }
}

/** A key path as the user writes it: `runtime.placement.api`, `network.bootstrap_peers[0]`. */
export function formatKey(path: readonly (string | number)[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += (out === '' ? '' : '.') + (/^[A-Za-z0-9_-]+$/.test(seg) ? seg : JSON.stringify(seg));
  }
  return out;
}

/** A value as shown in an error: JSON, shortened. */
export function formatValue(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function range(s: SchemaNode): string {
  const lo = s.minimum;
  const hi = s.maximum;
  if (lo !== undefined && hi !== undefined) return ` between ${lo} and ${hi}`;
  const parts: string[] = [];
  if (lo !== undefined) parts.push(`at least ${lo}`);
  if (s.exclusiveMinimum !== undefined) parts.push(`greater than ${s.exclusiveMinimum}`);
  if (hi !== undefined) parts.push(`at most ${hi}`);
  if (s.exclusiveMaximum !== undefined) parts.push(`less than ${s.exclusiveMaximum}`);
  return parts.length === 0 ? '' : ` ${parts.join(' and ')}`;
}

/** What a value must be, as a noun phrase: `an integer between 0 and 65535`. */
export function expectation(s: SchemaNode): string {
  if (s.anyOf) return s.anyOf.map(expectation).join(' or ');
  if (s.enum) return `one of ${s.enum.map(String).join(', ')}`;
  switch (s.type) {
    case 'integer': return `an integer${range(s)}`;
    case 'number': return `a number${range(s)}`;
    case 'boolean': return 'true or false';
    case 'string':
      if (s.format === 'multiaddr') return 'a multiaddr such as /ip4/127.0.0.1/tcp/4001';
      return (s.minLength ?? 0) > 0 ? 'a non-empty string' : 'a string';
    case 'array': {
      const each = s.items ? ` whose items are each ${expectation(s.items)}` : '';
      return `an array${each}${s.uniqueItems ? ', without duplicates' : ''}`;
    }
    case 'object': return 'a table';
    default: return 'a valid value';
  }
}
