// The model files a node pulled from its peers, in `<data_dir>/<node-id>/pulled/`: finished
// `<sha256>.gguf` files and partial `<sha256>.part` ones.
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** Bytes the pulled model files (finished `<sha256>.gguf` and partial `<sha256>.part`) take in `dir`. */
export async function pulledBytes(dir: string): Promise<number> {
  const names = await readdir(dir).catch(() => [] as string[]);
  let total = 0;
  for (const n of names) {
    if (!/^[0-9a-f]{64}\.(gguf|part)$/.test(n)) continue;
    total += (await stat(join(dir, n)).catch(() => ({ size: 0 }))).size;
  }
  return total;
}
