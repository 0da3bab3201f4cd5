// Failures of model files, one class per kind with a stable `name` and a registry code
// (errors/registry.ts): callers branch on `err.code` (and `err.reason` for the finer reason),
// never on message text.
import { CodedError } from '../errors/registry.ts';

export type ModelLoadErrorCode =
  /** The file is missing or cannot be read. */
  | 'unreadable'
  /** Not a GGUF file llama.cpp can load: bad magic, version, truncated or absurd header. */
  | 'invalid_format'
  /** More parameters than the node accepts (7B by default). */
  | 'too_large';

export class ModelLoadError extends CodedError {
  override readonly name = 'ModelLoadError';
  /** The finer reason (registry code `invalid_model` for all). */
  readonly reason: ModelLoadErrorCode;
  readonly path: string;

  constructor(reason: ModelLoadErrorCode, path: string, message: string, options?: { cause?: unknown }) {
    super('invalid_model', message, options);
    this.reason = reason;
    this.path = path;
  }

  /** `Model load error: Invalid model format: <what> (<path>)` */
  static invalidFormat(path: string, what: string): ModelLoadError {
    return new ModelLoadError('invalid_format', path, `Model load error: Invalid model format: ${what} (${path})`);
  }
}

export class ResourceExhaustedError extends CodedError {
  override readonly name = 'ResourceExhaustedError';
  readonly resource: 'memory';
  readonly neededBytes: number;
  readonly availableBytes: number;

  constructor(resource: 'memory', neededBytes: number, availableBytes: number) {
    super('resource_exhausted', `Resource exhausted: ${resource} (model needs ~${mib(neededBytes)} MiB, ${mib(availableBytes)} MiB free)`);
    this.resource = resource;
    this.neededBytes = neededBytes;
    this.availableBytes = availableBytes;
  }
}

function mib(bytes: number): number {
  return Math.ceil(bytes / (1024 * 1024));
}
