// Public face of the configuration system: load, types, errors, and the schema-derived bindings.
// schemas/config.schema.json is the single source of keys, defaults, env vars and flags.
export { loadConfig, defaultDataDir, type LoadConfigOptions } from './load.ts';
export { ConfigError, type ConfigProblem, type Source } from './errors.ts';
export { bindings, configSchema, leaves, type Binding, type SchemaNode } from './schema.ts';
export type * from './types.ts';
