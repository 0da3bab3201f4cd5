// Which models a node serves: the configured GGUF files, or — when none is configured — a
// generated test model, so a fresh `npm start` can run jobs. Every file is validated (format,
// ≤ 7B, memory) and hashed before the node starts: no node runs half-configured.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { mkdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { ActorPlacement, Config } from '../config/types.ts';
import type { Logger } from '../runtime/log.ts';
import type { ModelManifest } from '../protocol/index.ts';
import type { ChildSpec } from '../runtime/supervisor.ts';
import type { InferenceArgs } from '../actors/inference/engine.ts';
import { validateModel, writeTestModel } from '../models/index.ts';
import { hashModelFile } from '../models/merkle.ts';
import { CodedError } from '../errors/registry.ts';
import { srcModule } from '../paths.ts';

export interface ServedModel {
  name: string;
  path: string;
  /** llama.cpp threads for this model (see defaultThreads). */
  threads: number;
  /** Concurrent jobs batched as sequences of one context. */
  sequences: number;
  manifest: ModelManifest;
}

/** Sequences per model context: the batch the inference actor runs at once. */
export const SEQUENCES_PER_MODEL = 4;

/**
 * Measured on 2 cores: one thread is fastest for one sequence of a small model (≈ 110–150
 * tokens/s on a 135M shape against 60–75 with two); larger models need both cores.
 */
export function defaultThreads(params: number): number {
  return params < 1e9 ? 1 : 2;
}

export function defaultTestModelPath(config: Readonly<Config>): string {
  return join(config.node.data_dir, 'models', 'mvp-test-tiny.gguf');
}

export class DuplicateModelNameError extends CodedError {
  override name = 'DuplicateModelNameError';
  constructor(message: string, options?: ErrorOptions) { super('duplicate_model_name', message, options); }
}

export async function resolveModels(config: Readonly<Config>, log: Logger): Promise<ServedModel[]> {
  let paths = config.model.path === undefined ? [] : [config.model.path].flat();
  if (paths.length === 0) {
    const path = defaultTestModelPath(config);
    if (!existsSync(path)) {
      await mkdir(dirname(path), { recursive: true });
      await writeTestModel({ preset: 'tiny', out: path });
    }
    log.info({ path }, 'No model configured: serving a generated test model (random weights, meaningless text; use --model for a real one)');
    paths = [path];
  }
  const served: ServedModel[] = [];
  for (const path of paths) {
    const name = paths.length === 1 && config.model.name ? config.model.name : modelNameOf(path);
    const twin = served.find((m) => m.name === name);
    if (twin) throw new DuplicateModelNameError(`Two models are named ${name}: ${twin.path} and ${path}; rename one file`);
    served.push(await describeModel(config, path, name));
  }
  return served;
}

/** A model's default name: its file name without `.gguf`. */
export function modelNameOf(path: string): string {
  return basename(path).replace(/\.gguf$/i, '');
}

/**
 * One model file as this node would serve it: validated (format, ≤ 7B, memory; throws
 * ModelLoadError / ResourceExhaustedError) and hashed. The same checks at start and at runtime.
 */
export async function describeModel(config: Readonly<Config>, path: string, name = modelNameOf(path)): Promise<ServedModel> {
  const info = await validateModel(path, { contextLength: config.model.max_context_length });
  const hashed = await hashModelFile(info.path);
  return {
    name,
    path: info.path,
    threads: config.model.threads ?? defaultThreads(info.params),
    sequences: SEQUENCES_PER_MODEL,
    manifest: {
      name,
      sha256: hashed.sha256,
      params: info.params,
      quantization: info.quantization,
      context_length: info.contextLength ?? config.model.max_context_length,
      test_model: info.testModel,
      merkle_root: hashed.tree.root,
      size: hashed.size,
    },
  };
}

export const INFERENCE_PREFIX = 'inference:';

/**
 * The supervisor child that serves a model, on `placement` (`[runtime.placement] inference`,
 * a thread by default). The model lives in a pool worker under the actor either way; the actor
 * is `native`: never terminated, since that would take llama.cpp down mid-decode.
 */
export function inferenceChildSpec(m: Pick<ServedModel, 'name' | 'path' | 'threads' | 'sequences'>, shutdownMs: number, placement: ActorPlacement = 'inline'): ChildSpec {
  return {
    name: `${INFERENCE_PREFIX}${m.name}`, module: fileURLToPath(srcModule('actors/inference/index.ts')), restart: 'permanent',
    shutdownMs: Math.max(shutdownMs, 12_000), placement, native: true,
    args: { path: m.path, name: m.name, threads: m.threads, sequences: m.sequences } satisfies InferenceArgs,
  };
}
