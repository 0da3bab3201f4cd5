// The `mvp-node` command line: the seed's root options, config loading, and the hand-off to the node.
// Subcommands (models, verify-receipt, submit, status, peers, jobs, data, receipts) register on `buildProgram()`'s result.
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { bindings, loadConfig, type Binding, type Config } from '../config/index.ts';
import { formatHelp } from './help.ts';
import { ERRORS, errorCodeOf, type ErrorSpec } from '../errors/registry.ts';
import { registerModelsCommand } from './models.ts';
import { registerReceiptCommand } from './receipt.ts';
import { registerStatusCommands } from './status.ts';
import { registerSubmitCommand } from './submit.ts';
import { registerOrchestratorCommand } from './orchestrator.ts';
import { registerSimulateCommand } from './simulate.ts';
import { registerSwarmKeyCommand } from './swarm-key.ts';
import { registerDataCommands } from './data.ts';
import { ROOT_URL } from '../paths.ts';

const pkg = JSON.parse(readFileSync(new URL('package.json', ROOT_URL), 'utf8')) as { version: string };
export const VERSION: string = pkg.version;

type Env = Readonly<Record<string, string | undefined>>;

/**
 * The seed README's OPTIONS block: how each config flag is spelled and explained. Which key a
 * flag sets, its type and its default come from the schema's `x-flag`; `help` is the seed's wording.
 */
const CONFIG_FLAGS: readonly { flags: string; help: string; showDefault?: boolean }[] = [
  { flags: '--node-id <ID>', help: 'Unique node identifier' },
  { flags: '-p, --port <PORT>', help: 'Listen port (0 for auto-assign)' },
  { flags: '-b, --bootstrap <ADDR>', help: 'Bootstrap peer address (multiaddr format)' },
  { flags: '-m, --model <PATH>', help: 'Path to model file' },
  { flags: '--max-queue <SIZE>', help: 'Maximum job queue size', showDefault: true },
  { flags: '--log-level <LEVEL>', help: 'Log level (trace, debug, info, warn, error)' },
  { flags: '--data-dir <DIR>', help: 'Directory for node key and state' },
];

const acceptsList = (b: Binding) => b.schema.type === 'array' || (b.schema.anyOf?.some((s) => s.type === 'array') ?? false);

function configOption({ flags, help, showDefault }: (typeof CONFIG_FLAGS)[number]): Option {
  const option = new Option(flags, help);
  const binding = bindings.find((b) => b.flag === option.long);
  if (!binding) throw new Error(`CLI flag ${option.long} has no x-flag key in schemas/config.schema.json`);
  // No commander default: an unset flag must not override the file or env.
  if (showDefault) option.description += ` [default: ${String(binding.schema.default)}]`;
  // Keys that take a list take a repeated flag: -b A -b B.
  if (acceptsList(binding)) option.argParser((value: string, previous?: string[]) => [...(previous ?? []), value]);
  return option;
}

export interface ProgramDeps {
  /** Defaults to process.env. */
  readonly env?: Env;
  /** Defaults to `runNode` from src/node/run.ts, imported only when the node actually starts. */
  readonly runNode?: (config: Config) => Promise<void>;
}

/**
 * Loads the configuration for any command of the program: `-c/--config` or MVP_NODE_CONFIG,
 * then env, then the root flags (which commander also accepts after a subcommand's name).
 */
export function loadCommandConfig(cmd: Command, env: Env = process.env): Config {
  const opts = cmd.optsWithGlobals<Record<string, unknown>>();
  return loadConfig({ file: opts.config as string | undefined, env, flags: opts });
}

/**
 * The `mvp-node` program, not yet parsed. It throws instead of exiting (exitOverride), so
 * `reportCliError` decides the exit code; subcommands added with `.command()` inherit that,
 * the help layout and the help/version flags.
 */
export function buildProgram(deps: ProgramDeps = {}): Command {
  const env = deps.env ?? process.env;
  const program = new Command('mvp-node')
    .configureHelp({ formatHelp })
    .helpOption('-h, --help', 'Print help')
    .version(`mvp-node ${VERSION}`, '-V, --version', 'Print version')
    .showHelpAfterError("For more information, try '--help'.")
    .exitOverride()
    .option('-c, --config <FILE>', 'Path to configuration file');
  for (const spec of CONFIG_FLAGS) program.addOption(configOption(spec));

  program.action(async (_opts: unknown, cmd: Command) => {
    const config = loadCommandConfig(cmd, env);
    const runNode = deps.runNode ?? (await import('../node/run.ts')).runNode;
    await runNode(config);
  });
  registerModelsCommand(program, { config: (cmd) => loadCommandConfig(cmd, env) });
  registerReceiptCommand(program);
  registerSubmitCommand(program, { env });
  registerStatusCommands(program, { config: (cmd) => loadCommandConfig(cmd, env) });
  registerOrchestratorCommand(program, { env });
  registerSimulateCommand(program);
  registerSwarmKeyCommand(program);
  registerDataCommands(program, { config: (cmd) => loadCommandConfig(cmd, env) });
  return program;
}

/**
 * Maps an error out of `parseAsync` to an exit code, printing what commander has not already
 * printed: help/version → 0, usage errors → 2; an error whose registry code has an exit status
 * (errors/registry.ts: ConfigError 2, CommandFailedError, a store or job failure … 1) →
 * `Error: <message>` and that status. Anything else is a bug and is rethrown.
 */
export function reportCliError(err: unknown, writeErr: (text: string) => void = (t) => process.stderr.write(t)): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
  const code = errorCodeOf(err);
  const exit = code === undefined ? undefined : (ERRORS[code] as ErrorSpec).exit;
  if (exit === undefined) throw err;
  writeErr(`Error: ${(err as Error).message}\n`);
  return exit;
}
