// The gate in front of the native loader: a model file must be well-formed GGUF, hold at most
// 7B parameters, contain all the data its header promises, and fit in free memory.
import { freemem } from 'node:os';
import { ModelLoadError, ResourceExhaustedError } from './errors.ts';
import { inspectModel, type ModelInfo } from './gguf-reader.ts';

export const DEFAULT_MAX_PARAMS = 7e9;
/** The seed's `model.max_context_length` default. */
export const DEFAULT_CONTEXT_LENGTH = 2048;

export interface ValidateModelOptions {
  /** Largest parameter count accepted (default 7e9). */
  readonly maxParams?: number;
  /** Memory available for the model (default `os.freemem()`). */
  readonly freeMemBytes?: number;
  /** Context the node will allocate (`model.max_context_length`; default 2048). */
  readonly contextLength?: number;
}

export interface MemoryEstimate {
  /** The file is memory-mapped whole. */
  readonly weightsBytes: number;
  /** f16 K and V for every layer over the whole context. */
  readonly kvCacheBytes: number;
  /** Compute buffers, logits, runtime. */
  readonly overheadBytes: number;
  readonly totalBytes: number;
}

export interface ValidatedModel extends ModelInfo {
  readonly memory: MemoryEstimate;
}

/**
 * Checks a model file, cheapest facts first: header structure, parameter count (before anything
 * looks at tensor data, so a header-only file declaring 70B is refused as too large), data
 * present, memory. Throws ModelLoadError or ResourceExhaustedError.
 */
export async function validateModel(path: string, options: ValidateModelOptions = {}): Promise<ValidatedModel> {
  const maxParams = options.maxParams ?? DEFAULT_MAX_PARAMS;
  const info = await inspectModel(path);

  if (info.params > maxParams) {
    throw new ModelLoadError('too_large', info.path,
      `Model load error: model too large: ${info.params} parameters (${formatParams(info.params)}), `
      + `the limit is ${maxParams} (${formatParams(maxParams)}) (${info.path})`);
  }
  if (info.tensorCount === 0) throw ModelLoadError.invalidFormat(info.path, 'the file holds no tensors');
  if (info.requiredFileBytes > info.fileBytes) {
    throw ModelLoadError.invalidFormat(info.path,
      `truncated file: tensor data needs ${info.requiredFileBytes} bytes, the file has ${info.fileBytes}`);
  }

  const memory = estimateModelMemory(info, options.contextLength ?? DEFAULT_CONTEXT_LENGTH);
  const free = options.freeMemBytes ?? freemem();
  if (memory.totalBytes > free) throw new ResourceExhaustedError('memory', memory.totalBytes, free);
  return { ...info, memory };
}

const MiB = 1024 * 1024;
/** Physical batch llama.cpp evaluates at once (n_ubatch default). */
const UBATCH = 512;

/**
 * A deliberately simple upper-ish estimate of what llama.cpp will hold for one context:
 * the mapped file, an f16 KV cache for `contextLength` tokens, and compute buffers for one
 * 512-token batch (logits, activations, attention scores without flash attention).
 */
export function estimateModelMemory(info: ModelInfo, contextLength: number): MemoryEstimate {
  const { blockCount, embeddingLength, headCount, headCountKv, keyLength, valueLength, vocabSize } = info.hparams;
  let kvCacheBytes = 0;
  let computeBytes = 0.1 * info.fileBytes; // unknown shape: a tenth of the weights
  if (blockCount && embeddingLength && headCount) {
    const headDim = embeddingLength / headCount;
    const kvHeads = headCountKv ?? headCount;
    const kPerToken = (keyLength ?? headDim) * kvHeads;
    const vPerToken = (valueLength ?? headDim) * kvHeads;
    kvCacheBytes = blockCount * contextLength * (kPerToken + vPerToken) * 2;
    const batch = Math.min(UBATCH, contextLength);
    computeBytes = 4 * batch * ((vocabSize ?? 0) + 8 * embeddingLength + contextLength * headCount);
  }
  const overheadBytes = Math.ceil(64 * MiB + computeBytes);
  return {
    weightsBytes: info.fileBytes,
    kvCacheBytes,
    overheadBytes,
    totalBytes: info.fileBytes + kvCacheBytes + overheadBytes,
  };
}

/** 8030261248 → "8.03B", 162826560 → "163M". */
export function formatParams(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2).replace(/\.?0+$/, '')}B`;
  if (n >= 1e6) return `${Math.round(n / 1e6)}M`;
  if (n >= 1e3) return `${Math.round(n / 1e3)}K`;
  return String(n);
}
