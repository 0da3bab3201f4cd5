// Test models: llama-architecture GGUF files with seeded random weights and a complete
// SentencePiece-style vocabulary. They load and run in llama.cpp at the real speed of their shape.
import { resolve } from 'node:path';
import { GgmlType, GgufValueType } from './gguf-format.ts';
import { gguf, writeGguf, type GgufKv, type GgufTensorSpec } from './gguf-writer.ts';

/** Bump when the bytes a preset produces change, so cached test models are regenerated. */
export const TEST_MODEL_GENERATOR_VERSION = 1;

export interface TestModelShape {
  readonly vocabSize: number;
  readonly embeddingLength: number;
  readonly blockCount: number;
  readonly headCount: number;
  readonly headCountKv: number;
  readonly feedForwardLength: number;
  readonly contextLength: number;
}

export type TestModelPreset = 'tiny' | 'small';

export const TEST_MODEL_PRESETS: Readonly<Record<TestModelPreset, TestModelShape>> = {
  /** Loads in milliseconds, generates > 1 000 tokens/s on one thread: for tests. */
  tiny: {
    vocabSize: 1024, embeddingLength: 64, blockCount: 2, headCount: 4, headCountKv: 2,
    feedForwardLength: 192, contextLength: 2048,
  },
  /** The shape of SmolLM-135M (with an untied output matrix): realistic speed for benchmarks. */
  small: {
    vocabSize: 49152, embeddingLength: 576, blockCount: 30, headCount: 9, headCountKv: 3,
    feedForwardLength: 1536, contextLength: 2048,
  },
};

export interface WriteTestModelOptions {
  readonly preset: TestModelPreset;
  readonly out: string;
  readonly seed?: number;
  /** Overrides of the preset's shape (tests that need a file of several chunks, say). */
  readonly shape?: Partial<TestModelShape>;
}

export interface WrittenTestModel {
  readonly path: string;
  /** Sum over tensors of their element counts. */
  readonly params: number;
  readonly bytes: number;
  readonly shape: TestModelShape;
}

/** Standard deviation of the random matrices: small, so activations stay finite. */
const WEIGHT_STD = 0.02;
const BOS_ID = 1;
const EOS_ID = 2;
const UNK_ID = 0;
/** A piece of SentencePiece text: U+2581 stands for a space. */
const SPACE = '\u2581';
const CHATML_TEMPLATE =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
  + "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** Writes a deterministic random-weight test model (same preset and seed → same bytes). */
export async function writeTestModel(options: WriteTestModelOptions): Promise<WrittenTestModel> {
  const preset = TEST_MODEL_PRESETS[options.preset];
  if (!preset) throw new Error(`unknown test model preset: ${String(options.preset)}`);
  const shape: TestModelShape = { ...preset, ...options.shape };
  const seed = options.seed ?? 1;
  const path = resolve(options.out);
  const tensors = testModelTensors(shape, seed);
  const { bytes } = await writeGguf(path, { metadata: testModelMetadata(options.preset, shape, seed), tensors });
  const params = tensors.reduce((sum, t) => sum + t.dims.reduce<number>((p, d) => p * Number(d), 1), 0);
  return { path, params, bytes, shape };
}

function testModelMetadata(preset: TestModelPreset, shape: TestModelShape, seed: number): GgufKv[] {
  const vocab = buildVocabulary(shape.vocabSize);
  const headDim = shape.embeddingLength / shape.headCount;
  return [
    gguf.str('general.architecture', 'llama'),
    gguf.str('general.type', 'model'),
    gguf.str('general.name', `mvp-node test ${preset}`),
    gguf.u32('general.file_type', 2), // LLAMA_FTYPE_MOSTLY_Q4_0
    gguf.u32('general.quantization_version', 2),
    gguf.u32('general.alignment', 32),
    gguf.u32('llama.vocab_size', shape.vocabSize),
    gguf.u32('llama.context_length', shape.contextLength),
    gguf.u32('llama.embedding_length', shape.embeddingLength),
    gguf.u32('llama.block_count', shape.blockCount),
    gguf.u32('llama.feed_forward_length', shape.feedForwardLength),
    gguf.u32('llama.attention.head_count', shape.headCount),
    gguf.u32('llama.attention.head_count_kv', shape.headCountKv),
    gguf.f32('llama.attention.layer_norm_rms_epsilon', 1e-5),
    gguf.u32('llama.rope.dimension_count', headDim),
    gguf.f32('llama.rope.freq_base', 10000),
    gguf.str('tokenizer.ggml.model', 'llama'),
    gguf.array('tokenizer.ggml.tokens', GgufValueType.STRING, vocab.tokens),
    gguf.array('tokenizer.ggml.scores', GgufValueType.FLOAT32, vocab.scores),
    gguf.array('tokenizer.ggml.token_type', GgufValueType.INT32, vocab.types),
    gguf.u32('tokenizer.ggml.bos_token_id', BOS_ID),
    gguf.u32('tokenizer.ggml.eos_token_id', EOS_ID),
    gguf.u32('tokenizer.ggml.unknown_token_id', UNK_ID),
    gguf.bool('tokenizer.ggml.add_bos_token', true),
    gguf.bool('tokenizer.ggml.add_eos_token', false),
    // No implicit leading space: detokenize(tokenize(text)) gives back text exactly.
    gguf.bool('tokenizer.ggml.add_space_prefix', false),
    gguf.str('tokenizer.chat_template', CHATML_TEMPLATE),
    gguf.bool('mvp.test_model', true),
    gguf.str('mvp.test_preset', preset),
    gguf.u32('mvp.test_seed', seed >>> 0),
    gguf.u32('mvp.generator_version', TEST_MODEL_GENERATOR_VERSION),
  ];
}

/** llama.cpp token types. */
const TokenType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, BYTE: 6 } as const;

/**
 * A SentencePiece vocabulary that can tokenize any text: 256 byte-fallback tokens cover every
 * UTF-8 byte; the remaining slots hold letter n-grams (every prefix of a piece is itself a
 * piece, so SPM's pairwise merges can reach it).
 */
export function buildVocabulary(size: number): { tokens: string[]; scores: number[]; types: number[] } {
  const tokens: string[] = ['<unk>', '<s>', '</s>'];
  const types: number[] = [TokenType.UNKNOWN, TokenType.CONTROL, TokenType.CONTROL];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(TokenType.BYTE);
  }
  tokens.push('<|im_start|>', '<|im_end|>');
  types.push(TokenType.CONTROL, TokenType.CONTROL);
  const reserved = tokens.length;
  if (size <= reserved) throw new Error(`vocabulary size ${size} leaves no room for text pieces (needs > ${reserved})`);

  const seen = new Set(tokens);
  for (const piece of textPieces()) {
    if (tokens.length >= size) break;
    if (seen.has(piece)) continue;
    seen.add(piece);
    tokens.push(piece);
    types.push(TokenType.NORMAL);
  }
  // Specials and bytes score 0; text pieces score by rank, like a trained SPM model's log-probs.
  const scores = tokens.map((_, i) => (i < reserved ? 0 : -(i - reserved)));
  return { tokens, scores, types };
}

/**
 * Common English words (and those of node-llama-cpp's default system prompt), so prompts in
 * tests cost about a token per word even with the tiny preset's small vocabulary.
 */
const COMMON_WORDS = (
  'the be to of and a in that have it for not on with he as you do at this but his by from they we '
  + 'say her she or an will my one all would there their what so up out if about who get which go me '
  + 'when make can like time no just him know take people into year your good some could them see '
  + 'other than then now look only come its over think also back after use two how our work first '
  + 'well way even new want because any these give day most us is are was were has had been does '
  + 'did hello hi world once upon assistant user system helpful respectful honest always answer '
  + 'helpfully possible question make sense factually coherent explain why instead answering '
  + 'something incorrectly don share false information please write tell story test model token '
  + 'json yes true null'
).split(' ');

function* textPieces(): Generator<string> {
  const lower = [...'abcdefghijklmnopqrstuvwxyz'];
  const upper = lower.map((c) => c.toUpperCase());
  const digits = [...'0123456789'];
  const punct = [...'.,!?;:\'"-()[]{}<>/\\@#$%^&*_+=`~|'];
  yield SPACE;
  for (const c of lower) yield SPACE + c;
  // Each word with all its prefixes: SPM only merges pairs, so "▁the" needs "▁th".
  for (const word of COMMON_WORDS) for (let n = 2; n <= word.length; n++) yield SPACE + word.slice(0, n);
  yield* lower;
  yield* upper;
  yield* digits;
  yield* punct;
  for (const c of [...upper, ...digits, ...punct]) yield SPACE + c;
  // Lowercase n-grams of growing length, with and without a leading space.
  let level = lower;
  for (;;) {
    const next: string[] = [];
    for (const prefix of level) for (const c of lower) next.push(prefix + c);
    for (const piece of next) { yield piece; yield SPACE + piece; }
    level = next;
  }
}

function testModelTensors(shape: TestModelShape, seed: number): GgufTensorSpec[] {
  const rng = new Xoshiro128(seed);
  const dim = shape.embeddingLength;
  const headDim = dim / shape.headCount;
  const qDim = headDim * shape.headCount;
  const kvDim = headDim * shape.headCountKv;
  const ff = shape.feedForwardLength;
  // Each tensor draws from its own stream position in a fixed order, so output is deterministic.
  const matrix = (name: string, cols: number, rows: number): GgufTensorSpec =>
    ({ name, dims: [cols, rows], type: GgmlType.Q4_0, data: () => randomQ4_0(rng, cols * rows, WEIGHT_STD) });
  const norm = (name: string): GgufTensorSpec =>
    ({ name, dims: [dim], type: GgmlType.F32, data: () => new Uint8Array(new Float32Array(dim).fill(1).buffer) });

  const tensors: GgufTensorSpec[] = [
    matrix('token_embd.weight', dim, shape.vocabSize),
    norm('output_norm.weight'),
    matrix('output.weight', dim, shape.vocabSize),
  ];
  for (let i = 0; i < shape.blockCount; i++) {
    tensors.push(
      norm(`blk.${i}.attn_norm.weight`),
      matrix(`blk.${i}.attn_q.weight`, dim, qDim),
      matrix(`blk.${i}.attn_k.weight`, dim, kvDim),
      matrix(`blk.${i}.attn_v.weight`, dim, kvDim),
      matrix(`blk.${i}.attn_output.weight`, qDim, dim),
      norm(`blk.${i}.ffn_norm.weight`),
      matrix(`blk.${i}.ffn_gate.weight`, dim, ff),
      matrix(`blk.${i}.ffn_up.weight`, dim, ff),
      matrix(`blk.${i}.ffn_down.weight`, ff, dim),
    );
  }
  return tensors;
}

const Q4_0_BLOCK = 32;
const Q4_0_BYTES = 18;
/** Standard deviation of (q − 8) for q uniform over 0..15. */
const Q4_0_UNIFORM_STD = Math.sqrt(21.5);

/**
 * Random Q4_0 blocks drawn directly (no float weights to quantize): uniform 4-bit quants, and a
 * per-block scale of random sign and magnitude in [0.5, 1.5) × base, so weights have mean 0
 * and roughly the requested standard deviation.
 */
function randomQ4_0(rng: Xoshiro128, elements: number, std: number): Uint8Array {
  const blocks = elements / Q4_0_BLOCK;
  const length = blocks * Q4_0_BYTES;
  const words = new Uint32Array(Math.ceil(length / 4));
  rng.fill(words);
  const bytes = new Uint8Array(words.buffer, 0, length);
  const base = std / Q4_0_UNIFORM_STD;
  const scales = new Uint16Array(64);
  for (let k = 0; k < 64; k++) {
    const magnitude = base * (0.5 + (k >> 1) / 32);
    scales[k] = floatToHalf(k & 1 ? -magnitude : magnitude);
  }
  for (let off = 0; off < length; off += Q4_0_BYTES) {
    // The scale's two bytes are random already: use six of their bits to pick it.
    const h = scales[bytes[off]! & 63]!;
    bytes[off] = h & 0xff;
    bytes[off + 1] = h >> 8;
  }
  return bytes;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE 754 binary16 bits of x (round to nearest even; enough for weight scales). */
export function floatToHalf(x: number): number {
  f32[0] = x;
  const bits = u32[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half++;
  return sign | half;
}

/** xoshiro128**, seeded through splitmix32: fast, deterministic, good enough for weights. */
class Xoshiro128 {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next(); this.b = next(); this.c = next(); this.d = next();
  }

  fill(out: Uint32Array): void {
    let { a, b, c, d } = this;
    for (let i = 0; i < out.length; i++) {
      const r = Math.imul(b, 5);
      out[i] = Math.imul((r << 7) | (r >>> 25), 9) >>> 0;
      const t = b << 9;
      c ^= a; d ^= b; b ^= c; a ^= d; c ^= t;
      d = (d << 11) | (d >>> 21);
    }
    this.a = a; this.b = b; this.c = c; this.d = d;
  }
}
