// The `mvp-node` front door: the seed's help text, version, exit codes, and the config handed to the node.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CommanderError, type Command } from 'commander';
import { buildProgram, reportCliError, VERSION, type ProgramDeps } from '../../src/cli/program.ts';
import { bindings, ConfigError, type Config } from '../../src/config/index.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

function capture(program: Command) {
  const out = { stdout: '', stderr: '' };
  program.configureOutput({ writeOut: (s) => { out.stdout += s; }, writeErr: (s) => { out.stderr += s; } });
  return out;
}

/** Parses user args; resolves with the thrown error (if any) and captured output. */
async function run(args: string[], deps: ProgramDeps = {}, setup?: (p: Command) => void) {
  const program = buildProgram({ env: {}, runNode: async () => {}, ...deps });
  const out = capture(program);
  setup?.(program);
  let error: unknown;
  try {
    await program.parseAsync(args, { from: 'user' });
  } catch (err) {
    error = err;
  }
  return { ...out, error };
}

/** Runs the real entry point in a child process, with no MVP_NODE_* variables inherited. */
function spawnCli(args: string[], extraEnv: Record<string, string> = {}) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MVP_NODE_')));
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', '--import', './src/polyfill.ts', 'src/cli/main.ts', ...args],
      { cwd: root, env: { ...env, ...extraEnv }, timeout: 30_000 },
      (err, stdout, stderr) => resolve({ code: err ? (err as { code?: number }).code ?? null : 0, stdout, stderr }));
  });
}

const SEED_OPTION_LINES = [
  '    -c, --config <FILE>          Path to configuration file',
  '        --node-id <ID>           Unique node identifier',
  '    -p, --port <PORT>            Listen port (0 for auto-assign)',
  '    -b, --bootstrap <ADDR>       Bootstrap peer address (multiaddr format)',
  '    -m, --model <PATH>           Path to model file',
  '        --max-queue <SIZE>       Maximum job queue size [default: 100]',
  '        --log-level <LEVEL>      Log level (trace, debug, info, warn, error)',
  '    -h, --help                   Print help',
  '    -V, --version                Print version',
];

describe('mvp-node --help', () => {
  it('prints the seed README\'s USAGE and OPTIONS block', async () => {
    const { stdout, error } = await run(['--help']);
    assert.ok(error instanceof CommanderError && error.exitCode === 0);
    assert.ok(stdout.startsWith('USAGE:\n    mvp-node [OPTIONS]\n    mvp-node <COMMAND> ...\n\nOPTIONS:\n'), stdout);
    const lines = stdout.split('\n');
    for (const line of SEED_OPTION_LINES) assert.ok(lines.includes(line), `missing help line:\n${line}\n---\n${stdout}`);
    assert.ok(lines.includes('        --data-dir <DIR>         Directory for node key and state'));
    assert.ok(lines.indexOf(SEED_OPTION_LINES[7]!) < lines.indexOf(SEED_OPTION_LINES[8]!), 'help before version');
    assert.match(stdout, /\nCOMMANDS:\n {4}models {23}Generate and inspect GGUF model files; load and unload models on a running node\n/);
  });

  it('lists registered subcommands and the <COMMAND> usage', async () => {
    const { stdout } = await run(['--help'], {}, (p) => {
      p.command('probe').description('Probe a thing').action(() => {});
    });
    assert.match(stdout, /^USAGE:\n {4}mvp-node \[OPTIONS\]\n {4}mvp-node <COMMAND> \.\.\.\n/);
    assert.match(stdout, /\nCOMMANDS:\n(?: {4}\S.*\n)* {4}probe {24}Probe a thing\n/);
    for (const [cmd, what] of [['status', 'Show a running node\'s health'], ['peers', 'List the peers'], ['jobs', 'List the jobs']]) {
      assert.match(stdout, new RegExp(`\\n {4}${cmd} +${what}`), cmd);
    }
  });

  it('formats a subcommand\'s help the same way', async () => {
    const { stdout } = await run(['probe', '--help'], {}, (p) => {
      p.command('probe').description('Probe a thing').argument('<target>', 'What to probe')
        .option('--model-name <NAME>', 'Model to run').action(() => {});
    });
    assert.match(stdout, /^Probe a thing\n\nUSAGE:\n {4}mvp-node probe \[OPTIONS\] <target>\n/);
    assert.match(stdout, /\nARGS:\n {4}<TARGET> {21}What to probe\n/);
    assert.match(stdout, /\n {8}--model-name <NAME> {6}Model to run\n/);
  });
});

describe('mvp-node root command', () => {
  it('-V prints `mvp-node <version>`, the version from package.json', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    assert.equal(VERSION, pkg.version);
    const { stdout, error } = await run(['-V']);
    assert.equal(stdout, `mvp-node ${pkg.version}\n`);
    assert.equal(reportCliError(error), 0);
  });

  it('declares exactly the schema\'s x-flag keys as root options', () => {
    const longs = buildProgram().options.map((o) => o.long).filter((l) => !['--config', '--help', '--version'].includes(l!));
    const schemaFlags = bindings.flatMap((b) => (b.flag ? [b.flag] : []));
    assert.deepEqual([...longs].sort(), [...schemaFlags].sort());
  });

  it('hands runNode the config from flags, env and file', async () => {
    let got: Config | undefined;
    const { error } = await run(
      ['-p', '4002', '--node-id', 'node2', '-b', '/ip4/127.0.0.1/tcp/4001', '-b', '/ip4/127.0.0.1/tcp/4003', '-m', './m.gguf'],
      { env: { MVP_NODE_MAX_QUEUE: '500', MVP_NODE_PORT: '9' }, runNode: async (c) => { got = c; } },
    );
    assert.equal(error, undefined);
    assert.ok(got);
    assert.equal(got.node.listen_port, 4002);
    assert.equal(got.node.node_id, 'node2');
    assert.deepEqual(got.network.bootstrap_peers, ['/ip4/127.0.0.1/tcp/4001', '/ip4/127.0.0.1/tcp/4003']);
    assert.equal(got.model.path, './m.gguf');
    assert.equal(got.executor.max_queue_size, 500);
    assert.ok(Object.isFrozen(got));
  });

  it('reads -c/--config', async () => {
    let got: Config | undefined;
    await run(['-c', fileURLToPath(new URL('../../config.toml', import.meta.url))], { runNode: async (c) => { got = c; } });
    assert.equal(got?.executor.max_queue_size, 100);
  });

  it('turns a ConfigError into "Error: ..." and exit code 2', async () => {
    const { error } = await run(['--max-queue', 'lots']);
    assert.ok(error instanceof ConfigError);
    let stderr = '';
    assert.equal(reportCliError(error, (s) => { stderr += s; }), 2);
    assert.equal(stderr,
      'Error: Invalid configuration: executor.max_queue_size = "lots" (from flag --max-queue): must be an integer at least 1\n');
  });

  it('treats usage errors as exit code 2', async () => {
    const { error, stderr } = await run(['--bogus']);
    assert.match(stderr, /unknown option '--bogus'/);
    assert.equal(reportCliError(error), 2);
  });

  it('rethrows errors that are not the user\'s', () => {
    assert.throws(() => reportCliError(new RangeError('bug')), RangeError);
  });
});

describe('src/cli/main.ts as a process', () => {
  it('exits 2 on an unknown option', async () => {
    const r = await spawnCli(['--bogus']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown option '--bogus'/);
  });

  it('exits 2 with the config error on stderr', async () => {
    const r = await spawnCli([], { MVP_NODE_PORT: 'abc' });
    assert.equal(r.code, 2);
    assert.equal(r.stderr,
      'Error: Invalid configuration: node.listen_port = "abc" (from env MVP_NODE_PORT): must be an integer between 0 and 65535\n');
  });

  it('exits 2 naming a missing config file', async () => {
    const r = await spawnCli(['-c', './does-not-exist.toml']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^Error: Cannot read config file \.\/does-not-exist\.toml: ENOENT/);
  });

  it('prints the version and exits 0', async () => {
    const r = await spawnCli(['--version']);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `mvp-node ${VERSION}\n`);
  });
});
