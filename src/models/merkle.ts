// The Merkle tree over a model file's fixed-size chunks, so each chunk fetched from a peer is
// checked on arrival against the root a manifest announced, before the whole file is there.
//
// Chunks: CHUNK_BYTES each, the last one shorter. Leaf i = sha256(0x00 ‖ chunk i); a parent =
// sha256(0x01 ‖ left ‖ right) (the prefixes keep a leaf from passing for a parent); a node
// without a sibling at the end of a level moves up unchanged. The root of an empty file is the
// leaf of the empty chunk. A proof is the siblings from the leaf up, skipping levels where the
// node had none; the verifier knows where those are from the leaf count.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** 1 MiB: the unit of transfer, verification and resume. */
export const CHUNK_BYTES = 1024 * 1024;

const leafHash = (chunk: Uint8Array) => createHash('sha256').update(Uint8Array.of(0)).update(chunk).digest();
const parentHash = (l: Uint8Array, r: Uint8Array) => createHash('sha256').update(Uint8Array.of(1)).update(l).update(r).digest();

export function chunkCount(size: number, chunkBytes = CHUNK_BYTES): number {
  return Math.max(1, Math.ceil(size / chunkBytes));
}

/** The tree's levels, leaves first, root last. */
function levels(leaves: readonly Buffer[]): Buffer[][] {
  const out: Buffer[][] = [[...leaves]];
  while (out.at(-1)!.length > 1) {
    const cur = out.at(-1)!;
    const next: Buffer[] = [];
    for (let i = 0; i < cur.length; i += 2) next.push(i + 1 < cur.length ? parentHash(cur[i]!, cur[i + 1]!) : cur[i]!);
    out.push(next);
  }
  return out;
}

/** A file's chunk hashes and what is derived from them. */
export class MerkleTree {
  private readonly tree: Buffer[][];
  constructor(readonly leaves: readonly Buffer[]) {
    if (leaves.length === 0) throw new RangeError('a Merkle tree needs at least one leaf');
    this.tree = levels(leaves);
  }

  get root(): string { return this.tree.at(-1)![0]!.toString('hex'); }

  /** The siblings chunk `index` is checked with (hex), leaf level first. */
  proof(index: number): string[] {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.leaves.length) throw new RangeError(`no chunk ${index} (${this.leaves.length} chunks)`);
    const out: string[] = [];
    let i = index;
    for (const level of this.tree.slice(0, -1)) {
      const sibling = i % 2 === 0 ? i + 1 : i - 1;
      if (sibling < level.length) out.push(level[sibling]!.toString('hex'));
      i = Math.floor(i / 2);
    }
    return out;
  }
}

/** Does `chunk` sit at `index` of a file of `leafCount` chunks whose tree has this root? */
export function verifyChunk(root: string, index: number, leafCount: number, chunk: Uint8Array, proof: readonly string[]): boolean {
  if (!Number.isSafeInteger(index) || index < 0 || index >= leafCount || !Array.isArray(proof)) return false;
  let hash = leafHash(chunk);
  let i = index;
  let width = leafCount;
  let used = 0;
  while (width > 1) {
    const sibling = i % 2 === 0 ? i + 1 : i - 1;
    if (sibling < width) {
      const s = proof[used++];
      if (typeof s !== 'string' || !/^[0-9a-f]{64}$/.test(s)) return false;
      const sib = Buffer.from(s, 'hex');
      hash = i % 2 === 0 ? parentHash(hash, sib) : parentHash(sib, hash);
    }
    i = Math.floor(i / 2);
    width = Math.ceil(width / 2);
  }
  return used === proof.length && hash.toString('hex') === root;
}

export interface HashedFile { sha256: string; size: number; tree: MerkleTree }

/** One read of a file: its sha256 and the Merkle tree of its chunks. */
export async function hashModelFile(path: string, chunkBytes = CHUNK_BYTES): Promise<HashedFile> {
  const whole = createHash('sha256');
  const leaves: Buffer[] = [];
  let size = 0;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for await (const data of createReadStream(path, { highWaterMark: chunkBytes })) {
    const buf = data as Buffer;
    whole.update(buf);
    size += buf.length;
    let off = 0;
    while (off < buf.length) {
      const take = Math.min(chunkBytes - pendingBytes, buf.length - off);
      pending.push(buf.subarray(off, off + take));
      pendingBytes += take;
      off += take;
      if (pendingBytes === chunkBytes) {
        leaves.push(leafHash(Buffer.concat(pending)));
        pending = [];
        pendingBytes = 0;
      }
    }
  }
  if (pendingBytes > 0 || leaves.length === 0) leaves.push(leafHash(Buffer.concat(pending)));
  return { sha256: whole.digest('hex'), size, tree: new MerkleTree(leaves) };
}
