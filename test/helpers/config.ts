// A validated config for tests: the defaults, plus overrides written as a TOML file and loaded
// through the real loader (so tests cannot build a config the schema would refuse).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'smol-toml';
import { loadConfig } from '../../src/config/index.ts';
import type { Config } from '../../src/config/types.ts';

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? (T[K] extends readonly unknown[] ? T[K] : DeepPartial<T[K]>) : T[K] };

export function tmpDir(prefix = 'mvp-node-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function testConfig(overrides: DeepPartial<Config> = {}): Config {
  const dir = tmpDir();
  const base = { node: { data_dir: dir }, network: { mdns_enabled: false }, monitoring: { log_level: 'error' } };
  const merged = merge(base, overrides as Record<string, unknown>);
  const file = join(dir, 'config.toml');
  writeFileSync(file, stringify(merged));
  return loadConfig({ file, env: {} });
}

function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && cur && typeof cur === 'object' && !Array.isArray(cur)
      ? merge(cur as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}
