// The schema is the single source of truth: the Config interface, the example config.toml and the
// env/flag bindings must all agree with it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { bindings, configSchema, leaves, type SchemaNode } from '../../src/config/index.ts';
import { formatKey } from '../../src/config/errors.ts';
import { validateConfig } from '../../src/config/schema.ts';
import type { Config } from '../../src/config/types.ts';

/** Every key of T, required, down to the leaves — checked by tsc against the interface. */
type Shape<T> = {
  [K in keyof T]-?: NonNullable<T[K]> extends readonly unknown[] ? true
    : NonNullable<T[K]> extends object ? Shape<NonNullable<T[K]>> : true;
};

// tsc rejects this literal if the interface gains, loses or renames a key; the test below
// rejects it if the schema does. Together the interface cannot drift from the schema.
const CONFIG_SHAPE: Shape<Config> = {
  node: { node_id: true, listen_port: true, listen_host: true, data_dir: true },
  network: {
    bootstrap_peers: true, max_peers: true, auto_accept_peers: true, mdns_enabled: true,
    announce_interval_secs: true, offer_scope: true, offer_shard_size: true, bootstrap_retry_max_secs: true, receipt_replicas: true, swarm_key: true,
  },
  model: { path: true, max_context_length: true, threads: true, batch_threads: true, name: true, sequences: true },
  models: { share: true, share_max_mib_per_sec: true, share_chunks_per_peer_per_sec: true, min_replicas: true, accept_replication: true, replicate_allow: true, pinned: true, max_pulled_mib: true, replicate_wait_secs: true, unreplicate_wait_secs: true, replicate_after_secs: true, replicate_count: true },
  executor: { max_queue_size: true, job_timeout_secs: true, max_load_per_core: true, drain_timeout_secs: true },
  monitoring: { log_level: true, metrics_enabled: true, health_check_interval_secs: true },
  orchestrator: {
    enabled: true, model_path: true, model_type: true, device: true, decision_timeout_ms: true,
    generation: { max_tokens: true, temperature: true, top_p: true, repetition_penalty: true },
    cache: { enabled: true, max_entries: true, ttl_seconds: true },
    training: { collect_data: true, export_path: true, auto_export_threshold: true, outcome_delay_secs: true },
    safety: { allowed_actions: true, max_confidence_threshold: true, require_confirmation_above: true, confirmation_timeout_secs: true },
  },
  distributed_orchestration: {
    enabled: true, mode: true, coordinator: true, rotation_trigger: true, high_value_threshold: true, complexity_threshold: true,
    min_nodes_per_group: true, max_groups_per_node: true, council_size: true, heartbeat_timeout_secs: true,
    consensus_timeout_ms: true, max_consensus_rounds: true, base_consensus_threshold: true,
  },
  api: { enabled: true, listen: true, port: true, token: true, gateway_timeout_secs: true },
  store: { receipts_max_age_days: true, receipts_max_count: true, jobs_max_age_days: true, jobs_max_count: true },
  runtime: {
    placement: { store: true, network: true, scheduler: true, orchestrator: true, consensus: true, api: true, inference: true },
    restart_intensity: true, restart_period_secs: true, shutdown_timeout_ms: true,
  },
};

function schemaShape(node: SchemaNode): unknown {
  return Object.fromEntries(Object.entries(node.properties ?? {}).map(([k, v]) => [k, v.type === 'object' ? schemaShape(v) : true]));
}

function tables(node: SchemaNode, path: string[] = []): { path: string[]; node: SchemaNode }[] {
  return [{ path, node }, ...Object.entries(node.properties ?? {})
    .filter(([, v]) => v.type === 'object')
    .flatMap(([k, v]) => tables(v, [...path, k]))];
}

describe('config schema', () => {
  it('has exactly the keys of the Config interface', () => {
    assert.deepEqual(schemaShape(configSchema), CONFIG_SHAPE);
  });

  it('closes every table (unknown keys are errors) and defaults every section to {}', () => {
    for (const { path, node } of tables(configSchema)) {
      assert.equal(node.additionalProperties, false, `${formatKey(path) || '(root)'} must set additionalProperties: false`);
      if (path.length > 0) assert.deepEqual(node.default, {}, `${formatKey(path)} needs default {} so its keys get defaults`);
    }
  });

  it('describes every key', () => {
    for (const leaf of leaves()) assert.ok(leaf.schema.description, `${formatKey(leaf.path)} has no description`);
  });

  it('gives every key a default except the documented optional ones', () => {
    const optional = leaves().filter((l) => l.schema.default === undefined).map((l) => formatKey(l.path));
    assert.deepEqual(optional.sort(), [
      'api.token', 'distributed_orchestration.coordinator', 'model.batch_threads', 'model.name', 'model.path', 'model.threads', 'network.swarm_key', 'node.data_dir', 'node.node_id', 'orchestrator.model_path',
    ]);
  });

  it('has defaults that pass its own validation', () => {
    const data = {};
    assert.ok(validateConfig(data), JSON.stringify(validateConfig.errors));
  });

  it('binds the seed README\'s env vars and flags, plus MVP_NODE_API_PORT, MVP_NODE_API_TOKEN and MVP_NODE_SWARM_KEY', () => {
    const table = Object.fromEntries(bindings.map((b) => [formatKey(b.path), [b.env, b.flag]]));
    assert.deepEqual(table, {
      'node.node_id': ['MVP_NODE_NODE_ID', '--node-id'],
      'node.listen_port': ['MVP_NODE_PORT', '--port'],
      'node.data_dir': ['MVP_NODE_DATA_DIR', '--data-dir'],
      'network.bootstrap_peers': ['MVP_NODE_BOOTSTRAP', '--bootstrap'],
      'network.mdns_enabled': ['MVP_NODE_MDNS', undefined],
      'network.swarm_key': ['MVP_NODE_SWARM_KEY', undefined],
      'model.path': ['MVP_NODE_MODEL', '--model'],
      'executor.max_queue_size': ['MVP_NODE_MAX_QUEUE', '--max-queue'],
      'monitoring.log_level': ['MVP_NODE_LOG_LEVEL', '--log-level'],
      'api.port': ['MVP_NODE_API_PORT', undefined],
      'api.token': ['MVP_NODE_API_TOKEN', undefined],
    });
  });
});

describe('config.toml', () => {
  const text = readFileSync(new URL('../../config.toml', import.meta.url), 'utf8');

  it('mentions every key of the schema, set or commented out', () => {
    for (const leaf of leaves()) {
      const key = leaf.path.at(-1)!;
      const table = leaf.path.slice(0, -1).join('.');
      const section = text.split(/^\[/m).find((s) => s.startsWith(`${table}]`));
      assert.ok(section, `config.toml has no [${table}] table`);
      assert.match(section, new RegExp(`^#? ?${key} = `, 'm'), `config.toml does not document ${formatKey(leaf.path)}`);
    }
  });
});
