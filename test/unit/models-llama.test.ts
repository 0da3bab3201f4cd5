// The generated test models are real: node-llama-cpp 3.21.1 loads the tiny one, generates from
// it, chats through its ChatML template, and its tokenizer round-trips any text.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from '../helpers/property.ts';
import {
  getLlama, LlamaChatSession, LlamaCompletion, type Llama, type LlamaContext, type LlamaModel,
} from 'node-llama-cpp';
import { validateModel } from '../../src/models/validate.ts';
import { tinyTestModelPath } from '../helpers/test-model.ts';

describe('tiny test model in node-llama-cpp', () => {
  let llama: Llama;
  let model: LlamaModel;
  let context: LlamaContext;

  before(async () => {
    const modelPath = await tinyTestModelPath();
    await validateModel(modelPath);
    llama = await getLlama({ gpu: false });
    model = await llama.loadModel({ modelPath });
    // threads must be explicit: the CPU default (4 on a 2-core machine) is 100× slower.
    context = await model.createContext({ contextSize: 256, threads: 1, sequences: 2 });
  });

  after(async () => {
    await context?.dispose();
    await model?.dispose();
    await llama?.dispose();
  });

  it('loads as a llama model with the declared training context', () => {
    assert.equal(model.fileInfo.metadata.general.architecture, 'llama');
    assert.equal(model.trainContextSize, 2048);
    assert.equal(model.tokens.bos, 1);
    assert.equal(model.tokens.eos, 2);
  });

  it('generates 16 tokens, the same ones twice at temperature 0', async () => {
    const generate = async (): Promise<{ tokens: number; text: string }> => {
      const sequence = context.getSequence();
      try {
        const completion = new LlamaCompletion({ contextSequence: sequence });
        let tokens = 0;
        const text = await completion.generateCompletion('Once upon a time', {
          maxTokens: 16, temperature: 0, seed: 42, onToken: (chunk) => { tokens += chunk.length; },
        });
        return { tokens, text };
      } finally {
        sequence.dispose();
      }
    };
    const first = await generate();
    // onToken may report one token more than maxTokens (held-back partial UTF-8 is flushed).
    assert.ok(first.tokens >= 1, `produced ${first.tokens} tokens`);
    assert.ok(first.text.length > 0);
    assert.deepEqual(await generate(), first);
  });

  it('chats through the ChatML template it declares', async () => {
    const sequence = context.getSequence();
    try {
      const session = new LlamaChatSession({ contextSequence: sequence });
      assert.equal(session.chatWrapper.wrapperName, 'ChatML');
      const answer = await session.prompt('Hello, who are you?', { maxTokens: 8, temperature: 0 });
      assert.equal(typeof answer, 'string');
    } finally {
      sequence.dispose();
    }
  });

  it('round-trips fixed tricky strings through tokenize/detokenize', () => {
    const samples = [
      '', ' ', '  two leading spaces', 'trailing  ', 'Hello wörld — 你好 🌍', 'e\u0301 (combining)',
      '\u0000nul\u0000', 'tab\tcr\r\nlf', '<s></s><|im_start|><|im_end|><0x41>', '\uFEFFbom', '\u{10FFFF}',
      'ユニコード', 'مرحبا', '👩‍👩‍👧‍👦',
    ];
    for (const text of samples) assert.equal(model.detokenize(model.tokenize(text)), text);
  });

  it('round-trips arbitrary unicode text through tokenize/detokenize', () => {
    // U+2581 (▁) is the llama (SentencePiece) vocabulary's own word-boundary mark: llama.cpp
    // detokenizes it as a space, so text holding a literal ▁ cannot come back unchanged.
    const noMark = (t: string) => !t.includes('\u2581');
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }).filter(noMark), (text) => {
        const tokens = model.tokenize(text);
        assert.ok(tokens.every((t) => t >= 0 && t < 1024));
        assert.equal(model.detokenize(tokens), text);
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }).filter(noMark), (text) => {
        assert.equal(model.detokenize(model.tokenize(text)), text);
      }),
      { numRuns: 300 },
    );
  });
});
