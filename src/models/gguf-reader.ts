// Reads a GGUF file's header (metadata and tensor infos, never the weights) with every count
// and length checked against the bytes actually present, so a hostile file fails fast and small.
//
// Why not node-llama-cpp's readGgufFileInfo (3.21.1): it allocates a buffer as large as whatever
// string length a file declares — a 60-byte file declaring a 2 GiB key allocates 2 GiB and then
// aborts the whole process on a native assertion in fs.read — and it materialises every array
// item, so it cannot be the gate in front of untrusted files.
import { open, stat, type FileHandle } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { ModelLoadError } from './errors.ts';
import {
  GGML_MAX_DIMS, GGML_MAX_NAME, GGML_TYPES, GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUF_SUPPORTED_VERSIONS,
  GGUF_VALUE_SIZE, GgufValueType, LLAMA_FILE_TYPES, alignUp, tensorByteSize,
} from './gguf-format.ts';

export type GgufScalar = number | bigint | boolean | string;

/** An array value; its items are kept only when short (vocabularies are counted, not kept). */
export interface GgufArray {
  readonly kind: 'array';
  readonly itemType: number;
  readonly length: number;
  readonly items: readonly GgufScalar[] | null;
}

/** A string value too long to keep (over 1 MiB); only its length is known. */
export interface GgufLongString {
  readonly kind: 'long-string';
  readonly bytes: number;
}

export type GgufMetadataValue = GgufScalar | GgufArray | GgufLongString;

export interface GgufTensorInfo {
  readonly name: string;
  /** ggml order: dims[0] is the row length. */
  readonly dims: readonly bigint[];
  readonly type: number;
  readonly typeName: string;
  readonly elements: bigint;
  /** Offset from the start of the data section. */
  readonly offset: bigint;
  readonly bytes: bigint;
}

export interface GgufHeader {
  readonly path: string;
  readonly fileBytes: number;
  readonly version: number;
  readonly alignment: number;
  readonly metadata: ReadonlyMap<string, GgufMetadataValue>;
  readonly tensors: readonly GgufTensorInfo[];
  /** Where tensor data starts in the file. */
  readonly dataOffset: number;
  /** The file size the tensor infos promise: the end of the last tensor's data. */
  readonly requiredFileBytes: bigint;
}

/** Limits past which a header is called absurd rather than read. */
export const GGUF_READ_LIMITS = {
  maxTensors: 1 << 20,
  maxMetadataEntries: 1 << 20,
  maxKeyBytes: 1 << 16,
  /** llama.cpp's GGUF_MAX_STRING_LENGTH. */
  maxStringBytes: 1 << 30,
  /** llama.cpp's GGUF_MAX_ARRAY_ELEMENTS. */
  maxArrayItems: 1 << 30,
  /** String arrays are walked item by item; real vocabularies and merge lists stay far below. */
  maxStringArrayItems: 1 << 24,
  keptStringBytes: 1 << 20,
  keptArrayItems: 256,
} as const;

const CHUNK_BYTES = 1 << 20;
/** Smallest encodings: key length + empty-ish key + type + 1-byte value; tensor info with no dims. */
const MIN_KV_BYTES = 8 + 1 + 4 + 1;
const MIN_TENSOR_INFO_BYTES = 8 + 1 + 4 + 4 + 8;
const INT64_MAX = (1n << 63n) - 1n;

class Truncated extends Error {}

/** Sequential little-endian reads through a 1 MiB window; never reads past the file's end. */
class FileCursor {
  pos = 0;
  private buf: Buffer = Buffer.alloc(0);
  private bufStart = 0;

  constructor(private readonly fh: FileHandle, readonly size: number) {}

  get remaining(): number {
    return this.size - this.pos;
  }

  has(n: number): boolean {
    return this.pos >= this.bufStart && this.pos + n <= this.bufStart + this.buf.length;
  }

  /** Makes the next n bytes readable; n must be small (≤ the kept-string limit). */
  async need(n: number, what: string): Promise<void> {
    if (n > this.remaining) throw new Truncated(what);
    if (this.has(n)) return;
    const length = Math.max(n, Math.min(CHUNK_BYTES, this.remaining));
    const buf = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.fh.read(buf, done, length - done, this.pos + done);
      if (bytesRead === 0) throw new Truncated(what); // the file shrank under us
      done += bytesRead;
    }
    this.buf = buf;
    this.bufStart = this.pos;
  }

  skip(n: number, what: string): void {
    if (n > this.remaining) throw new Truncated(what);
    this.pos += n;
  }

  private at(n: number): number {
    const off = this.pos - this.bufStart;
    this.pos += n;
    return off;
  }

  u8(): number { return this.buf.readUInt8(this.at(1)); }
  i8(): number { return this.buf.readInt8(this.at(1)); }
  u16(): number { return this.buf.readUInt16LE(this.at(2)); }
  i16(): number { return this.buf.readInt16LE(this.at(2)); }
  u32(): number { return this.buf.readUInt32LE(this.at(4)); }
  i32(): number { return this.buf.readInt32LE(this.at(4)); }
  f32(): number { return this.buf.readFloatLE(this.at(4)); }
  f64(): number { return this.buf.readDoubleLE(this.at(8)); }
  u64(): bigint { return this.buf.readBigUInt64LE(this.at(8)); }
  i64(): bigint { return this.buf.readBigInt64LE(this.at(8)); }
  bytes(n: number): Buffer { const off = this.at(n); return this.buf.subarray(off, off + n); }
}

/** Reads and checks a GGUF header. Throws ModelLoadError (unreadable / invalid_format). */
export async function readGgufHeader(filePath: string): Promise<GgufHeader> {
  const path = resolve(filePath);
  let fh: FileHandle;
  let fileBytes: number;
  try {
    const st = await stat(path);
    if (!st.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'ENOTFILE' });
    fileBytes = st.size;
    fh = await open(path, 'r');
  } catch (err) {
    throw unreadable(path, err);
  }
  try {
    return await parseHeader(new FileCursor(fh, fileBytes), path);
  } catch (err) {
    if (err instanceof Truncated) {
      throw ModelLoadError.invalidFormat(path, `truncated file: ${err.message} runs past the end of the file (${fileBytes} bytes)`);
    }
    if (err instanceof ModelLoadError) throw err;
    if (typeof (err as { code?: unknown }).code === 'string') throw unreadable(path, err); // an fs error
    throw ModelLoadError.invalidFormat(path, `unreadable header: ${(err as Error).message}`);
  } finally {
    await fh.close().catch(() => {});
  }
}

function unreadable(path: string, err: unknown): ModelLoadError {
  const code = (err as { code?: string }).code;
  const why = code === 'ENOENT' ? 'no such file'
    : code === 'EACCES' || code === 'EPERM' ? 'permission denied'
      : code === 'EISDIR' || code === 'ENOTFILE' ? 'not a regular file'
        : (err as Error).message ?? String(err);
  return new ModelLoadError('unreadable', path, `Model load error: cannot read model file ${path}: ${why}`, { cause: err });
}

async function parseHeader(r: FileCursor, path: string): Promise<GgufHeader> {
  const invalid = (what: string) => ModelLoadError.invalidFormat(path, what);

  // Magic first: a short file that is not GGUF at all is "bad magic", not "truncated".
  const magicBytes = Math.min(4, r.size);
  await r.need(magicBytes, 'magic');
  const magic = r.bytes(magicBytes);
  if (!Buffer.from(GGUF_MAGIC, 'latin1').subarray(0, magicBytes).equals(magic)) {
    throw invalid(`bad magic ${JSON.stringify(magic.toString('latin1'))} (0x${magic.toString('hex')}), expected "GGUF"`);
  }
  if (r.size < 24) throw invalid(`truncated header: ${r.size} bytes, a GGUF header needs at least 24`);

  await r.need(20, 'header');
  const version = r.u32();
  if (!GGUF_SUPPORTED_VERSIONS.includes(version)) {
    if (version === 1) throw invalid('unsupported GGUF version 1 (GGUF v1 is no longer supported by llama.cpp)');
    if (version !== 0 && (version & 0xffff) === 0) {
      throw invalid(`unsupported GGUF version ${version} (a byte-swapped version number: big-endian GGUF files are not supported)`);
    }
    throw invalid(`unsupported GGUF version ${version} (supported: ${GGUF_SUPPORTED_VERSIONS.join(', ')})`);
  }
  const tensorCount = r.u64();
  const kvCount = r.u64();
  if (kvCount > BigInt(GGUF_READ_LIMITS.maxMetadataEntries)) throw invalid(`absurd metadata entry count ${kvCount}`);
  if (tensorCount > BigInt(GGUF_READ_LIMITS.maxTensors)) throw invalid(`absurd tensor count ${tensorCount}`);
  // Each entry takes some bytes: counts the rest of the file cannot hold are refused before looping.
  const room = BigInt(r.remaining);
  if (kvCount * BigInt(MIN_KV_BYTES) > room) {
    throw invalid(`truncated or absurd header: ${kvCount} metadata entries cannot fit in the ${room} bytes left`);
  }
  if (kvCount * BigInt(MIN_KV_BYTES) + tensorCount * BigInt(MIN_TENSOR_INFO_BYTES) > room) {
    throw invalid(`truncated or absurd header: ${tensorCount} tensor infos cannot fit in the ${room} bytes left`);
  }

  const metadata = new Map<string, GgufMetadataValue>();
  const metadataTypes = new Map<string, number>();
  for (let i = 0; i < Number(kvCount); i++) {
    const key = await readString(r, GGUF_READ_LIMITS.maxKeyBytes, `metadata key #${i}`, invalid);
    if (typeof key !== 'string' || key.length === 0) throw invalid(`metadata key #${i} is empty or too long`);
    if (metadata.has(key)) throw invalid(`duplicate metadata key "${key}"`);
    await r.need(4, `type of metadata "${key}"`);
    const type = r.u32();
    metadata.set(key, await readValue(r, type, key, invalid));
    metadataTypes.set(key, type);
  }

  let alignment = GGUF_DEFAULT_ALIGNMENT;
  if (metadata.has('general.alignment')) {
    const value = metadata.get('general.alignment');
    if (metadataTypes.get('general.alignment') !== GgufValueType.UINT32 || typeof value !== 'number') {
      throw invalid('general.alignment must be a uint32');
    }
    if (value === 0 || (value & (value - 1)) !== 0) throw invalid(`alignment ${value} is not a power of 2`);
    alignment = value;
  }

  const tensors: GgufTensorInfo[] = [];
  const names = new Set<string>();
  let expectedOffset = 0n;
  let requiredData = 0n;
  for (let i = 0; i < Number(tensorCount); i++) {
    const name = await readString(r, GGML_MAX_NAME - 1, `name of tensor #${i}`, invalid);
    if (typeof name !== 'string') throw invalid(`tensor #${i} has a name longer than ${GGML_MAX_NAME - 1} bytes`);
    if (names.has(name)) throw invalid(`duplicate tensor name "${name}"`);
    names.add(name);
    await r.need(4, `dimensions of tensor "${name}"`);
    const nDims = r.u32();
    if (nDims > GGML_MAX_DIMS) throw invalid(`tensor "${name}" has ${nDims} dimensions (at most ${GGML_MAX_DIMS})`);
    await r.need(nDims * 8 + 12, `shape of tensor "${name}"`);
    const dims: bigint[] = [];
    let elements = 1n;
    for (let d = 0; d < nDims; d++) {
      const n = r.u64();
      if (n > INT64_MAX) throw invalid(`tensor "${name}" has a negative dimension`);
      dims.push(n);
      elements *= n;
    }
    if (elements > INT64_MAX) throw invalid(`tensor "${name}" has an absurd shape [${dims.join(', ')}]`);
    const type = r.u32();
    const traits = GGML_TYPES.get(type);
    if (!traits) throw invalid(`tensor "${name}" has unknown ggml type ${type}`);
    const rowLength = dims[0] ?? 1n;
    if (rowLength % BigInt(traits.blockSize) !== 0n) {
      throw invalid(`tensor "${name}" of type ${traits.name} has rows of ${rowLength}, not a multiple of ${traits.blockSize}`);
    }
    const offset = r.u64();
    if (offset !== expectedOffset) {
      throw invalid(`tensor "${name}" has data offset ${offset}, expected ${expectedOffset}`);
    }
    const bytes = tensorByteSize(traits, dims);
    tensors.push({ name, dims, type, typeName: traits.name, elements, offset, bytes });
    requiredData = offset + bytes;
    expectedOffset = ((offset + bytes + BigInt(alignment) - 1n) / BigInt(alignment)) * BigInt(alignment);
  }

  const dataOffset = alignUp(r.pos, alignment);
  return {
    path,
    fileBytes: r.size,
    version,
    alignment,
    metadata,
    tensors,
    dataOffset,
    requiredFileBytes: tensors.length === 0 ? BigInt(r.pos) : BigInt(dataOffset) + requiredData,
  };
}

/** A string of at most `max` bytes; longer strings (up to llama.cpp's limit) are skipped → null. */
async function readString(
  r: FileCursor, max: number, what: string, invalid: (w: string) => ModelLoadError,
): Promise<string | null> {
  if (!r.has(8)) await r.need(8, `length of ${what}`);
  const length = r.u64();
  if (length > BigInt(GGUF_READ_LIMITS.maxStringBytes)) throw invalid(`absurd length ${length} for ${what}`);
  if (length > BigInt(r.remaining)) throw new Truncated(`${what} (${length} bytes)`);
  const n = Number(length);
  if (n > max) {
    r.skip(n, what);
    return null;
  }
  if (!r.has(n)) await r.need(n, what);
  return r.bytes(n).toString('utf8');
}

function readFixed(r: FileCursor, type: number): GgufScalar {
  switch (type) {
    case GgufValueType.UINT8: return r.u8();
    case GgufValueType.INT8: return r.i8();
    case GgufValueType.UINT16: return r.u16();
    case GgufValueType.INT16: return r.i16();
    case GgufValueType.UINT32: return r.u32();
    case GgufValueType.INT32: return r.i32();
    case GgufValueType.FLOAT32: return r.f32();
    case GgufValueType.BOOL: return r.u8() !== 0;
    case GgufValueType.UINT64: return safeNumber(r.u64());
    case GgufValueType.INT64: return safeNumber(r.i64());
    case GgufValueType.FLOAT64: return r.f64();
    default: throw new Error(`not a fixed-size GGUF type: ${type}`);
  }
}

function safeNumber(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

async function readValue(
  r: FileCursor, type: number, key: string, invalid: (w: string) => ModelLoadError,
): Promise<GgufMetadataValue> {
  const what = `value of metadata "${key}"`;
  const size = GGUF_VALUE_SIZE[type];
  if (size !== undefined) {
    await r.need(size, what);
    return readFixed(r, type);
  }
  if (type === GgufValueType.STRING) {
    const before = r.pos;
    const s = await readString(r, GGUF_READ_LIMITS.keptStringBytes, what, invalid);
    return s ?? { kind: 'long-string', bytes: r.pos - before - 8 };
  }
  if (type !== GgufValueType.ARRAY) throw invalid(`metadata "${key}" has unknown value type ${type}`);

  await r.need(12, what);
  const itemType = r.u32();
  const length = r.u64();
  const itemSize = GGUF_VALUE_SIZE[itemType];
  if (itemType === GgufValueType.ARRAY) throw invalid(`metadata "${key}" is an array of arrays (not supported by llama.cpp)`);
  if (itemSize === undefined && itemType !== GgufValueType.STRING) {
    throw invalid(`metadata "${key}" is an array of unknown value type ${itemType}`);
  }
  const maxItems = itemType === GgufValueType.STRING ? GGUF_READ_LIMITS.maxStringArrayItems : GGUF_READ_LIMITS.maxArrayItems;
  if (length > BigInt(maxItems)) throw invalid(`absurd array length ${length} for metadata "${key}"`);
  const n = Number(length);
  // Every item takes at least its fixed size (or a string's 8-byte length): check before looping.
  if (n * (itemSize ?? 8) > r.remaining) throw new Truncated(`${what} (${n} items)`);
  const keep = n <= GGUF_READ_LIMITS.keptArrayItems;

  if (itemSize !== undefined) {
    if (!keep) {
      r.skip(n * itemSize, what);
      return { kind: 'array', itemType, length: n, items: null };
    }
    await r.need(n * itemSize, what);
    const items: GgufScalar[] = [];
    for (let i = 0; i < n; i++) items.push(readFixed(r, itemType));
    return { kind: 'array', itemType, length: n, items };
  }

  let items: GgufScalar[] | null = keep ? [] : null;
  for (let i = 0; i < n; i++) {
    if (items) {
      const s = await readString(r, GGUF_READ_LIMITS.keptStringBytes, what, invalid);
      if (s === null) items = null;
      else items.push(s);
      continue;
    }
    // Hot loop for vocabularies: skip string bodies, read only their lengths.
    if (!r.has(8)) await r.need(8, what);
    const len = r.u64();
    if (len > BigInt(GGUF_READ_LIMITS.maxStringBytes)) throw invalid(`absurd string length ${len} in metadata "${key}"`);
    r.skip(Number(len), what);
  }
  return { kind: 'array', itemType, length: n, items };
}

/** What the node needs to know about a model file, from its header alone. */
export interface ModelInfo {
  /** Absolute path. */
  readonly path: string;
  /** File name without `.gguf`. */
  readonly name: string;
  /** `general.name`, if the file has one. */
  readonly displayName: string | null;
  readonly architecture: string | null;
  readonly ggufVersion: number;
  /** Sum of the tensors' element counts. */
  readonly params: number;
  /** e.g. `Q4_0`, `Q4_K_M`, `F16`: from general.file_type, else the type holding most bytes. */
  readonly quantization: string;
  /** Training context length (`<arch>.context_length`), if declared. */
  readonly contextLength: number | null;
  readonly fileBytes: number;
  /** Written by `writeTestModel` (metadata `mvp.test_model = true`): random weights. */
  readonly testModel: boolean;
  readonly tensorCount: number;
  /** Shape facts for memory estimates; null where the file does not say. */
  readonly hparams: ModelHparams;
  /** The file size the header promises; a smaller file is truncated. */
  readonly requiredFileBytes: number;
}

export interface ModelHparams {
  readonly blockCount: number | null;
  readonly embeddingLength: number | null;
  readonly headCount: number | null;
  readonly headCountKv: number | null;
  readonly keyLength: number | null;
  readonly valueLength: number | null;
  readonly vocabSize: number | null;
}

/** Reads a model file's header and summarises it. Throws ModelLoadError. */
export async function inspectModel(path: string): Promise<ModelInfo> {
  return summarizeHeader(await readGgufHeader(path));
}

export function summarizeHeader(h: GgufHeader): ModelInfo {
  const str = (key: string): string | null => {
    const v = h.metadata.get(key);
    return typeof v === 'string' ? v : null;
  };
  const architecture = str('general.architecture');
  const num = (key: string): number | null => {
    const v = h.metadata.get(`${architecture}.${key}`);
    if (typeof v === 'number') return v;
    // Per-layer arrays (some architectures vary heads by layer): the largest layer bounds memory.
    if (typeof v === 'object' && v.kind === 'array' && v.items && v.items.length > 0) {
      const nums = v.items.filter((x): x is number => typeof x === 'number');
      return nums.length > 0 ? Math.max(...nums) : null;
    }
    return null;
  };
  const tokens = h.metadata.get('tokenizer.ggml.tokens');
  const fileType = h.metadata.get('general.file_type');

  let params = 0n;
  const bytesByType = new Map<string, bigint>();
  for (const t of h.tensors) {
    params += t.elements;
    bytesByType.set(t.typeName, (bytesByType.get(t.typeName) ?? 0n) + t.bytes);
  }
  let quantization = typeof fileType === 'number' ? LLAMA_FILE_TYPES.get(fileType) ?? null : null;
  if (!quantization) {
    let best: [string, bigint] | null = null;
    for (const entry of bytesByType) if (!best || entry[1] > best[1]) best = entry;
    quantization = best?.[0] ?? 'unknown';
  }

  return {
    path: h.path,
    name: basename(h.path).replace(/\.gguf$/i, ''),
    displayName: str('general.name'),
    architecture,
    ggufVersion: h.version,
    params: Number(params),
    quantization,
    contextLength: architecture ? num('context_length') : null,
    fileBytes: h.fileBytes,
    testModel: h.metadata.get('mvp.test_model') === true,
    tensorCount: h.tensors.length,
    hparams: {
      blockCount: num('block_count'),
      embeddingLength: num('embedding_length'),
      headCount: num('attention.head_count'),
      headCountKv: num('attention.head_count_kv') ?? num('attention.head_count'),
      keyLength: num('attention.key_length'),
      valueLength: num('attention.value_length'),
      vocabSize: num('vocab_size') ?? (typeof tokens === 'object' && tokens.kind === 'array' ? tokens.length : null),
    },
    requiredFileBytes: Number(h.requiredFileBytes),
  };
}
