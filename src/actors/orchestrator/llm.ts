// The orchestrator's local model: node-llama-cpp in the orchestrator actor's thread (llama.cpp
// computes on its own threads, so the event loop stays free), one context with one sequence,
// one generation at a time, every output constrained by a JSON-schema grammar.
//
// Owned by the actor: loaded in its `starting` state (a model that fails the checks or cannot
// load stops the node), disposed when it stops. A generation in flight when it stops is
// aborted first, so native calls are finished before the model is released.
import { performance } from 'node:perf_hooks';
import {
  getLlama, getLlamaGpuTypes, LlamaChatSession, LlamaLogLevel,
  type Llama, type LlamaContext, type LlamaContextSequence, type LlamaGrammar, type LlamaModel,
} from 'node-llama-cpp';
import type { OrchestratorConfig, OrchestratorDevice, OrchestratorModelType } from '../../config/types.ts';
import { validateModel } from '../../models/index.ts';
import { defaultThreads } from '../../node/models.ts';
import { chatWrapperFor, type Prompt } from './prompt.ts';
import { CodedError } from '../../errors/registry.ts';

/** The configured device is not on this machine (or node-llama-cpp has no binary for it). */
export class OrchestratorDeviceError extends CodedError {
  override name = 'OrchestratorDeviceError';
  constructor(message: string, options?: ErrorOptions) { super('orchestrator_device_unavailable', message, options); }
}

/** A generation did not finish: aborted (timeout, shutdown) or failed inside node-llama-cpp. */
export class LlmGenerationError extends CodedError {
  override name = 'LlmGenerationError';
  constructor(readonly kind: 'timeout' | 'error', message: string, options?: ErrorOptions) { super('llm_generation_failed', message, options); }
}

export type UsedDevice = 'cpu' | 'cuda' | 'metal' | 'vulkan';

export interface LlmInfo {
  model_path: string;
  model_type: OrchestratorModelType;
  device_requested: OrchestratorDevice;
  device: UsedDevice;
  params: number;
  threads: number;
  context_size: number;
  load_ms: number;
}

export interface LlmOutput {
  text: string;
  tokens: { input: number; output: number };
}

const gpuName = (g: Llama['gpu']): UsedDevice => (g === false ? 'cpu' : g);

/**
 * `device` → node-llama-cpp's GPU choice: cpu → `gpu: false`; cuda / metal → that GPU type,
 * or OrchestratorDeviceError when this machine does not support it (node-llama-cpp itself
 * quietly falls back to the CPU for an unsupported metal); auto → the best GPU found, else CPU.
 * Never builds llama.cpp from source (`build: 'never'`): a prebuilt binary or an error.
 */
export async function openLlama(device: OrchestratorDevice): Promise<Llama> {
  const logLevel = LlamaLogLevel.error;
  if (device === 'cpu') return getLlama({ gpu: false, build: 'never', logLevel });
  if (device === 'auto') {
    try {
      return await getLlama({ gpu: 'auto', build: 'never', logLevel });
    } catch {
      return getLlama({ gpu: false, build: 'never', logLevel });
    }
  }
  const supported = (await getLlamaGpuTypes('supported')).map(gpuName);
  const fix = `this machine supports: ${supported.join(', ')}; set orchestrator.device = "auto" or "cpu"`;
  if (!supported.includes(device)) throw new OrchestratorDeviceError(`orchestrator.device = "${device}", but no ${device} device is present (${fix})`);
  let llama: Llama;
  try {
    llama = await getLlama({ gpu: device, build: 'never', logLevel });
  } catch (err) {
    throw new OrchestratorDeviceError(`orchestrator.device = "${device}": node-llama-cpp cannot use it: ${(err as Error).message} (${fix})`, { cause: err });
  }
  if (gpuName(llama.gpu) !== device) {
    await llama.dispose();
    throw new OrchestratorDeviceError(`orchestrator.device = "${device}", but node-llama-cpp gave ${gpuName(llama.gpu)} (${fix})`);
  }
  return llama;
}

export interface LoadLlmOptions {
  config: Pick<OrchestratorConfig, 'model_path' | 'model_type' | 'device' | 'generation'>;
  /** llama.cpp threads; default by model size (1 below 1B parameters, else 2). Always explicit. */
  threads?: number;
}

export class LlmEngine {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly inFlight = new Set<AbortController>();
  private readonly grammars = new Map<string, Promise<LlamaGrammar>>();
  private disposed = false;

  private constructor(
    private readonly llama: Llama,
    private readonly model: LlamaModel,
    private readonly context: LlamaContext,
    private readonly sequence: LlamaContextSequence,
    private readonly generation: OrchestratorConfig['generation'],
    readonly info: LlmInfo,
  ) {}

  /** Validates the file (same checks as served models), then loads it on the configured device. */
  static async load({ config, threads }: LoadLlmOptions): Promise<LlmEngine> {
    const path = config.model_path;
    if (!path) throw new Error('orchestrator.model_path is not set');
    const t0 = performance.now();
    const checked = await validateModel(path);
    const llama = await openLlama(config.device);
    try {
      const model = await llama.loadModel({ modelPath: checked.path });
      try {
        const contextSize = Math.min(model.trainContextSize, Math.max(2048, config.generation.max_tokens + 1024));
        const nThreads = threads ?? defaultThreads(checked.params);
        // threads explicit: node-llama-cpp's CPU default (max(4, cores)) is 100× slower on 2 cores.
        const context = await model.createContext({ contextSize, sequences: 1, threads: nThreads });
        const info: LlmInfo = {
          model_path: checked.path, model_type: config.model_type, device_requested: config.device, device: gpuName(llama.gpu),
          params: checked.params, threads: nThreads, context_size: context.contextSize, load_ms: Math.round(performance.now() - t0),
        };
        return new LlmEngine(llama, model, context, context.getSequence(), config.generation, info);
      } catch (err) {
        await model.dispose();
        throw err;
      }
    } catch (err) {
      await llama.dispose();
      throw err;
    }
  }

  /** The grammar of a JSON schema, built once per schema. */
  grammarFor(schema: unknown): Promise<LlamaGrammar> {
    const key = JSON.stringify(schema);
    let g = this.grammars.get(key);
    if (!g) {
      // The schemas are ours (llm-schema.ts, language.ts); node-llama-cpp's generic typing cannot follow them.
      g = this.llama.createGrammarForJsonSchema(schema as never);
      this.grammars.set(key, g);
      g.catch(() => this.grammars.delete(key));
    }
    return g;
  }

  /**
   * One chat turn under `schema`'s grammar, with the configured generation settings. Waits its
   * turn (one sequence); `timeoutMs` counts from the call, so waiting counts too.
   */
  async generateJson(prompt: Prompt, schema: unknown, timeoutMs: number, maxTokens = this.generation.max_tokens): Promise<LlmOutput> {
    if (this.disposed) throw new LlmGenerationError('error', 'the orchestrator model is disposed');
    const aborter = new AbortController();
    const timer = setTimeout(() => aborter.abort(new LlmGenerationError('timeout', `no answer within ${timeoutMs} ms`)), timeoutMs);
    this.inFlight.add(aborter);
    const run = this.queue.then(() => this.generateNow(prompt, schema, maxTokens, aborter.signal));
    this.queue = run.catch(() => undefined);
    try {
      return await run;
    } finally {
      clearTimeout(timer);
      this.inFlight.delete(aborter);
    }
  }

  private async generateNow(prompt: Prompt, schema: unknown, maxTokens: number, signal: AbortSignal): Promise<LlmOutput> {
    const aborted = () => signal.reason instanceof LlmGenerationError ? signal.reason : new LlmGenerationError('error', 'aborted');
    if (signal.aborted) throw aborted();
    const grammar = await this.grammarFor(schema);
    const g = this.generation;
    const session = new LlamaChatSession({ contextSequence: this.sequence, systemPrompt: prompt.system, chatWrapper: chatWrapperFor(this.info.model_type) });
    const before = this.sequence.tokenMeter.getState();
    try {
      const text = await session.prompt(prompt.user, {
        grammar,
        maxTokens,
        temperature: g.temperature,
        topP: g.top_p,
        // 1 means no penalty; node-llama-cpp spells that `false`.
        repeatPenalty: g.repetition_penalty === 1 ? false : { penalty: g.repetition_penalty },
        signal,
      });
      const used = this.sequence.tokenMeter.diff(before);
      return { text, tokens: { input: used.usedInputTokens, output: used.usedOutputTokens } };
    } catch (err) {
      if (signal.aborted) throw aborted();
      throw new LlmGenerationError('error', `generation failed: ${(err as Error).message}`, { cause: err });
    } finally {
      session.dispose({ disposeSequence: false });
      await this.sequence.clearHistory().catch(() => undefined);
    }
  }

  /** Aborts what runs, waits for native calls to end, then releases context, model and llama. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    for (const a of this.inFlight) a.abort(new LlmGenerationError('error', 'the orchestrator is stopping'));
    await this.queue.catch(() => undefined);
    await this.context.dispose();
    await this.model.dispose();
    await this.llama.dispose();
  }
}
