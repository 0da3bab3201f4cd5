// SHA-256 of model files, streamed (multi-GB files never sit in memory) and cached per
// (path, size, mtime) so a node hashing its model on every announce pays once.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ModelLoadError } from './errors.ts';

interface CacheEntry {
  readonly size: number;
  readonly mtimeMs: number;
  readonly digest: Promise<string>;
}

const cache = new Map<string, CacheEntry>();

/** Hex SHA-256 of a file. Concurrent calls for the same unchanged file share one read. */
export async function sha256File(filePath: string): Promise<string> {
  const path = resolve(filePath);
  let size: number;
  let mtimeMs: number;
  try {
    ({ size, mtimeMs } = await stat(path));
  } catch (err) {
    throw new ModelLoadError('unreadable', path, `Model load error: cannot read model file ${path}: ${(err as Error).message}`, { cause: err });
  }
  const hit = cache.get(path);
  if (hit && hit.size === size && hit.mtimeMs === mtimeMs) return hit.digest;

  const digest = hashStream(path);
  cache.set(path, { size, mtimeMs, digest });
  digest.catch(() => {
    if (cache.get(path)?.digest === digest) cache.delete(path);
  });
  return digest;
}

function hashStream(path: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const hash = createHash('sha256');
    createReadStream(path, { highWaterMark: 1 << 20 })
      .on('data', (chunk) => hash.update(chunk))
      .on('error', (err) => reject(new ModelLoadError('unreadable', path,
        `Model load error: cannot read model file ${path}: ${err.message}`, { cause: err })))
      .on('end', () => resolvePromise(hash.digest('hex')));
  });
}

/** Forgets cached digests (tests; or after replacing files within one mtime tick). */
export function clearSha256Cache(): void {
  cache.clear();
}
