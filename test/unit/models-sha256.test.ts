// sha256File: streamed digests, cached while a file's (path, size, mtime) stays the same.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clearSha256Cache, sha256File } from '../../src/models/sha256.ts';
import { tinyTestModelPath } from '../helpers/test-model.ts';

describe('sha256File', () => {
  let dir: string;
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'mvp-sha256-')); });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  it('is the SHA-256 of the file contents', async () => {
    const path = await tinyTestModelPath();
    const expected = createHash('sha256').update(await readFile(path)).digest('hex');
    assert.equal(await sha256File(path), expected);
  });

  it('reuses the digest while size and mtime are unchanged, and recomputes when they change', async () => {
    clearSha256Cache();
    const path = join(dir, 'model.bin');
    const mtime = new Date('2024-01-01T00:00:00Z');
    await writeFile(path, 'aaaa');
    await utimes(path, mtime, mtime);
    const first = await sha256File(path);

    // Same size, same mtime: the cached digest is returned (the file is not read again).
    await writeFile(path, 'bbbb');
    await utimes(path, mtime, mtime);
    assert.equal(await sha256File(path), first);

    await utimes(path, mtime, new Date(mtime.getTime() + 5000));
    assert.equal(await sha256File(path), createHash('sha256').update('bbbb').digest('hex'));

    await writeFile(path, 'ccccc');
    await utimes(path, mtime, mtime);
    assert.equal(await sha256File(path), createHash('sha256').update('ccccc').digest('hex'));
  });

  it('shares one read between concurrent calls', async () => {
    clearSha256Cache();
    const path = await tinyTestModelPath();
    const [a, b] = await Promise.all([sha256File(path), sha256File(path)]);
    assert.equal(a, b);
  });

  it('refuses a missing file with a ModelLoadError naming it', async () => {
    const path = join(dir, 'missing.gguf');
    await assert.rejects(sha256File(path), (err: Error & { code?: string; reason?: string }) => {
      assert.equal(err.name, 'ModelLoadError');
      assert.equal(err.code, 'invalid_model');
      assert.equal(err.reason, 'unreadable');
      assert.ok(err.message.includes(path));
      return true;
    });
  });
});
