// validateModel: the gate before the native loader. Malformed, hostile, oversized and
// memory-hungry files are refused with a clean error, quickly, without reading tensor data.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelLoadError, ResourceExhaustedError } from '../../src/models/errors.ts';
import { GgmlType, GgufValueType } from '../../src/models/gguf-format.ts';
import { inspectModel } from '../../src/models/gguf-reader.ts';
import { gguf, writeGguf } from '../../src/models/gguf-writer.ts';
import { validateModel } from '../../src/models/validate.ts';
import { tinyTestModelPath } from '../helpers/test-model.ts';

let dir: string;
let tinyPath: string;
let tiny: Buffer;
let fileNo = 0;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mvp-gguf-validate-'));
  tinyPath = await tinyTestModelPath();
  tiny = await readFile(tinyPath);
});
after(async () => { await rm(dir, { recursive: true, force: true }); });

async function fileOf(bytes: Uint8Array): Promise<string> {
  const path = join(dir, `f${fileNo++}.gguf`);
  await writeFile(path, bytes);
  return path;
}

async function rejectsWith(
  path: string, reason: ModelLoadError['reason'], fragment: RegExp, options?: Parameters<typeof validateModel>[1],
): Promise<void> {
  await assert.rejects(validateModel(path, options), (err: unknown) => {
    assert.ok(err instanceof ModelLoadError, `expected a ModelLoadError, got ${String(err)}`);
    assert.equal(err.name, 'ModelLoadError');
    assert.equal(err.code, 'invalid_model');
    assert.equal(err.reason, reason);
    if (reason === 'invalid_format') assert.match(err.message, /^Model load error: Invalid model format/);
    else assert.match(err.message, /^Model load error: /);
    assert.match(err.message, fragment);
    return true;
  });
}

/** Little-endian GGUF fragments for hand-made hostile headers. */
const le = {
  u32: (v: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(v); return b; },
  u64: (v: bigint | number) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); return b; },
  str: (s: string) => Buffer.concat([le.u64(Buffer.byteLength(s)), Buffer.from(s)]),
};
function header(tensors: bigint | number, kvs: bigint | number, ...rest: Buffer[]): Buffer {
  return Buffer.concat([Buffer.from('GGUF'), le.u32(3), le.u64(tensors), le.u64(kvs), ...rest, Buffer.alloc(64)]);
}

describe('validateModel accepts', () => {
  it('the tiny test model, with a memory estimate', async () => {
    const model = await validateModel(tinyPath);
    assert.equal(model.architecture, 'llama');
    assert.equal(model.testModel, true);
    assert.ok(model.memory.kvCacheBytes > 0);
    assert.equal(model.memory.totalBytes,
      model.memory.weightsBytes + model.memory.kvCacheBytes + model.memory.overheadBytes);
  });

  it('GGUF v2, which llama.cpp still loads (same layout as v3)', async () => {
    const v2 = Buffer.from(tiny);
    v2.writeUInt32LE(2, 4);
    assert.equal((await validateModel(await fileOf(v2))).ggufVersion, 2);
  });

  it('a model with exactly maxParams parameters (one fewer refuses it)', async () => {
    const { params } = await inspectModel(tinyPath);
    assert.equal((await validateModel(tinyPath, { maxParams: params })).params, params);
    await assert.rejects(validateModel(tinyPath, { maxParams: params - 1 }), /parameters/);
  });

  it('a non-test model (no mvp.test_model key) and reports it as such', async () => {
    const path = join(dir, 'plain.gguf');
    await writeGguf(path, {
      metadata: [gguf.str('general.architecture', 'llama'), gguf.u32('llama.context_length', 512)],
      tensors: [{ name: 'w', dims: [32, 4], type: GgmlType.F32 }],
    });
    const info = await validateModel(path);
    assert.equal(info.testModel, false);
    assert.equal(info.contextLength, 512);
    assert.equal(info.quantization, 'F32');
    assert.equal(info.params, 128);
  });
});

describe('validateModel refuses', () => {
  it('a missing file, naming its path', async () => {
    const path = join(dir, 'does-not-exist.gguf');
    await rejectsWith(path, 'unreadable', new RegExp(`${path}.*no such file`));
  });

  it('a directory', async () => {
    const path = join(dir, 'a-directory.gguf');
    await mkdir(path);
    await rejectsWith(path, 'unreadable', /not a regular file/);
  });

  it('files with a bad magic', async () => {
    await rejectsWith(await fileOf(Buffer.concat([Buffer.from('PK\x03\x04'), tiny.subarray(4)])), 'invalid_format', /bad magic/);
    await rejectsWith(await fileOf(Buffer.from('hello world, not a model\n')), 'invalid_format', /bad magic/);
    await rejectsWith(await fileOf(Buffer.from('GGML')), 'invalid_format', /bad magic/);
  });

  it('files too short for a header', async () => {
    await rejectsWith(await fileOf(Buffer.alloc(0)), 'invalid_format', /truncated header: 0 bytes/);
    await rejectsWith(await fileOf(Buffer.from('GG')), 'invalid_format', /truncated header/);
    await rejectsWith(await fileOf(tiny.subarray(0, 23)), 'invalid_format', /truncated header/);
  });

  it('unsupported versions: v1, v0, v4 and byte-swapped (big-endian) v3', async () => {
    const withVersion = (v: number) => { const b = Buffer.from(tiny); b.writeUInt32LE(v, 4); return b; };
    await rejectsWith(await fileOf(withVersion(1)), 'invalid_format', /unsupported GGUF version 1 /);
    await rejectsWith(await fileOf(withVersion(0)), 'invalid_format', /unsupported GGUF version 0 /);
    await rejectsWith(await fileOf(withVersion(4)), 'invalid_format', /unsupported GGUF version 4 /);
    await rejectsWith(await fileOf(withVersion(0x03000000)), 'invalid_format', /big-endian/);
  });

  it('the test model truncated anywhere: header, metadata, tensor infos or data', async () => {
    const cuts = new Set<number>();
    for (let at = 24; at < 30_000; at += 173) cuts.add(at);
    for (const at of [tiny.length - 1, tiny.length - 4096, Math.floor(tiny.length / 2)]) cuts.add(at);
    for (const at of [...cuts].sort((a, b) => a - b)) {
      await rejectsWith(await fileOf(tiny.subarray(0, at)), 'invalid_format', /truncated/);
    }
  });

  it('a header-only file declaring more than 7B parameters, before looking for its data', async () => {
    const path = join(dir, 'fake-8b.gguf');
    await writeGguf(path, {
      metadata: [gguf.str('general.architecture', 'llama'), gguf.u32('llama.context_length', 4096)],
      tensors: [
        { name: 'token_embd.weight', dims: [4096, 32000], type: GgmlType.Q4_0 },
        { name: 'blk.0.ffn_up.weight', dims: [4096, 1_953_125], type: GgmlType.Q4_0 },
      ],
      omitTensorData: true,
    });
    await rejectsWith(path, 'too_large', /model too large: 8131072000 parameters \(8\.13B\), the limit is 7000000000 \(7B\)/);
    // The data really is absent: with a higher limit the same file is refused as truncated.
    await rejectsWith(path, 'invalid_format', /truncated file: tensor data needs \d+ bytes/, { maxParams: 1e10 });
  });

  it('a model just over a lower maxParams', async () => {
    const { params } = await inspectModel(tinyPath);
    await rejectsWith(tinyPath, 'too_large', new RegExp(`${params} parameters`), { maxParams: params - 1 });
  });

  it('a file with no tensors', async () => {
    const path = join(dir, 'empty-model.gguf');
    await writeGguf(path, { metadata: [gguf.str('general.architecture', 'llama')], tensors: [] });
    await rejectsWith(path, 'invalid_format', /no tensors/);
  });

  it('a model that needs more memory than is free', async () => {
    await assert.rejects(validateModel(tinyPath, { freeMemBytes: 1024 * 1024 }), (err: unknown) => {
      assert.ok(err instanceof ResourceExhaustedError);
      assert.equal(err.name, 'ResourceExhaustedError');
      assert.match(err.message, /^Resource exhausted: memory \(model needs ~\d+ MiB, 1 MiB free\)$/);
      assert.ok(err.neededBytes > err.availableBytes);
      return true;
    });
  });

  it('a longer context than memory allows, though the default fits', async () => {
    const { memory } = await validateModel(tinyPath, { contextLength: 2048 });
    await validateModel(tinyPath, { freeMemBytes: memory.totalBytes });
    await assert.rejects(validateModel(tinyPath, { freeMemBytes: memory.totalBytes, contextLength: 1 << 20 }),
      { name: 'ResourceExhaustedError' });
  });
});

describe('validateModel on hostile headers', { timeout: 10_000 }, () => {
  const kv = (key: string, type: number, ...value: Buffer[]) => Buffer.concat([le.str(key), le.u32(type), ...value]);
  const tensorInfo = (name: string, dims: (bigint | number)[], type: number, offset = 0) =>
    Buffer.concat([le.str(name), le.u32(dims.length), ...dims.map((d) => le.u64(d)), le.u32(type), le.u64(offset)]);

  const cases: [string, Buffer, RegExp][] = [
    ['a key length of 2^62', header(0, 1, le.u64(2n ** 62n)), /absurd length 4611686018427387904 for metadata key #0/],
    ['a key length past the end of the file', header(0, 1, le.u64(1_000_000)), /truncated/],
    ['a string value of 2^40 bytes', header(0, 1, kv('k', GgufValueType.STRING, le.u64(2n ** 40n))), /absurd length/],
    ['2^63 metadata entries', header(0, 2n ** 63n), /absurd metadata entry count 9223372036854775808/],
    ['2^40 tensors', header(2n ** 40n, 0), /absurd tensor count 1099511627776/],
    ['more tensors than the file could describe', header(1000, 0), /1000 tensor infos cannot fit in the 64 bytes left/],
    ['a string array of 2^40 items', header(0, 1, kv('a', GgufValueType.ARRAY, le.u32(GgufValueType.STRING), le.u64(2n ** 40n))),
      /absurd array length/],
    ['a string array longer than the file', header(0, 1, kv('a', GgufValueType.ARRAY, le.u32(GgufValueType.STRING), le.u64(1_000_000))),
      /truncated/],
    ['a byte array longer than the file', header(0, 1, kv('a', GgufValueType.ARRAY, le.u32(GgufValueType.UINT8), le.u64(2n ** 29n))),
      /truncated/],
    ['an array of arrays', header(0, 1, kv('a', GgufValueType.ARRAY, le.u32(GgufValueType.ARRAY), le.u64(1))), /array of arrays/],
    ['an unknown value type', header(0, 1, kv('k', 99, le.u32(0))), /unknown value type 99/],
    ['a duplicate key', header(0, 2, kv('k', GgufValueType.UINT8, Buffer.from([1])), kv('k', GgufValueType.UINT8, Buffer.from([1]))),
      /duplicate metadata key "k"/],
    ['an alignment that is not a power of 2', header(0, 1, kv('general.alignment', GgufValueType.UINT32, le.u32(24))),
      /alignment 24 is not a power of 2/],
    ['a tensor with 1000 dimensions', header(1, 0, le.str('t'), le.u32(1000)), /1000 dimensions/],
    ['a tensor of 2^62 × 2^62 elements', header(1, 0, tensorInfo('t', [2n ** 62n, 2n ** 62n], GgmlType.F32)), /absurd shape/],
    ['a tensor of a removed ggml type', header(1, 0, tensorInfo('t', [32], 31)), /unknown ggml type 31/],
    ['a Q4_0 row that is not a whole number of blocks', header(1, 0, tensorInfo('t', [33], GgmlType.Q4_0)), /not a multiple of 32/],
    ['a tensor whose data offset leaves a gap', header(1, 0, tensorInfo('t', [32], GgmlType.F32, 4096)), /offset 4096, expected 0/],
    ['a tensor name of 64 bytes', header(1, 0, tensorInfo('x'.repeat(64), [32], GgmlType.F32)), /name longer than 63/],
  ];

  for (const [what, bytes, fragment] of cases) {
    it(`refuses ${what}`, async () => {
      const before = process.memoryUsage().arrayBuffers;
      await rejectsWith(await fileOf(bytes), 'invalid_format', fragment);
      // Nothing the size of a declared length was ever allocated.
      assert.ok(process.memoryUsage().arrayBuffers - before < 64 * 1024 * 1024);
    });
  }
});
