// Writes GGUF files: metadata key/values, tensor infos, then aligned tensor data streamed one
// tensor at a time, so a 100 MB model never sits in memory as one buffer.
import { open, rename, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import {
  GGML_TYPES, GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GgufValueType, alignUp, tensorByteSize,
} from './gguf-format.ts';

export type GgufScalar = number | bigint | boolean | string;

export interface GgufKv {
  readonly key: string;
  readonly type: GgufValueType;
  /** For ARRAY: the item type and the items. */
  readonly value: GgufScalar | { readonly itemType: GgufValueType; readonly items: readonly GgufScalar[] };
}

/** Constructors for metadata entries, one per GGUF value type we write. */
export const gguf = {
  u32: (key: string, value: number): GgufKv => ({ key, type: GgufValueType.UINT32, value }),
  i32: (key: string, value: number): GgufKv => ({ key, type: GgufValueType.INT32, value }),
  u64: (key: string, value: bigint | number): GgufKv => ({ key, type: GgufValueType.UINT64, value: BigInt(value) }),
  f32: (key: string, value: number): GgufKv => ({ key, type: GgufValueType.FLOAT32, value }),
  bool: (key: string, value: boolean): GgufKv => ({ key, type: GgufValueType.BOOL, value }),
  str: (key: string, value: string): GgufKv => ({ key, type: GgufValueType.STRING, value }),
  array: (key: string, itemType: GgufValueType, items: readonly GgufScalar[]): GgufKv =>
    ({ key, type: GgufValueType.ARRAY, value: { itemType, items } }),
};

export interface GgufTensorSpec {
  readonly name: string;
  /** ggml order: dims[0] is the row length (innermost). */
  readonly dims: readonly (number | bigint)[];
  readonly type: number;
  /** Produces exactly the tensor's bytes; called once, when the tensor is written. */
  readonly data?: () => Uint8Array;
}

export interface WriteGgufOptions {
  readonly version?: number;
  readonly alignment?: number;
  readonly metadata: readonly GgufKv[];
  readonly tensors: readonly GgufTensorSpec[];
  /** Write the header only (tensor infos declare data that is absent): for validator tests. */
  readonly omitTensorData?: boolean;
}

/** Writes a GGUF file atomically (temporary file, then rename); returns its size in bytes. */
export async function writeGguf(out: string, options: WriteGgufOptions): Promise<{ bytes: number }> {
  const alignment = options.alignment ?? GGUF_DEFAULT_ALIGNMENT;
  const metadata = [...options.metadata];
  if (alignment !== GGUF_DEFAULT_ALIGNMENT && !metadata.some((m) => m.key === 'general.alignment')) {
    metadata.push(gguf.u32('general.alignment', alignment));
  }

  const layout = layoutTensors(options.tensors, alignment);
  const header = encodeHeader(options.version ?? 3, metadata, options.tensors, layout.offsets);
  const dataStart = alignUp(header.length, alignment);

  const tmp = `${out}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const fh = await open(tmp, 'w');
  let bytes = 0;
  try {
    const write = async (chunk: Uint8Array): Promise<void> => {
      let done = 0;
      while (done < chunk.length) {
        const { bytesWritten } = await fh.write(chunk, done, chunk.length - done);
        done += bytesWritten;
      }
      bytes += chunk.length;
    };
    await write(header);
    await write(Buffer.alloc(dataStart - header.length));
    if (!options.omitTensorData) {
      for (const [i, tensor] of options.tensors.entries()) {
        const size = layout.sizes[i]!;
        const data = tensor.data?.() ?? new Uint8Array(size);
        if (data.length !== size) {
          throw new Error(`tensor ${tensor.name}: data has ${data.length} bytes, its shape needs ${size}`);
        }
        await write(data);
        await write(Buffer.alloc(alignUp(size, alignment) - size));
      }
    }
    await fh.close();
  } catch (err) {
    await fh.close().catch(() => {});
    await rm(tmp, { force: true });
    throw err;
  }
  await rename(tmp, out);
  return { bytes };
}

function layoutTensors(tensors: readonly GgufTensorSpec[], alignment: number) {
  const offsets: bigint[] = [];
  const sizes: number[] = [];
  let offset = 0n;
  for (const t of tensors) {
    const traits = GGML_TYPES.get(t.type);
    if (!traits) throw new Error(`tensor ${t.name}: unknown ggml type ${t.type}`);
    const dims = t.dims.map(BigInt);
    if (dims[0]! % BigInt(traits.blockSize) !== 0n) {
      throw new Error(`tensor ${t.name}: row length ${dims[0]} is not a multiple of ${traits.name}'s block size`);
    }
    const size = tensorByteSize(traits, dims);
    offsets.push(offset);
    sizes.push(Number(size));
    offset += ((size + BigInt(alignment) - 1n) / BigInt(alignment)) * BigInt(alignment);
  }
  return { offsets, sizes };
}

/** Appends little-endian values to a list of chunks. */
class ByteSink {
  private readonly chunks: Buffer[] = [];
  length = 0;

  push(buf: Buffer): void {
    this.chunks.push(buf);
    this.length += buf.length;
  }

  u32(v: number): void { const b = Buffer.allocUnsafe(4); b.writeUInt32LE(v); this.push(b); }
  u64(v: bigint | number): void { const b = Buffer.allocUnsafe(8); b.writeBigUInt64LE(BigInt(v)); this.push(b); }
  string(s: string): void {
    const bytes = Buffer.from(s, 'utf8');
    this.u64(bytes.length);
    this.push(bytes);
  }

  scalar(type: GgufValueType, v: GgufScalar): void {
    const b = Buffer.allocUnsafe(8);
    switch (type) {
      case GgufValueType.UINT8: b.writeUInt8(Number(v)); return this.push(b.subarray(0, 1));
      case GgufValueType.INT8: b.writeInt8(Number(v)); return this.push(b.subarray(0, 1));
      case GgufValueType.UINT16: b.writeUInt16LE(Number(v)); return this.push(b.subarray(0, 2));
      case GgufValueType.INT16: b.writeInt16LE(Number(v)); return this.push(b.subarray(0, 2));
      case GgufValueType.UINT32: b.writeUInt32LE(Number(v)); return this.push(b.subarray(0, 4));
      case GgufValueType.INT32: b.writeInt32LE(Number(v)); return this.push(b.subarray(0, 4));
      case GgufValueType.FLOAT32: b.writeFloatLE(Number(v)); return this.push(b.subarray(0, 4));
      case GgufValueType.BOOL: b.writeUInt8(v ? 1 : 0); return this.push(b.subarray(0, 1));
      case GgufValueType.UINT64: b.writeBigUInt64LE(BigInt(v)); return this.push(b);
      case GgufValueType.INT64: b.writeBigInt64LE(BigInt(v)); return this.push(b);
      case GgufValueType.FLOAT64: b.writeDoubleLE(Number(v)); return this.push(b);
      case GgufValueType.STRING: return this.string(String(v));
      default: throw new Error(`cannot encode GGUF value type ${type} as a scalar`);
    }
  }

  /** Numeric arrays are packed into one buffer: a 50 000-entry vocabulary stays fast. */
  array(itemType: GgufValueType, items: readonly GgufScalar[]): void {
    this.u32(itemType);
    this.u64(items.length);
    if (itemType === GgufValueType.FLOAT32 || itemType === GgufValueType.INT32 || itemType === GgufValueType.UINT32) {
      const b = Buffer.allocUnsafe(items.length * 4);
      for (let i = 0; i < items.length; i++) {
        const v = Number(items[i]);
        if (itemType === GgufValueType.FLOAT32) b.writeFloatLE(v, i * 4);
        else if (itemType === GgufValueType.INT32) b.writeInt32LE(v, i * 4);
        else b.writeUInt32LE(v, i * 4);
      }
      this.push(b);
      return;
    }
    for (const item of items) this.scalar(itemType, item);
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.chunks, this.length);
  }
}

function encodeHeader(
  version: number, metadata: readonly GgufKv[], tensors: readonly GgufTensorSpec[], offsets: readonly bigint[],
): Buffer {
  const sink = new ByteSink();
  sink.push(Buffer.from(GGUF_MAGIC, 'latin1'));
  sink.u32(version);
  sink.u64(tensors.length);
  sink.u64(metadata.length);
  for (const kv of metadata) {
    sink.string(kv.key);
    sink.u32(kv.type);
    if (kv.type === GgufValueType.ARRAY) {
      const { itemType, items } = kv.value as { itemType: GgufValueType; items: readonly GgufScalar[] };
      sink.array(itemType, items);
    } else {
      sink.scalar(kv.type, kv.value as GgufScalar);
    }
  }
  for (const [i, t] of tensors.entries()) {
    sink.string(t.name);
    sink.u32(t.dims.length);
    for (const d of t.dims) sink.u64(d);
    sink.u32(t.type);
    sink.u64(offsets[i]!);
  }
  return sink.toBuffer();
}
