// The Merkle tree over a model file's chunks: every chunk verifies with its proof at its index,
// and a changed byte, a wrong index, a truncated or padded proof, or another root fails.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from '../helpers/property.ts';
import { MerkleTree, chunkCount, hashModelFile, verifyChunk } from '../../src/models/merkle.ts';
import { tmpDir } from '../helpers/config.ts';

const leaf = (b: Uint8Array) => createHash('sha256').update(Uint8Array.of(0)).update(b).digest();

describe('model Merkle tree', () => {
  it('verifies every chunk of trees of any width with its proof, and nothing else', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 40 }), fc.nat(), (n, pick) => {
      const chunks = Array.from({ length: n }, (_, i) => Buffer.from(`chunk ${i} ${pick}`));
      const tree = new MerkleTree(chunks.map(leaf));
      for (let i = 0; i < n; i++) assert.ok(verifyChunk(tree.root, i, n, chunks[i]!, tree.proof(i)), `chunk ${i} of ${n}`);
      const i = pick % n;
      const proof = tree.proof(i);
      const bad = Buffer.from(chunks[i]!);
      bad[0] = bad[0]! ^ 1;
      assert.equal(verifyChunk(tree.root, i, n, bad, proof), false, 'a changed byte');
      if (n > 1) assert.equal(verifyChunk(tree.root, (i + 1) % n, n, chunks[i]!, proof), false, 'another index');
      assert.equal(verifyChunk(tree.root, i, n, chunks[i]!, [...proof, 'aa'.repeat(32)]), false, 'a padded proof');
      if (proof.length > 0) assert.equal(verifyChunk(tree.root, i, n, chunks[i]!, proof.slice(1)), false, 'a truncated proof');
      assert.equal(verifyChunk('00'.repeat(32), i, n, chunks[i]!, proof), false, 'another root');
      assert.equal(verifyChunk(tree.root, n, n, chunks[i]!, proof), false, 'an index past the end');
    }));
  });

  it('hashes a file in one read: its sha256, size and the tree of its 1 MiB chunks', async () => {
    const dir = tmpDir();
    for (const size of [0, 1, 1024 * 1024, 1024 * 1024 + 1, 3 * 1024 * 1024 - 7]) {
      const bytes = randomBytes(size);
      const file = join(dir, `f${size}`);
      writeFileSync(file, bytes);
      const h = await hashModelFile(file);
      assert.equal(h.sha256, createHash('sha256').update(bytes).digest('hex'));
      assert.equal(h.size, size);
      assert.equal(h.tree.leaves.length, chunkCount(size));
      const last = chunkCount(size) - 1;
      const chunk = bytes.subarray(last * 1024 * 1024);
      assert.ok(verifyChunk(h.tree.root, last, chunkCount(size), chunk, h.tree.proof(last)), `last chunk of ${size} bytes`);
    }
  });
});
