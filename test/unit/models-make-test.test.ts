// writeTestModel: deterministic llama GGUF files whose headers say what the presets promise.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readGgufFileInfo } from 'node-llama-cpp';
import { inspectModel, readGgufHeader } from '../../src/models/gguf-reader.ts';
import {
  TEST_MODEL_PRESETS, buildVocabulary, floatToHalf, writeTestModel, type TestModelShape,
} from '../../src/models/make-test.ts';
import { sha256File } from '../../src/models/sha256.ts';
import { testModelPath } from '../helpers/test-model.ts';

/** Element count of a llama model of this shape with an untied output matrix. */
function expectedParams(s: TestModelShape): number {
  const headDim = s.embeddingLength / s.headCount;
  const q = s.embeddingLength * headDim * s.headCount;
  const kv = s.embeddingLength * headDim * s.headCountKv;
  const block = 2 * s.embeddingLength + 2 * q + 2 * kv + 3 * s.embeddingLength * s.feedForwardLength;
  return 2 * s.vocabSize * s.embeddingLength + s.embeddingLength + s.blockCount * block;
}

describe('writeTestModel', () => {
  let dir: string;
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'mvp-models-make-')); });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  it('writes the tiny preset as a GGUF v3 llama model marked as a test model', async () => {
    const written = await writeTestModel({ preset: 'tiny', out: join(dir, 'tiny.gguf') });
    const info = await inspectModel(written.path);
    assert.equal(info.name, 'tiny');
    assert.equal(info.architecture, 'llama');
    assert.equal(info.ggufVersion, 3);
    assert.equal(info.quantization, 'Q4_0');
    assert.equal(info.contextLength, 2048);
    assert.equal(info.testModel, true);
    assert.equal(info.fileBytes, written.bytes);
    assert.equal(info.params, written.params);
    assert.equal(info.params, expectedParams(TEST_MODEL_PRESETS.tiny));
    assert.equal(info.tensorCount, 3 + 9 * TEST_MODEL_PRESETS.tiny.blockCount);
    assert.equal(info.requiredFileBytes <= info.fileBytes, true);
    assert.deepEqual(info.hparams, {
      blockCount: 2, embeddingLength: 64, headCount: 4, headCountKv: 2,
      keyLength: null, valueLength: null, vocabSize: 1024,
    });
  });

  it('writes what node-llama-cpp\'s own GGUF reader accepts, with llama.cpp\'s required keys', async () => {
    const written = await writeTestModel({ preset: 'tiny', out: join(dir, 'tiny-nlc.gguf') });
    const info = await readGgufFileInfo(written.path, { logWarnings: false });
    assert.equal(info.version, 3);
    assert.equal(info.metadata.general.architecture, 'llama');
    const llama = info.architectureMetadata as Record<string, unknown>;
    for (const key of ['context_length', 'embedding_length', 'block_count', 'feed_forward_length']) {
      assert.equal(typeof llama[key], 'number', key);
    }
    assert.equal(info.metadata.tokenizer.ggml.model, 'llama');
    assert.equal(info.metadata.tokenizer.ggml.tokens.length, 1024);
    assert.equal(info.tensorInfo?.length, 21);
  });

  it('is deterministic: the same seed gives the same bytes, another seed other weights', async () => {
    const a = await writeTestModel({ preset: 'tiny', out: join(dir, 'a.gguf'), seed: 7 });
    const b = await writeTestModel({ preset: 'tiny', out: join(dir, 'b.gguf'), seed: 7 });
    const c = await writeTestModel({ preset: 'tiny', out: join(dir, 'c.gguf'), seed: 8 });
    assert.equal(await sha256File(a.path), await sha256File(b.path));
    assert.notEqual(await sha256File(a.path), await sha256File(c.path));
    assert.equal(a.bytes, c.bytes);
  });

  it('gives the small preset the shape of SmolLM-135M', async () => {
    const info = await inspectModel(await testModelPath('small'));
    assert.deepEqual(info.hparams, {
      blockCount: 30, embeddingLength: 576, headCount: 9, headCountKv: 3,
      keyLength: null, valueLength: null, vocabSize: 49152,
    });
    assert.equal(info.params, expectedParams(TEST_MODEL_PRESETS.small));
    assert.equal(info.params, 162_826_560);
    assert.equal(info.quantization, 'Q4_0');
    const header = await readGgufHeader(info.path);
    const types = new Set(header.tensors.map((t) => `${t.dims.length}D ${t.typeName}`));
    assert.deepEqual([...types].sort(), ['1D F32', '2D Q4_0']);
  });
});

describe('test model vocabulary', () => {
  it('has every byte as a fallback token, so any text can be tokenized', () => {
    const { tokens, types } = buildVocabulary(1024);
    for (let b = 0; b < 256; b++) {
      const id = tokens.indexOf(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
      assert.ok(id >= 0, `byte ${b}`);
      assert.equal(types[id], 6);
    }
  });

  it('has exactly the requested size, with unique pieces, and special tokens at llama ids', () => {
    for (const size of [300, 1024, 49152]) {
      const { tokens, scores, types } = buildVocabulary(size);
      assert.equal(tokens.length, size);
      assert.equal(scores.length, size);
      assert.equal(types.length, size);
      assert.equal(new Set(tokens).size, size);
      assert.deepEqual(tokens.slice(0, 3), ['<unk>', '<s>', '</s>']);
    }
  });

  it('builds every multi-character piece from a shorter piece, as SPM merges need', () => {
    const { tokens } = buildVocabulary(4096);
    const set = new Set(tokens);
    for (const t of tokens.slice(261)) {
      const chars = [...t];
      if (chars.length > 2) assert.ok(set.has(chars.slice(0, -1).join('')), t);
    }
  });
});

describe('floatToHalf', () => {
  it('encodes IEEE binary16', () => {
    assert.equal(floatToHalf(1), 0x3c00);
    assert.equal(floatToHalf(-2), 0xc000);
    assert.equal(floatToHalf(0.5), 0x3800);
    assert.equal(floatToHalf(65504), 0x7bff);
    assert.equal(floatToHalf(1e6), 0x7c00);
    assert.equal(floatToHalf(0), 0);
    assert.equal(floatToHalf(2 ** -24), 0x0001);
    assert.equal(floatToHalf(1e-10), 0);
  });
});
