// `mvp-node submit --bootstrap <addr> "prompt"`: run one job on the network as a light client.
// Without --bootstrap (nor MVP_NODE_BOOTSTRAP), or with --api <url>, the job goes through the
// node running on this machine instead (submit-api.ts: its already joined client, no libp2p
// start here). Either way the CLI verifies the executor's signed receipt.
// Tokens go to stdout as they arrive, a one-line receipt summary to stderr; `--json` prints
// `{ "text", "receipt" }` instead (what `verify-receipt` accepts). A private swarm's key comes
// from `--swarm-key FILE`, else MVP_NODE_SWARM_KEY, else network.swarm_key of `-c FILE`.
// Heavy modules (libp2p, the protocol's schemas) are imported only by the path that runs: the
// command starts in a fraction of the time.
import { InvalidArgumentError, type Command } from 'commander';
import { CommandFailedError } from './errors.ts';
import type { JobPriority } from '../protocol/index.ts';
import { loadConfig } from '../config/index.ts';
import { findNode, NoRunningNodeError } from './node-api.ts';

/** The protocol's JOB_PRIORITIES, here so the command need not load the protocol to parse its flags. */
const JOB_PRIORITIES = ['high', 'normal', 'low'] as const satisfies readonly JobPriority[];
const everyPriority: Exclude<JobPriority, (typeof JOB_PRIORITIES)[number]> extends never ? true : never = true;
void everyPriority;

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
    .option('--api <URL>', 'run the job through this node\'s API (default without --bootstrap: the node running in the data directory)')
    .option('--token <TOKEN>', 'bearer token of that API, if it has api.token set (default: MVP_NODE_API_TOKEN, then api.token of --config)')
    .action(async function (this: Command, prompt: string) {
      // -b and -m are also root options (the node's own bootstrap peers and models), which
      // commander may fill instead: take them from wherever they were given.
      const o = this.optsWithGlobals<{ bootstrap?: string | string[]; model?: string | string[]; maxTokens: number; temperature: number; seed?: number; priority: JobPriority; timeout: number; json?: boolean; swarmKey?: string; config?: string; api?: string; token?: string }>();
      const given = o.bootstrap === undefined ? [] : [o.bootstrap].flat().flatMap((v) => collect(v));
      const bootstrap = given.length ? given : collect(env.MVP_NODE_BOOTSTRAP ?? '');
      // The root flags that say where the node lives (--data-dir, --node-id); -b and -m mean other things here.
      const { bootstrap: _peers, model: _name, ...rootFlags } = o;
      const config = loadConfig({ file: o.config, env, flags: rootFlags as Record<string, unknown> });
      const model = o.model === undefined ? undefined : [o.model].flat().at(-1);
      const onToken = o.json ? undefined : (t: string) => { process.stdout.write(t); };
      let r: { text: string; receipt: import('../protocol/index.ts').ReceiptEnvelope };
      if (bootstrap.length === 0 || o.api !== undefined) {
        // Through the node running here (or --api): its client is joined already.
        let url: string;
        try {
          url = (await findNode({ api: o.api, dataDir: config.node.data_dir, nodeId: config.node.node_id })).url;
        } catch (err) {
          if (err instanceof NoRunningNodeError) {
            throw new CommandFailedError(`submit needs --bootstrap <multiaddr> (a node of the network), or a node running on this machine (${err.message})`);
          }
          throw err;
        }
        const { submitViaApi } = await import('./submit-api.ts');
        r = await submitViaApi({
          url, token: o.token ?? env.MVP_NODE_API_TOKEN ?? config.api.token, prompt, model, maxTokens: o.maxTokens, temperature: o.temperature,
          ...(o.seed === undefined ? {} : { seed: o.seed }), timeoutMs: o.timeout * 1000, onToken,
        });
      } else {
        const keyFile = o.swarmKey ?? config.network.swarm_key;
        // A bad key file is a SwarmKeyError, printed by its registry code like the job's own failures.
        const { readSwarmKey } = await import('../actors/network/swarm-key.ts');
        const swarmKey = keyFile === undefined ? undefined : readSwarmKey(keyFile);
        const { submitJob } = await import('../client/submit.ts');
        // No executor, a refused job or a bad receipt: reportCliError prints them (their codes have an exit status).
        r = await submitJob({
          bootstrap, prompt, model, maxTokens: o.maxTokens, ...(swarmKey ? { swarmKey } : {}), temperature: o.temperature, seed: o.seed,
          priority: o.priority, timeoutMs: o.timeout * 1000, onToken,
        });
      }
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
