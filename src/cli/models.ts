// `mvp-node models make-test | inspect`: write a generated test model, or show what a GGUF file
// holds and whether this node would accept it (the checks that run before the native loader).
// `mvp-node models list | load | unload`: the models a running node serves, changed through its
// HTTP API (found as the other commands that talk to a node find it: node-api.ts).
import { existsSync } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import {
  TEST_MODEL_PRESETS, formatParams, sha256File, validateModel, writeTestModel,
  type TestModelPreset, type ValidatedModel, type WrittenTestModel,
} from '../models/index.ts';
import { CommandFailedError } from './errors.ts';
import type { Config } from '../config/index.ts';
import type { ModelsBody, ServedModelInfo } from '../actors/api/models.ts';
import type { PullProgress } from '../actors/network/model-transfer.ts';
import { connect, withApiOptions, type ApiOptions, type NodeApi } from './node-api.ts';
import { table } from './status.ts';

export interface ModelsCommandDeps {
  /** The configuration a command runs with (-c, env, root flags): where to find the running node. */
  readonly config: (cmd: Command) => Config;
  /** Defaults to process.stdout. */
  readonly out?: (text: string) => void;
  /** Where the pull's progress bar goes; defaults to process.stderr. */
  readonly progress?: NodeJS.WriteStream;
}

const SHA256 = /^[0-9a-f]{64}$/;

/** `[#######.............]  35%  1.6/4.6 MiB  2 sources` */
export function formatProgress(p: PullProgress, width = 24): string {
  const frac = p.size > 0 ? Math.min(1, p.bytes_done / p.size) : 0;
  const filled = Math.round(frac * width);
  const active = p.sources.filter((s) => s.dropped === undefined).length;
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.floor(frac * 100)).padStart(3)}%  ${mib(p.bytes_done)}/${mib(p.size)}  ${active} source${active === 1 ? '' : 's'}`;
}

/** The sha256 a user means: one given as such, or the one model of that name the swarm announces. */
async function resolveSha(api: NodeApi, what: string): Promise<string> {
  if (SHA256.test(what)) return what;
  const { body } = await api.get<ModelsBody>('/models');
  const named = body.swarm.filter((m) => m.name === what);
  if (named.length === 1) return named[0]!.sha256;
  if (named.length > 1) throw new CommandFailedError(`${named.length} models named ${what} are announced (${named.map((m) => m.sha256).join(', ')}): give the sha256`);
  throw new CommandFailedError(`no peer announces a model named ${what} (see models list)`);
}

/** Follows a pull through GET /models until it ends, drawing its progress. */
async function followPull(api: NodeApi, sha256: string, draw: (p: PullProgress) => void): Promise<PullProgress> {
  for (;;) {
    const p = (await api.get<ModelsBody>('/models')).body.pulls.find((x) => x.sha256 === sha256);
    if (!p) throw new CommandFailedError(`the node lost track of the pull of ${sha256}`);
    draw(p);
    if (p.state !== 'running') return p;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** What a running node serves, and what its peers announce. */
export function formatModels(m: ModelsBody): string {
  const loaded = m.loaded.length === 0 ? 'No model served here.\n' : table(['MODEL', 'SHA256', 'PARAMETERS', 'QUANT', 'BUSY', 'PATH'], m.loaded.map((x) => [
    x.model, `${x.sha256.slice(0, 12)}…`, formatParams(x.params), x.quantization, `${x.busy}/${x.sequences}`, x.path,
  ]));
  const swarm = m.swarm.length === 0 ? 'No model announced by peers.\n' : table(['SWARM MODEL', 'SHA256', 'PARAMETERS', 'PEERS'], m.swarm.map((x) => [
    x.name, `${x.sha256.slice(0, 12)}…`, formatParams(x.params), String(x.peers.length),
  ]));
  return `${loaded}\n${swarm}`;
}

const MiB = 1024 * 1024;
const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;

function parsePreset(value: string): TestModelPreset {
  if (!Object.hasOwn(TEST_MODEL_PRESETS, value)) throw new InvalidArgumentError(`expected one of: ${Object.keys(TEST_MODEL_PRESETS).join(', ')}.`);
  return value as TestModelPreset;
}

function parseSeed(value: string): number {
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value)) || Number(value) > 0xffffffff) {
    throw new InvalidArgumentError('expected an integer from 0 to 4294967295.');
  }
  return Number(value);
}

/**
 * mkdir -p, one level at a time from the deepest existing ancestor: Node 20's recursive mkdir
 * spins forever under /proc (ENOENT from a parent that exists).
 */
async function makeParents(dir: string): Promise<void> {
  const missing: string[] = [];
  let d = resolve(dir);
  for (;;) {
    try {
      if ((await stat(d)).isDirectory()) break;
      throw Object.assign(new Error(`${d} is not a directory`), { code: 'ENOTDIR' });
    } catch (err) {
      if ((err as { code?: string }).code !== 'ENOENT' || dirname(d) === d) throw err;
      missing.unshift(d);
      d = dirname(d);
    }
  }
  for (const m of missing) await mkdir(m);
}

/** Adds `models` to the program with `.command()`, so it inherits help layout and exit handling. */
export function registerModelsCommand(program: Command, deps: ModelsCommandDeps): Command {
  const out = deps.out ?? ((t: string) => { process.stdout.write(t); });
  const models = program.command('models').description('Generate and inspect GGUF model files; load and unload models on a running node').helpCommand(false);

  withApiOptions(models.command('list').description('List the models a running node serves, and those its peers announce'))
    .action(async function (this: Command) {
      const api = await connect(this, deps.config(this));
      const { body } = await api.get<ModelsBody>('/models');
      out(this.opts<ApiOptions>().json ? `${JSON.stringify(body)}\n` : formatModels(body));
    });

  withApiOptions(models.command('load').description('Load a GGUF model on a running node, checked as at start (format, ≤ 7B, memory)'))
    .argument('<path|sha256>', 'GGUF model file as the node sees it, or the sha256 of a model peers announce (pulled first)')
    .option('--name <NAME>', 'name to serve it under [default: the file name without .gguf, or the name peers announce]')
    .action(async function (this: Command, what: string) {
      const o = this.opts<ApiOptions & { name?: string }>();
      const api = await connect(this, deps.config(this));
      // The node may be another process with another working directory.
      const target = SHA256.test(what) && !existsSync(what) ? { sha256: what } : { path: resolve(what) };
      const { body } = await api.request<ServedModelInfo>('POST', '/models', { body: { ...target, ...(o.name ? { name: o.name } : {}) }, timeoutMs: 6 * 3600_000 });
      out(o.json ? `${JSON.stringify(body)}\n` : `Loaded ${body.model} (${formatParams(body.params)}, ${body.quantization}, sha256 ${body.sha256}) from ${body.path}\n`);
    });

  withApiOptions(models.command('pull').description('Fetch a model file from the peers that announce it, verified chunk by chunk (not loaded: see load)'))
    .argument('<sha256|name>', 'the model\'s sha256, or its name when one model of that name is announced')
    .action(async function (this: Command, what: string) {
      const o = this.opts<ApiOptions>();
      const api = await connect(this, deps.config(this));
      const sha256 = await resolveSha(api, what);
      await api.request<PullProgress>('POST', '/models/pulls', { body: { sha256 } });
      const tty = deps.progress ?? process.stderr;
      const end = await followPull(api, sha256, (p) => { if (tty.isTTY && !o.json) tty.write(`\r${formatProgress(p)}`); });
      if (tty.isTTY && !o.json) tty.write('\n');
      if (o.json) out(`${JSON.stringify(end)}\n`);
      if (end.state !== 'done') throw new CommandFailedError(`pull of ${sha256} ${end.state}: ${end.error ? `${end.error.code}: ${end.error.message}` : 'no reason given'}`);
      if (!o.json) {
        const resumed = end.resumed_chunks > 0 ? `, resumed from ${end.resumed_chunks} verified chunks` : '';
        out(`Pulled ${end.name || sha256} (${mib(end.size)}) from ${end.sources.filter((s) => s.chunks > 0).length} peers${resumed}: ${end.path}\n`);
      }
    });

  withApiOptions(models.command('cancel').description('Cancel a pull; its verified chunks are kept, and the next pull resumes from them'))
    .argument('<sha256>', 'the model being pulled')
    .action(async function (this: Command, sha256: string) {
      const api = await connect(this, deps.config(this));
      const { body } = await api.request<{ sha256: string; cancelled: boolean }>('DELETE', `/models/pulls/${encodeURIComponent(sha256)}`);
      if (!body.cancelled) throw new CommandFailedError(`no pull of ${sha256} is running`);
      out(this.opts<ApiOptions>().json ? `${JSON.stringify(body)}\n` : `Cancelled the pull of ${sha256}\n`);
    });

  withApiOptions(models.command('prune').description('Remove pulled model files no model is served from, and partial pulls not running'))
    .action(async function (this: Command) {
      const api = await connect(this, deps.config(this));
      const { body } = await api.request<{ removed: string[] }>('POST', '/models/prune');
      out(this.opts<ApiOptions>().json ? `${JSON.stringify(body)}\n` : body.removed.length === 0 ? 'Nothing to prune.\n' : body.removed.map((p) => `Removed ${p}\n`).join(''));
    });

  withApiOptions(models.command('unload').description('Unload a model from a running node: running jobs finish, queued ones are handed back'))
    .argument('<name>', 'the model\'s name (see models list)')
    .action(async function (this: Command, name: string) {
      const api = await connect(this, deps.config(this));
      const { body } = await api.request<{ model: string; unloaded: boolean }>('DELETE', `/models/${encodeURIComponent(name)}`, { timeoutMs: 300_000 });
      out(this.opts<ApiOptions>().json ? `${JSON.stringify(body)}\n` : `Unloaded ${body.model}\n`);
    });

  models.command('make-test')
    .description('Write a llama-architecture GGUF test model with random weights (its text is meaningless)')
    .option('--preset <PRESET>', 'Model shape: tiny (tests) or small (~135M parameters, benchmarks) [default: tiny]', parsePreset)
    .option('--out <PATH>', 'Where to write the file [default: models/test.gguf]')
    .option('--seed <N>', 'Seed of the random weights (same preset and seed, same bytes) [default: 1]', parseSeed)
    .action(async (opts: { preset?: TestModelPreset; out?: string; seed?: number }) => {
      const preset = opts.preset ?? 'tiny';
      const path = opts.out ?? 'models/test.gguf';
      let written: WrittenTestModel;
      try {
        await makeParents(dirname(path));
        written = await writeTestModel({ preset, out: path, seed: opts.seed ?? 1 });
      } catch (err) {
        throw new CommandFailedError(`cannot write test model to ${resolve(path)}: ${(err as Error).message}`, { cause: err });
      }
      const s = written.shape;
      out([
        `Wrote test model ${written.path}`,
        `    preset:        ${preset} (llama, vocab ${s.vocabSize}, dim ${s.embeddingLength}, ${s.blockCount} layers, context ${s.contextLength})`,
        `    parameters:    ${written.params} (${formatParams(written.params)})`,
        `    quantization:  Q4_0`,
        `    size:          ${written.bytes} bytes (${mib(written.bytes)})`,
        `    seed:          ${opts.seed ?? 1}`,
        '    Random weights: it loads and runs at the real speed of its shape, its text is meaningless.',
        '',
      ].join('\n'));
    });

  models.command('inspect')
    .description('Show what a GGUF model file holds and check it as a node would before loading it')
    .argument('<file>', 'GGUF model file')
    .option('--json', 'Print one JSON object instead of text')
    .action(async (file: string, opts: { json?: boolean }) => {
      // A file failing a check (invalid_model, resource_exhausted) is the user's to fix: its
      // registry code has exit status 1, so reportCliError prints `Error: <message>`, no stack.
      const m: ValidatedModel = await validateModel(file);
      const sha256 = await sha256File(file);
      if (opts.json) { out(`${JSON.stringify({ ...m, sha256 })}\n`); return; }
      const h = m.hparams;
      const shape = [
        h.vocabSize !== null ? `vocab ${h.vocabSize}` : null,
        h.embeddingLength !== null ? `dim ${h.embeddingLength}` : null,
        h.blockCount !== null ? `${h.blockCount} layers` : null,
        h.headCount !== null ? `${h.headCount} heads (${h.headCountKv ?? h.headCount} kv)` : null,
      ].filter((x) => x !== null).join(', ');
      out([
        m.path,
        `    name:            ${m.name}${m.displayName ? ` (${m.displayName})` : ''}`,
        `    architecture:    ${m.architecture ?? 'unknown'}${shape ? `, ${shape}` : ''}`,
        `    gguf version:    ${m.ggufVersion}`,
        `    parameters:      ${m.params} (${formatParams(m.params)})`,
        `    quantization:    ${m.quantization}`,
        `    context length:  ${m.contextLength ?? 'not declared'}`,
        `    tensors:         ${m.tensorCount}`,
        `    size:            ${m.fileBytes} bytes (${mib(m.fileBytes)})`,
        `    sha256:          ${sha256}`,
        `    memory estimate: ${mib(m.memory.totalBytes)} (weights ${mib(m.memory.weightsBytes)}, KV cache ${mib(m.memory.kvCacheBytes)}, overhead ${mib(m.memory.overheadBytes)})`,
        `    test model:      ${m.testModel ? 'yes (random weights, meaningless text)' : 'no'}`,
        '    Valid: this node would load it.',
        '',
      ].join('\n'));
    });

  return models;
}
