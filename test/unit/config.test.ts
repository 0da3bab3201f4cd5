// loadConfig as a specification: precedence, coercion of env/flag strings, and error messages
// that name the key, the source and the expectation.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig, defaultDataDir } from '../../src/config/index.ts';

const exampleToml = fileURLToPath(new URL('../../config.toml', import.meta.url));

let dir: string;
let n = 0;
function tomlFile(text: string): string {
  const file = join(dir, `c${n++}.toml`);
  writeFileSync(file, text);
  return file;
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.equal(err.name, 'ConfigError');
    assert.equal(err.exitCode, 2);
    return err;
  }
  assert.fail('expected a ConfigError');
}

before(() => { dir = mkdtempSync(join(tmpdir(), 'mvp-config-')); });
after(() => rmSync(dir, { recursive: true, force: true }));

describe('loadConfig: defaults', () => {
  it('fills every default from the schema when nothing is given', () => {
    const c = loadConfig({ env: {}, flags: {} });
    assert.equal(c.node.listen_port, 4001);
    assert.equal(c.node.listen_host, '0.0.0.0');
    assert.equal(c.node.node_id, undefined);
    assert.deepEqual(c.network.bootstrap_peers, []);
    assert.equal(c.network.max_peers, 50);
    assert.equal(c.executor.max_queue_size, 100);
    assert.equal(c.monitoring.log_level, 'info');
    assert.equal(c.orchestrator.generation.temperature, 0.7);
    assert.deepEqual(c.orchestrator.safety.allowed_actions,
      ['start_election', 'migrate_context', 'adjust_gossip', 'scale_queue', 'wait']);
    assert.equal(c.distributed_orchestration.mode, 'emergent');
    assert.equal(c.runtime.placement.api, 'thread');
    assert.equal(c.runtime.placement.inference, 'thread');
    assert.equal(c.runtime.placement.store, 'inline');
    assert.equal(c.model.path, undefined);
  });

  it('puts data_dir under the platform data directory when unset', () => {
    const c = loadConfig({ env: {} });
    assert.equal(c.node.data_dir, defaultDataDir());
    assert.match(c.node.data_dir, /mvp-node$/);
  });

  it('returns a deeply frozen config', () => {
    const c = loadConfig({ env: {} });
    assert.ok(Object.isFrozen(c));
    assert.ok(Object.isFrozen(c.node));
    assert.ok(Object.isFrozen(c.orchestrator.safety.allowed_actions));
    assert.throws(() => { (c.node as { listen_port: number }).listen_port = 1; }, TypeError);
    assert.throws(() => { (c.network.bootstrap_peers as string[]).push('/ip4/1.1.1.1/tcp/1'); }, TypeError);
  });

  it('does not share default arrays between loads', () => {
    const a = loadConfig({ env: {} });
    const b = loadConfig({ env: {}, flags: { bootstrap: ['/ip4/10.0.0.1/tcp/4001'] } });
    assert.deepEqual(a.network.bootstrap_peers, []);
    assert.equal(b.network.bootstrap_peers.length, 1);
  });
});

describe('loadConfig: precedence defaults < file < env < flags', () => {
  it('applies each layer over the one below, key by key', () => {
    const file = tomlFile(`
[node]
listen_port = 5000
node_id = "from-file"
[executor]
max_queue_size = 10
[monitoring]
log_level = "warn"
[network]
max_peers = 7
`);
    const c = loadConfig({
      file,
      env: { MVP_NODE_PORT: '6000', MVP_NODE_MAX_QUEUE: '20', MVP_NODE_NODE_ID: 'from-env' },
      flags: { port: '7000', 'node-id': 'from-flag' },
    });
    assert.equal(c.node.listen_port, 7000, 'flag beats env and file');
    assert.equal(c.node.node_id, 'from-flag', 'flag beats env and file');
    assert.equal(c.executor.max_queue_size, 20, 'env beats file');
    assert.equal(c.monitoring.log_level, 'warn', 'file beats default');
    assert.equal(c.network.max_peers, 7, 'file beats default');
    assert.equal(c.network.announce_interval_secs, 10, 'default when nobody sets it');
  });

  it('accepts flags by long name or by commander camelCase, and ignores other keys', () => {
    const c = loadConfig({ env: {}, flags: { 'max-queue': '3', logLevel: 'debug', config: 'ignored', verbose: true, port: undefined } });
    assert.equal(c.executor.max_queue_size, 3);
    assert.equal(c.monitoring.log_level, 'debug');
    assert.equal(c.node.listen_port, 4001);
  });

  it('reads the file named by MVP_NODE_CONFIG when no file is given', () => {
    const file = tomlFile('[node]\nlisten_port = 4100\n');
    assert.equal(loadConfig({ env: { MVP_NODE_CONFIG: file } }).node.listen_port, 4100);
    const other = tomlFile('[node]\nlisten_port = 4200\n');
    assert.equal(loadConfig({ file: other, env: { MVP_NODE_CONFIG: file } }).node.listen_port, 4200, '-c wins');
  });

  it('never reads ./config.toml implicitly', () => {
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      writeFileSync(join(dir, 'config.toml'), '[node]\nlisten_port = 1234\n');
      assert.equal(loadConfig({ env: {} }).node.listen_port, 4001);
    } finally {
      process.chdir(cwd);
    }
  });

  it('treats empty env vars as unset', () => {
    const c = loadConfig({ env: { MVP_NODE_PORT: '', MVP_NODE_BOOTSTRAP: '  ' } });
    assert.equal(c.node.listen_port, 4001);
    assert.deepEqual(c.network.bootstrap_peers, []);
  });
});

describe('loadConfig: env and flag coercion', () => {
  it('coerces env strings by the schema type', () => {
    const c = loadConfig({
      env: { MVP_NODE_PORT: ' 0 ', MVP_NODE_MAX_QUEUE: '250', MVP_NODE_MDNS: 'false', MVP_NODE_LOG_LEVEL: 'trace', MVP_NODE_DATA_DIR: '/tmp/x' },
    });
    assert.equal(c.node.listen_port, 0);
    assert.equal(c.executor.max_queue_size, 250);
    assert.equal(c.network.mdns_enabled, false);
    assert.equal(c.monitoring.log_level, 'trace');
    assert.equal(c.node.data_dir, '/tmp/x');
  });

  it('accepts the usual spellings of booleans', () => {
    for (const [raw, value] of [['TRUE', true], ['1', true], ['yes', true], ['on', true], ['0', false], ['Off', false], ['no', false]] as const) {
      assert.equal(loadConfig({ env: { MVP_NODE_MDNS: raw } }).network.mdns_enabled, value, raw);
    }
  });

  it('splits MVP_NODE_BOOTSTRAP on commas', () => {
    const c = loadConfig({ env: { MVP_NODE_BOOTSTRAP: '/ip4/127.0.0.1/tcp/4001, /ip4/127.0.0.1/tcp/4002,' } });
    assert.deepEqual(c.network.bootstrap_peers, ['/ip4/127.0.0.1/tcp/4001', '/ip4/127.0.0.1/tcp/4002']);
  });

  it('collects a repeated -b flag into a list that replaces the env list', () => {
    const c = loadConfig({
      env: { MVP_NODE_BOOTSTRAP: '/ip4/10.0.0.9/tcp/1' },
      flags: { bootstrap: ['/ip4/127.0.0.1/tcp/4001', '/ip4/127.0.0.1/tcp/4002'] },
    });
    assert.deepEqual(c.network.bootstrap_peers, ['/ip4/127.0.0.1/tcp/4001', '/ip4/127.0.0.1/tcp/4002']);
  });

  it('keeps one model path a string and several a list', () => {
    assert.equal(loadConfig({ env: { MVP_NODE_MODEL: './m.gguf' } }).model.path, './m.gguf');
    assert.deepEqual(loadConfig({ env: { MVP_NODE_MODEL: './a.gguf,./b.gguf' } }).model.path, ['./a.gguf', './b.gguf']);
    assert.equal(loadConfig({ env: {}, flags: { model: ['./m.gguf'] } }).model.path, './m.gguf');
    assert.deepEqual(loadConfig({ env: {}, flags: { model: ['./a.gguf', './b.gguf'] } }).model.path, ['./a.gguf', './b.gguf']);
  });

  it('accepts already-typed flag values from programmatic callers', () => {
    assert.equal(loadConfig({ env: {}, flags: { port: 4555 } }).node.listen_port, 4555);
  });
});

describe('loadConfig: errors', () => {
  it('names key, env var and expectation for a value that cannot be coerced', () => {
    const err = configError(() => loadConfig({ env: { MVP_NODE_PORT: 'abc' } }));
    assert.equal(err.message,
      'Invalid configuration: node.listen_port = "abc" (from env MVP_NODE_PORT): must be an integer between 0 and 65535');
    assert.deepEqual(err.problems[0]?.source, { kind: 'env', name: 'MVP_NODE_PORT' });
  });

  it('names the flag as the source of a flag value out of range', () => {
    const err = configError(() => loadConfig({ env: {}, flags: { port: '70000' } }));
    assert.match(err.message, /node\.listen_port = 70000 \(from flag --port\): must be an integer between 0 and 65535/);
  });

  it('names the file as the source of a bad file value', () => {
    const file = tomlFile('[executor]\nmax_queue_size = 0\n[monitoring]\nlog_level = "loud"\n');
    const err = configError(() => loadConfig({ file, env: {} }));
    assert.match(err.message, new RegExp(`executor\\.max_queue_size = 0 \\(from file ${file}\\): must be an integer at least 1`));
    assert.match(err.message, /monitoring\.log_level = "loud" .*must be one of trace, debug, info, warn, error/);
    assert.equal(err.problems.length, 2, 'all problems are collected into one error');
  });

  it('reports an unknown key with its path and file', () => {
    const file = tomlFile('[network]\nfoo = 1\n');
    const err = configError(() => loadConfig({ file, env: {} }));
    assert.equal(err.message, `Invalid configuration: unknown key network.foo (from file ${file})`);
  });

  it('reports unknown sections and nested unknown keys', () => {
    const file = tomlFile('[nodes]\nlisten_port = 1\n[orchestrator.cache]\nsize = 3\n');
    const err = configError(() => loadConfig({ file, env: {} }));
    assert.match(err.message, /unknown key nodes \(from file/);
    assert.match(err.message, /unknown key orchestrator\.cache\.size \(from file/);
  });

  it('points at the offending list item', () => {
    const err = configError(() => loadConfig({ env: { MVP_NODE_BOOTSTRAP: '/ip4/127.0.0.1/tcp/4001,not-an-addr' } }));
    assert.match(err.message,
      /network\.bootstrap_peers\[1\] = "not-an-addr" \(from env MVP_NODE_BOOTSTRAP\): must be a multiaddr/);
  });

  it('rejects a wrong type from the file without coercing it', () => {
    const file = tomlFile('[node]\nlisten_port = "4001"\n[network]\nmdns_enabled = "yes"\n');
    const err = configError(() => loadConfig({ file, env: {} }));
    assert.match(err.message, /node\.listen_port = "4001" \(from file .*\): must be an integer/);
    assert.match(err.message, /network\.mdns_enabled = "yes" .*must be true or false/);
  });

  it('reports a "string or list" key once', () => {
    const file = tomlFile('[model]\npath = ["a.gguf", 5]\n');
    const err = configError(() => loadConfig({ file, env: {} }));
    assert.equal(err.problems.length, 1);
    assert.match(err.message, /model\.path = \["a\.gguf",5\] .*must be a non-empty string or an array/);
  });

  it('gives line and column of a TOML syntax error', () => {
    const file = tomlFile('[node]\nlisten_port = 4001\nnode_id = = "x"\n');
    const err = configError(() => loadConfig({ file, env: {} }));
    assert.match(err.message, new RegExp(`^Invalid TOML in ${file} at line 3, column \\d+: `));
  });

  it('names the path of a missing file', () => {
    const missing = join(dir, 'nope.toml');
    const err = configError(() => loadConfig({ file: missing, env: {} }));
    assert.match(err.message, new RegExp(`^Cannot read config file ${missing}: ENOENT`));
  });
});

describe('loadConfig: the API off loopback needs a token', () => {
  it('serves the API on loopback, on an auto-assigned port, without a token by default, the gateway waiting 60 s for a taker', () => {
    const c = loadConfig({ env: {} });
    assert.deepEqual({ ...c.api }, { enabled: true, listen: '127.0.0.1', port: 0, gateway_timeout_secs: 60 });
  });

  it('takes the API port from MVP_NODE_API_PORT', () => {
    assert.equal(loadConfig({ env: { MVP_NODE_API_PORT: '8080' } }).api.port, 8080);
  });

  it('rejects a non-loopback api.listen without api.token, naming both keys and the source', () => {
    const file = tomlFile('[api]\nlisten = "0.0.0.0"\n');
    const err = configError(() => loadConfig({ file, env: {} }));
    assert.equal(err.message,
      `Invalid configuration: api.listen = "0.0.0.0" (from file ${file}): a non-loopback address requires api.token to be set`);
    assert.equal(err.problems[0]!.key, 'api.listen');
  });

  it('accepts a non-loopback api.listen with a token, and any loopback address without one', () => {
    const file = tomlFile('[api]\nlisten = "0.0.0.0"\ntoken = "s3cret"\n');
    assert.equal(loadConfig({ file, env: {} }).api.token, 's3cret');
    for (const listen of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) {
      assert.equal(loadConfig({ file: tomlFile(`[api]\nlisten = "${listen}"\n`), env: {} }).api.listen, listen);
    }
  });
});

describe('config.toml', () => {
  it('documents the defaults: loading it equals loading nothing', () => {
    assert.deepEqual(loadConfig({ file: exampleToml, env: {} }), loadConfig({ env: {} }));
  });
});
