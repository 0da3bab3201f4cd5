// Model files: writing test models, reading GGUF headers, and validating files before the
// native loader sees them.
export { ModelLoadError, ResourceExhaustedError, type ModelLoadErrorCode } from './errors.ts';
export {
  inspectModel, readGgufHeader, summarizeHeader, GGUF_READ_LIMITS,
  type ModelInfo, type ModelHparams, type GgufHeader, type GgufTensorInfo, type GgufMetadataValue,
} from './gguf-reader.ts';
export {
  validateModel, estimateModelMemory, formatParams, DEFAULT_MAX_PARAMS, DEFAULT_CONTEXT_LENGTH,
  type ValidateModelOptions, type ValidatedModel, type MemoryEstimate,
} from './validate.ts';
export { sha256File, clearSha256Cache } from './sha256.ts';
export {
  writeTestModel, TEST_MODEL_PRESETS, TEST_MODEL_GENERATOR_VERSION,
  type TestModelPreset, type TestModelShape, type WriteTestModelOptions, type WrittenTestModel,
} from './make-test.ts';
export { writeGguf, gguf, type GgufKv, type GgufTensorSpec, type WriteGgufOptions } from './gguf-writer.ts';
