// `mvp-node submit --bootstrap <addr> "prompt"`: run one job on the network as a light client.
// Tokens go to stdout as they arrive, a one-line receipt summary to stderr; `--json` prints
// `{ "text", "receipt" }` instead (what `verify-receipt` accepts). A private swarm's key comes
// from `--swarm-key FILE`, else MVP_NODE_SWARM_KEY, else network.swarm_key of `-c FILE`.
import { InvalidArgumentError, type Command } from 'commander';
import { CommandFailedError } from './errors.ts';
import { JOB_PRIORITIES, type JobPriority } from '../protocol/index.ts';
import { loadConfig } from '../config/index.ts';
import { readSwarmKey } from '../actors/network/swarm-key.ts';

const int = (min: number, max: number) => (v: string) => {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min || n > max) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}.`);
  return n;
};
const num = (min: number, max: number) => (v: string) => {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`expected a number from ${min} to ${max}.`);
  return n;
};
const collect = (v: string, prev: string[] = []) => [...prev, ...v.split(',').map((s) => s.trim()).filter(Boolean)];

export interface SubmitCommandDeps {
  /** Defaults to process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export function registerSubmitCommand(program: Command, deps: SubmitCommandDeps = {}): Command {
  const env = deps.env ?? process.env;
  return program.command('submit')
    .description('Run an inference job on the network and stream its output')
    .argument('<prompt>', 'the prompt text')
    .option('-b, --bootstrap <ADDR>', 'a node of the network (multiaddr); repeatable', collect)
    .option('-m, --model <NAME>', 'model name (default: the first model a node announces)')
    .option('--max-tokens <N>', 'most tokens to generate', int(1, 32768), 128)
    .option('--temperature <T>', 'sampling temperature, 0 = greedy', num(0, 2), 0.7)
    .option('--seed <N>', 'sampling seed', int(0, 0xffffffff))
    .option('--priority <P>', `job priority (${JOB_PRIORITIES.join(', ')})`, (v: string) => {
      if (!(JOB_PRIORITIES as readonly string[]).includes(v)) throw new InvalidArgumentError(`expected one of: ${JOB_PRIORITIES.join(', ')}.`);
      return v as JobPriority;
    }, 'normal' as JobPriority)
    .option('--timeout <SECS>', 'give up when no node has delivered within this many seconds', num(1, 86400), 60)
    .option('--json', 'print one JSON object { text, receipt } instead of streaming')
    .option('--swarm-key <FILE>', 'the private swarm\'s key file (default: MVP_NODE_SWARM_KEY, then network.swarm_key of --config)')
    .action(async function (this: Command, prompt: string) {
      // -b and -m are also root options (the node's own bootstrap peers and models), which
      // commander may fill instead: take them from wherever they were given.
      const o = this.optsWithGlobals<{ bootstrap?: string | string[]; model?: string | string[]; maxTokens: number; temperature: number; seed?: number; priority: JobPriority; timeout: number; json?: boolean; swarmKey?: string; config?: string }>();
      const given = o.bootstrap === undefined ? [] : [o.bootstrap].flat().flatMap((v) => collect(v));
      const bootstrap = given.length ? given : collect(env.MVP_NODE_BOOTSTRAP ?? '');
      const keyFile = o.swarmKey ?? loadConfig({ file: o.config, env }).network.swarm_key;
      // A bad key file is a SwarmKeyError, printed by its registry code like the job's own failures.
      const swarmKey = keyFile === undefined ? undefined : readSwarmKey(keyFile);
      const model = o.model === undefined ? undefined : [o.model].flat().at(-1);
      const { submitJob } = await import('../client/submit.ts');
      // No executor, a refused job or a bad receipt: reportCliError prints them (their codes have an exit status).
      const r = await submitJob({
        bootstrap, prompt, model, maxTokens: o.maxTokens, ...(swarmKey ? { swarmKey } : {}), temperature: o.temperature, seed: o.seed,
        priority: o.priority, timeoutMs: o.timeout * 1000,
        onToken: o.json ? undefined : (t) => { process.stdout.write(t); },
      });
      const b = r.receipt.body;
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ text: r.text, receipt: r.receipt })}\n`);
      } else {
        process.stdout.write('\n');
        process.stderr.write(`Receipt ${r.receipt.id}: job ${b.job_id.slice(0, 12)}… ran on ${b.executor} (${b.model}), ${b.tokens_out} tokens at ${b.timings.tokens_per_s.toFixed(1)} tokens/s, status ${b.status}${b.reason ? ` (${b.reason})` : ''}\n`);
      }
      if (b.status !== 'completed') throw new CommandFailedError(`job ${b.status}: ${b.reason ?? 'no reason given'}`);
    });
}
